"""The website chat widget (web/) in a real browser: Debian's Chromium driven by Playwright.

Most tests run the demo page (build/web, served by the `assistant` fixture) against the
running assistant. One test replaces socket.io with a scripted stand-in, for what the
live assistant does not produce on demand (its messages built as the server builds them):
suggestion buttons, urgent (amber) advice, bot text with markup, a lost and regained
connection. Screenshots go to test-output/screenshots/.
"""
from __future__ import annotations

import filecmp
import json
import mimetypes
import re
import socket

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from assistant.render import widget_message
from assistant.settings import PROJECT_ROOT
from tests.helpers import VAGUE_MESSAGES

WEB_SOURCE = PROJECT_ROOT / "web"
WEB_BUILD = PROJECT_ROOT / "build" / "web"
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
TIMEOUT = 30_000  # ms: a turn goes through NLU, triage and the action server
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
OFFLINE_TEXT = "Can't reach the assistant right now. Retrying..."

expect.set_options(timeout=TIMEOUT)


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module", autouse=True)
def built_web():
    """The demo page as `make` builds it, up to date with web/."""
    stale = [
        source.name for source in WEB_SOURCE.iterdir()
        if source.is_file() and not (
            (WEB_BUILD / source.name).exists() and filecmp.cmp(source, WEB_BUILD / source.name, shallow=False)
        )
    ]
    if stale or not (WEB_BUILD / "socket.io.min.js").exists():
        pytest.fail(f"build/web is missing or older than web/ ({', '.join(stale) or 'socket.io.min.js'}): "
                    "run `make build/web/.built`.")


