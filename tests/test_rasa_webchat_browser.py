"""A standard Rasa web client against the socket.io channel: rasa-webchat 1.0.1 from npm (the
React widget most Rasa sites embed), in Debian's Chromium driven by Playwright, as a patient
sees it. Its bundle (node_modules/rasa-webchat/lib/index.js, a devDependency) is served with
a clinic page at the demo page's origin, which the test assistant's WIDGET_ORIGINS allows.
Screenshots go to test-output/screenshots/rasa-webchat-*.png.
"""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine

from assistant.knowledge.query import topic_titles
from assistant.reply_texts import load_reply_texts
from assistant.settings import PROJECT_ROOT
from tests.helpers import RED_FLAG, VAGUE_MESSAGES

WEBCHAT_BUNDLE = PROJECT_ROOT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
TIMEOUT = 30_000  # ms: a turn goes through NLU, triage and the action server
UNREADABLE = "could not read that message"
TEXTS = load_reply_texts()
DISCLAIMER = TEXTS.notices["disclaimer"]
EMERGENCY_NUMBER = TEXTS.contacts.as_placeholders()["emergency_number"]

# A clinic's page embedding rasa-webchat as its README shows. Its onSocketEvent option
# also hands the page the events the widget gets, for the test to wait on and check:
# every bot_uttered message and the turn_summary, which rasa-webchat itself ignores.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Riverside Spine Clinic</title></head>
<body><h1>Riverside Spine Clinic</h1><p>Questions about your vertebroplasty or kyphoplasty?</p>
<script src="rasa-webchat.js"></script>
<script>
  window.botUttered = [];
  window.turnSummaries = [];
  window.WebChat.default({
    socketUrl: %(server)s,
    socketPath: "/socket.io/",
    title: "Ask about your spine procedure",
    params: {storage: "local"},
    onSocketEvent: {
      bot_uttered: function (message) { window.botUttered.push(message); },
      turn_summary: function (summary) { window.turnSummaries.push(summary); }
    }
  }, null);
</script>
</body></html>
"""

expect.set_options(timeout=TIMEOUT)


@pytest.fixture
def webchat_page(browser, assistant):
    """The clinic page with rasa-webchat, in a fresh browser context (empty localStorage)."""
    if not WEBCHAT_BUNDLE.is_file():
        pytest.fail(f"{WEBCHAT_BUNDLE} is missing: `make build/web/.built` runs `npm ci`.")
    page_url = f"{assistant.web_url}/rasa-webchat.html"
    body = PAGE % {"server": json.dumps(assistant.url)}
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    # Playwright serves the page itself, so Chromium does not know it is on this machine and
    # would refuse it the socket to the assistant on 127.0.0.1 (Local Network Access).
    context.grant_permissions(["local-network-access"], origin=assistant.web_url)
    context.set_default_timeout(TIMEOUT)

    def serve(route):
        if route.request.url.split("?")[0].endswith("/rasa-webchat.js"):
            route.fulfill(body=WEBCHAT_BUNDLE.read_bytes(), content_type="text/javascript")
        else:
            route.fulfill(body=body, content_type="text/html")

    context.route(f"{assistant.web_url}/rasa-webchat.*", serve)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(page_url)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"rasa-webchat-{name}.png"))


def bot_bubbles(page: Page):
    return page.locator(".rw-response .rw-message-text")


def conversation(page: Page) -> list[tuple[str, str]]:
    """Every bubble in order, as (who, text), who being "you" or "bot"."""
    return [tuple(pair) for pair in page.evaluate(
        """() => [...document.querySelectorAll('.rw-message')].map(message => [
            message.querySelector('.rw-client') ? 'you' : 'bot',
            message.innerText.trim()])"""
    )]


def open_chat(page: Page) -> None:
    """Open the chat as a patient does (it sends rasa-webchat's init message, without text)
    and wait for the disclaimer, which the widget shows a moment after it arrives."""
    with page.expect_console_message(lambda message: message.text.startswith("sending init payload")):
        page.locator(".rw-launcher").click()
    expect(page.locator(".rw-new-message")).to_be_visible()
    expect(bot_bubbles(page)).to_have_text([DISCLAIMER])


def turn_counts(page: Page) -> tuple[int, int, int]:
    return (bot_bubbles(page).count(), page.evaluate("window.turnSummaries.length"),
            page.evaluate("window.botUttered.length"))


def wait_for_turn(page: Page, before: tuple[int, int, int]) -> tuple[dict, list[str]]:
    """Wait for the turn's summary and for every message of the turn to be shown (the widget
    shows them one by one, a moment apart); return the summary and the bubbles' texts."""
    bubbles, summaries, received = before
    page.wait_for_function("n => window.turnSummaries.length > n", arg=summaries)
    received = page.evaluate("window.botUttered.length") - received
    assert received, "the turn brought no bot_uttered message"
    # rasa-webchat silently drops a message it does not know how to show.
    expect(bot_bubbles(page), "not every message of the turn is shown").to_have_count(bubbles + received)
    summary = page.evaluate("window.turnSummaries[window.turnSummaries.length - 1]")
    return summary, [text.strip() for text in bot_bubbles(page).all_inner_texts()[bubbles:]]


def ask(page: Page, text: str) -> tuple[dict, list[str]]:
    """Type a message as a patient does; return the turn's summary and bubbles once shown."""
    before = turn_counts(page)
    field = page.locator(".rw-new-message")
    field.fill(text)
    field.press("Enter")
    expect(page.locator(".rw-client .rw-message-text").last).to_have_text(text)
    return wait_for_turn(page, before)


def assert_no_empty_or_error_bubble(page: Page) -> None:
    shown = conversation(page)
    assert shown and all(text for _, text in shown), shown
    assert not any(UNREADABLE in text for _, text in shown), shown
    assert [text for _, text in shown].count(DISCLAIMER) == 1, shown
    assert page.errors == []


def session_id(page: Page) -> str:
    return json.loads(page.evaluate("localStorage.getItem('chat_session')"))["session_id"]


# ---------------------------------------------------------------- against the live assistant


def test_first_load_shows_the_disclaimer_and_a_question_gets_its_answer_with_sources(webchat_page):
    page = webchat_page
    open_chat(page)
    question = "how long does kyphoplasty take?"
    summary, shown = ask(page, question)
    assert (summary["type"], summary["topic"], summary["procedure"]) == ("answer", "duration", "kyphoplasty")
    assert len(shown) == 1 and "hour" in shown[0], shown
    assert "Source: " in shown[0] and "Vertebroplasty and Kyphoplasty" in shown[0], shown
    # The disclaimer, then the question: nothing answered the init message.
    assert conversation(page)[:2] == [("bot", DISCLAIMER), ("you", question)]
    shot(page, "answer")
    assert_no_empty_or_error_bubble(page)


def test_a_reported_red_flag_shows_the_advice_first(webchat_page):
    page = webchat_page
    open_chat(page)
    summary, shown = ask(page, RED_FLAG)
    assert (summary["type"], summary["urgency"]) == ("triage", "emergency"), summary
    advice = shown[0]
    assert "chest pain" in advice and EMERGENCY_NUMBER in advice, shown
    assert conversation(page)[-len(shown) - 1] == ("you", RED_FLAG)
    shot(page, "red-flag")
    assert_no_empty_or_error_bubble(page)


def test_a_vague_message_shows_suggestions_and_a_click_answers_that_topic(webchat_page, knowledge_db_url):
    page = webchat_page
    open_chat(page)
    for message in VAGUE_MESSAGES:
        ask(page, message)
        if page.locator(".rw-reply").count():
            break
    else:
        pytest.fail(f"the trained model offered no suggestions for {VAGUE_MESSAGES}")
    shot(page, "suggestions")
    choice = page.locator(".rw-reply").last
    title = choice.inner_text().strip()
    topic_of_title = {name: topic for topic, name in topic_titles(create_engine(knowledge_db_url)).items()}
    assert title in topic_of_title, title

    before = turn_counts(page)
    choice.click()
    expect(page.locator(".rw-client .rw-message-text").last).to_have_text(title)
    summary, shown = wait_for_turn(page, before)
    assert (summary["type"], summary["topic"]) == ("answer", topic_of_title[title]), summary
    assert "Source: " in shown[0], shown
    shot(page, "suggestion-answered")
    assert_no_empty_or_error_bubble(page)


def test_the_conversation_survives_a_reload_and_continues(webchat_page):
    page = webchat_page
    open_chat(page)
    question = "how long does kyphoplasty take?"
    _, (answer,) = ask(page, question)
    session = session_id(page)
    shown_before = conversation(page)

    page.reload()
    # The same session, the earlier messages shown again, the chat still open.
    expect(page.locator(".rw-new-message")).to_be_visible()
    expect(bot_bubbles(page)).to_have_count(len([who for who, _ in shown_before if who == "bot"]))
    assert conversation(page) == shown_before
    assert session_id(page) == session

    summary, shown = ask(page, "and vertebroplasty?")
    # Same conversation on the server: the same topic, for the other procedure.
    assert (summary["type"], summary["topic"], summary["procedure"]) == ("answer", "duration", "vertebroplasty")
    assert "Source: " in shown[0], shown
    assert session_id(page) == session
    shot(page, "after-reload")
    assert_no_empty_or_error_bubble(page)