@pytest.fixture
def new_page(browser):
    """Pages in a fresh browser context each (empty localStorage); closed after the test."""
    contexts = []

    def make(viewport: dict = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def demo_url(assistant) -> str:
    return f"{assistant.web_url}/index.html?server={assistant.url}"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def open_widget(page: Page) -> None:
    page.locator(".sa-launcher").click()
    expect(page.locator(".sa-panel")).to_be_visible()
    expect(page.locator("[data-disclaimer]")).to_contain_text("not medical advice")


def bot_rows(page: Page):
    return page.locator(".sa-log > .sa-row--bot")


def ask(page: Page, text: str, *, keyboard: bool = False) -> None:
    """Send a message and wait until the assistant has answered it."""
    before = bot_rows(page).count()
    field = page.locator(".sa-input")
    if keyboard:
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    else:
        field.fill(text)
        field.press("Enter")
    expect(page.locator(".sa-row--user .sa-msg-text").last).to_have_text(text)
    try:
        page.wait_for_function(
            "n => document.querySelectorAll('.sa-log > .sa-row--bot').length > n", arg=before, timeout=TIMEOUT
        )
    except PlaywrightTimeoutError:
        pytest.fail(f"No reply to {text!r} within {TIMEOUT // 1000} s: the server's bot_uttered events "
                    "did not reach the page (is the socket joined to the session's room?)")


def wait_for_sources(page: Page):
    """The sources line under the latest answer (it arrives right after the answer text)."""
    sources = page.locator(".sa-log > .sa-row--bot").last.locator(".sa-sources")
    expect(sources).to_be_visible()
    return sources


def focused_class(page: Page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.className : ''")


# ---------------------------------------------------------------- against the live assistant


def test_question_gets_an_answer_with_its_sources(assistant, new_page):
    page = new_page()
    page.goto(demo_url(assistant))
    expect(page.get_by_role("heading", name=re.compile("kyphoplasty clinic visits", re.I))).to_be_visible()
    open_widget(page)
    expect(page.locator(".sa-input")).to_be_focused()

    ask(page, "how long does kyphoplasty take?")
    answer = bot_rows(page).last
    expect(answer.locator(".sa-msg-text")).to_contain_text(re.compile("hour|minute", re.I))
    sources = wait_for_sources(page)
    expect(sources).to_contain_text("Vertebroplasty and Kyphoplasty")
    # The "Source: ..." message is a line under the answer, not a bubble of its own...
    expect(page.locator(".sa-msg", has_text="Source:")).to_have_count(0)
    # ...and the disclaimer that ends the first reply is not shown a second time.
    expect(page.locator(".sa-log").get_by_text("It is not medical advice")).to_have_count(1)
    expect(page.locator(".sa-typing")).to_be_hidden()
    shot(page, "widget-answer")
    assert page.errors == []


def test_reported_red_flag_gets_the_emergency_style_and_a_phone_link(assistant, new_page):
    page = new_page()
    page.goto(demo_url(assistant))
    open_widget(page)

    ask(page, "I had kyphoplasty yesterday and now I have chest pain")
    advice = page.locator(".sa-msg[data-urgency='emergency']")
    expect(advice).to_have_count(1)
    expect(advice).to_have_class(re.compile(r"\bsa-msg--emergency\b"))
    expect(advice).to_have_attribute("role", "alert")
    expect(advice).to_contain_text("chest pain")
    expect(advice.locator(".sa-urgency-label")).to_have_text("Emergency")
    call = advice.locator("a[href^='tel:']").first
    expect(call).to_have_attribute("href", "tel:911")
    # The advice is the first message of the turn.
    user_row = page.locator(".sa-row--user").last
    assert user_row.evaluate("row => row.nextElementSibling.querySelector('[data-urgency]') !== null")
    advice.scroll_into_view_if_needed()
    shot(page, "widget-emergency")
    assert page.errors == []


def test_conversation_survives_a_reload_and_continues(assistant, new_page):
    page = new_page()
    turn_summaries = []

    def watch(socket):
        def received(payload):
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            if text.startswith('42["turn_summary"'):
                turn_summaries.append(json.loads(text[2:])[1])
        socket.on("framereceived", received)

    page.on("websocket", watch)
    page.goto(demo_url(assistant))
    open_widget(page)
    ask(page, "how long does kyphoplasty take?")
    wait_for_sources(page)
    session = page.evaluate("localStorage.getItem('spineAssistant.session')")
    assert session
    answer_text = bot_rows(page).last.locator(".sa-msg-text").inner_text()

    page.reload()
    # The panel was open: it opens again, with the same conversation.
    expect(page.locator(".sa-panel")).to_be_visible()
    expect(page.locator(".sa-row--user .sa-msg-text")).to_have_text(["how long does kyphoplasty take?"])
    expect(bot_rows(page).last.locator(".sa-msg-text")).to_have_text(answer_text)
    expect(bot_rows(page).last.locator(".sa-sources")).to_contain_text("Vertebroplasty and Kyphoplasty")
    expect(page.locator("[data-disclaimer]")).to_have_count(1)

    ask(page, "and vertebroplasty?")
    wait_for_sources(page)
    expect(page.locator(".sa-row--user")).to_have_count(2)
    assert page.evaluate("localStorage.getItem('spineAssistant.session')") == session
    # Same conversation on the server: the follow-up answers the same topic for the other procedure.
    for _ in range(100):  # the turn's summary comes right after the sources line
        if len(turn_summaries) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(turn_summaries) == 2, turn_summaries
    assert turn_summaries[-1]["type"] == "answer", turn_summaries
    assert turn_summaries[-1]["topic"] == "duration", turn_summaries
    assert turn_summaries[-1]["procedure"] == "vertebroplasty", turn_summaries
    expect(page.locator("[data-disclaimer]")).to_have_count(1)
    assert page.errors == []


def test_keyboard_only(assistant, new_page):
    page = new_page()
    page.goto(demo_url(assistant))
    launcher = page.locator(".sa-launcher")
    expect(launcher).to_be_visible()
    for _ in range(40):
        page.keyboard.press("Tab")
        if "sa-launcher" in focused_class(page):
            break
    expect(launcher).to_be_focused()
    expect(page.get_by_role("button", name="Ask a question")).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

    page.keyboard.press("Enter")
    expect(page.locator("[data-disclaimer]")).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.locator(".sa-input")).to_be_focused()
    ask(page, "what is vertebroplasty?", keyboard=True)
    wait_for_sources(page)
    expect(page.locator(".sa-input")).to_be_focused()

    expect(page.get_by_role("button", name="Close chat")).to_have_count(2)  # the panel's and the launcher
    page.keyboard.press("Escape")
    expect(page.locator(".sa-panel")).to_be_hidden()
    expect(launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".sa-panel")).to_be_visible()
    expect(page.locator(".sa-input")).to_be_focused()
    expect(page.locator(".sa-row--user")).to_have_count(1)
    shot(page, "widget-keyboard")
    assert page.errors == []


def test_keyboard_reaches_live_suggestion_buttons(assistant, new_page):
    page = new_page()
    page.goto(demo_url(assistant))
    open_widget(page)
    for prompt in VAGUE_MESSAGES:
        ask(page, prompt, keyboard=True)
        page.wait_for_timeout(1000)  # the buttons come with the turn's first message; let the turn finish
        if page.locator(".sa-quick-reply").count():
            break
    else:
        pytest.fail(f"the trained model offered no suggestion buttons for {VAGUE_MESSAGES}")
    buttons = page.locator(".sa-quick-reply")
    title = buttons.last.inner_text()
    expect(page.locator(".sa-input")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # from the input back to the last suggestion
    expect(buttons.last).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".sa-row--user .sa-msg-text").last).to_have_text(title)
    expect(page.locator(".sa-quick-reply")).to_have_count(0)
    expect(page.locator(".sa-input")).to_be_focused()
    wait_for_sources(page)
    assert page.errors == []


def test_markup_in_a_message_shows_as_text(assistant, new_page):
    page = new_page()
    page.goto(demo_url(assistant))
    open_widget(page)
    attack = "<img src=x onerror=window.__xss=1>"
    ask(page, attack)
    expect(page.locator(".sa-row--user .sa-msg-text").last).to_have_text(attack)
    expect(page.locator(".sa-root img")).to_have_count(0)
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__xss") == "undefined"
    # Also after a reload, from the stored transcript.
    page.reload()
    expect(page.locator(".sa-row--user .sa-msg-text").last).to_have_text(attack)
    expect(page.locator(".sa-root img")).to_have_count(0)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.errors == []


def test_panel_fits_a_360_px_screen(assistant, new_page):
    page = new_page(PHONE)
    page.goto(demo_url(assistant))
    open_widget(page)
    ask(page, "does kyphoplasty hurt?")
    wait_for_sources(page)
    panel = page.locator(".sa-panel").bounding_box()
    assert panel["x"] >= 0 and panel["y"] >= 0, panel
    assert panel["x"] + panel["width"] <= PHONE["width"] + 0.5, panel
    assert panel["width"] >= PHONE["width"] - 0.5, panel  # full width
    assert panel["y"] + panel["height"] <= PHONE["height"] + 0.5, panel
    for part in (".sa-input", ".sa-send", ".sa-close"):
        box = page.locator(part).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (part, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (part, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(
        "[...document.querySelectorAll('.sa-msg')].every(m => m.getBoundingClientRect().right <= innerWidth)"
    )
    shot(page, "widget-mobile-360")
    page.locator(".sa-close").click()
    expect(page.locator(".sa-panel")).to_be_hidden()
    expect(page.locator(".sa-launcher")).to_be_visible()
    assert page.errors == []


def test_unreachable_server_shows_a_status_message(assistant, new_page):
    page = new_page()
    page.goto(f"{assistant.web_url}/index.html?server=http://127.0.0.1:{free_port()}")
    page.locator(".sa-launcher").click()
    status = page.locator(".sa-status")
    expect(status).to_have_text(OFFLINE_TEXT)
    expect(status).to_have_attribute("role", "status")
    shot(page, "widget-offline")


# ---------------------------------------------------------------- scripted server

# A stand-in for socket.io.min.js: records what the widget emits and lets the test
# play the server's side (window.__server.fire(event, data)).
FAKE_SOCKET_IO = """
window.__server = {emitted: [], socket: null, fire: function (event, data) {
  (this.handlers[event] || []).forEach(function (handler) { handler(data); });
}, handlers: {}};
window.io = function (url, options) {
  var server = window.__server;
  server.url = url;
  server.options = options;
  server.socket = {
    connected: false,
    on: function (event, handler) { (server.handlers[event] = server.handlers[event] || []).push(handler); return this; },
    emit: function (event, data) { server.emitted.push([event, data]); return this; },
    connect: function () { return this; }
  };
  return server.socket;
};
"""
DEMO_ORIGIN = "http://widget.test"


def serve_build_with_fake_socket(page: Page) -> None:
    def handle(route):
        name = route.request.url.split("?")[0].rsplit("/", 1)[-1] or "index.html"
        if name == "socket.io.min.js":
            route.fulfill(body=FAKE_SOCKET_IO, content_type="text/javascript")
            return
        path = WEB_BUILD / name
        if path.is_file():
            route.fulfill(body=path.read_bytes(), content_type=mimetypes.guess_type(name)[0] or "text/plain")
        else:
            route.fulfill(status=404, body="not found")

    page.route(f"{DEMO_ORIGIN}/**", handle)


def fire(page: Page, event: str, data=None) -> None:
    page.evaluate("([event, data]) => window.__server.fire(event, data)", [event, data])


def connect(page: Page) -> None:
    page.evaluate("window.__server.socket.connected = true")
    fire(page, "connect")


def emitted(page: Page) -> list:
    return page.evaluate("window.__server.emitted")


def test_scripted_server_messages(new_page):
    page = new_page()
    page.clock.install()
    serve_build_with_fake_socket(page)
    page.goto(f"{DEMO_ORIGIN}/index.html?server=http://127.0.0.1:5999")
    page.locator(".sa-launcher").click()
    page.wait_for_function("window.__server && window.__server.socket")
    assert page.evaluate("window.__server.url") == "http://127.0.0.1:5999"
    assert page.evaluate("window.__server.options.path") == "/socket.io"

    # Session start: a new session, then the disclaimer.
    connect(page)
    assert emitted(page) == [["session_request", {"session_id": None}]]
    fire(page, "session_confirm", "session-0123456789")
    disclaimer = "I share general information. It is not medical advice. In an emergency, call 911."
    fire(page, "bot_uttered", widget_message({"role": "disclaimer", "notice": "disclaimer", "text": disclaimer}))
    expect(page.locator("[data-disclaimer]")).to_have_text(disclaimer)
    assert page.evaluate("localStorage.getItem('spineAssistant.session')") == "session-0123456789"

    # Suggestion buttons: reachable by keyboard; the payload is sent, the title shown.
    page.locator(".sa-input").fill("blorp fizzle wug")
    page.keyboard.press("Enter")
    expect(page.locator(".sa-typing")).to_be_visible()
    assert emitted(page)[-1] == ["user_uttered", {"message": "blorp fizzle wug", "session_id": "session-0123456789"}]
    fire(page, "bot_uttered", widget_message({
        "role": "message", "text": "I am not sure I understood. Did you mean one of these?",
        "options": [("Recovery", "1"), ("Risks <b>and</b> side effects", "2")],
    }))
    expect(page.locator(".sa-typing")).to_be_hidden()
    fire(page, "turn_summary", {"type": "fallback", "topic": None, "procedure": None, "urgency": "routine", "sources": []})
    # The first reply's disclaimer, by its role: not shown twice.
    fire(page, "bot_uttered", widget_message({"role": "disclaimer", "notice": "disclaimer", "text": disclaimer}))
    expect(page.get_by_text(disclaimer)).to_have_count(1)
    buttons = page.locator(".sa-quick-reply")
    expect(buttons).to_have_text(["Recovery", "Risks <b>and</b> side effects"])
    expect(page.locator(".sa-quick-replies")).to_have_attribute("role", "group")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(buttons.first).to_be_focused()
    shot(page, "widget-suggestions")
    page.keyboard.press("Enter")
    assert emitted(page)[-1] == ["user_uttered", {"message": "1", "session_id": "session-0123456789"}]
    expect(page.locator(".sa-row--user .sa-msg-text").last).to_have_text("Recovery")
    expect(page.locator(".sa-quick-reply")).to_have_count(0)
    expect(page.locator(".sa-input")).to_be_focused()

    # The typing indicator gives up after about 8 s without a reply.
    expect(page.locator(".sa-typing")).to_be_visible()
    page.clock.fast_forward(9000)
    expect(page.locator(".sa-typing")).to_be_hidden()

    # Urgent advice: amber, labelled, an alert, with phone links; the answer after it keeps its sources.
    page.locator(".sa-input").fill("my back is red and swollen since the kyphoplasty")
    page.keyboard.press("Enter")
    advice = ("You mentioned redness and swelling. Please contact your doctor today, or call the "
              "Riverside Spine Clinic nurse line at 555-0100. If you think it is an emergency, call 911.")
    fire(page, "bot_uttered", widget_message({"role": "advice", "urgency": "urgent", "text": advice}))
    body = "Most people go home the same day. <script>window.__xss=1</script>"
    sources = ["Vertebroplasty and Kyphoplasty", "Vertebral Augmentation"]
    fire(page, "bot_uttered", widget_message({"role": "answer", "text": f"{body}\n\nSource: {'; '.join(sources)}",
                                              "body": body, "sources": sources}))
    fire(page, "turn_summary", {"type": "triage", "topic": "recovery", "procedure": "kyphoplasty",
                                "urgency": "urgent", "sources": ["health_library"]})
    urgent = page.locator(".sa-msg[data-urgency='urgent']")
    expect(urgent).to_have_class(re.compile(r"\bsa-msg--urgent\b"))
    expect(urgent).to_have_attribute("role", "alert")
    expect(urgent.locator(".sa-urgency-label")).to_have_text("Contact your doctor today")
    expect(urgent.locator("a")).to_have_count(2)
    assert urgent.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))") == [
        "tel:5550100", "tel:911"]
    answer = bot_rows(page).last
    expect(answer.locator(".sa-msg-text")).to_have_text(
        "Most people go home the same day. <script>window.__xss=1</script>")
    expect(answer.locator(".sa-sources")).to_have_text(
        "Sources: Vertebroplasty and Kyphoplasty; Vertebral Augmentation")
    expect(page.locator(".sa-msg", has_text="Source:")).to_have_count(0)
    # Phone numbers become links only in triage advice.
    expect(page.locator(".sa-msg:not([data-urgency]) a")).to_have_count(0)
    assert page.evaluate("typeof window.__xss") == "undefined"
    urgent.scroll_into_view_if_needed()
    shot(page, "widget-urgent")

    # Connection lost: a status message; socket.io retries by itself; gone once reconnected.
    page.evaluate("window.__server.socket.connected = false")
    fire(page, "disconnect", "transport close")
    expect(page.locator(".sa-status")).to_have_text(OFFLINE_TEXT)
    page.locator(".sa-input").fill("are you there?")
    page.keyboard.press("Enter")
    expect(page.locator(".sa-typing")).to_be_hidden()  # nothing was sent yet
    assert emitted(page)[-1][0] != "user_uttered" or emitted(page)[-1][1]["message"] != "are you there?"
    connect(page)
    expect(page.locator(".sa-status")).to_be_hidden()
    assert emitted(page)[-1] == ["session_request", {"session_id": "session-0123456789"}]
    fire(page, "session_confirm", "session-0123456789")
    # The message typed while offline goes out once the session is back.
    assert emitted(page)[-1] == ["user_uttered", {"message": "are you there?", "session_id": "session-0123456789"}]
    expect(page.locator(".sa-typing")).to_be_visible()

    # The styles are stored with the transcript.
    stored = json.loads(page.evaluate("localStorage.getItem('spineAssistant.transcript')"))
    assert [entry.get("urgency") for entry in stored if entry.get("urgency")] == ["urgent"]
    page.reload()
    expect(page.locator(".sa-msg[data-urgency='urgent'] a[href='tel:911']")).to_be_visible()
    expect(bot_rows(page).last.locator(".sa-sources")).to_contain_text("Vertebral Augmentation")
    assert page.errors == []
