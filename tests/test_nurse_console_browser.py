"""The nurse-line console (web/nurse.html) in a real browser: Debian's Chromium driven by Playwright.

The page is served by the Rasa server at /webhooks/nurse/ and talks to the nurse API next to
it. A patient's red-flag message sent through the REST channel queues an escalation; the
console signs in, finds it, reads its transcript, marks it handled and finds it again by
its note; the "Caller says" box assesses a caller's words. Screenshots go to
test-output/screenshots/nurse-*.png.
"""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from assistant.settings import PROJECT_ROOT
from tests.helpers import RED_FLAG

SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
TIMEOUT = 30_000  # ms: an assessment goes through the NLU model
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
TOKEN_KEY = "nurseLineToken"
MARKUP = '<img src=x onerror="window.__pwned=1"> thanks'
CALLER = "caller says she has a fever since yesterday's kyphoplasty"

expect.set_options(timeout=TIMEOUT)


@pytest.fixture
def new_page(browser):
    """A page in a fresh browser context (empty storage), recording API requests and errors."""
    contexts = []

    def make(viewport: dict = DESKTOP) -> Page:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.api_requests = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda message: message.type == "error"
                and not message.text.startswith("Failed to load resource")
                and page.errors.append(message.text))
        page.on("request", lambda request: "/webhooks/nurse/api/" in request.url
                and page.api_requests.append(request))
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page: Page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"nurse-{name}.png"), full_page=full_page)


def console_url(assistant) -> str:
    return f"{assistant.url}/webhooks/nurse/"


def sign_in(page: Page, token: str) -> None:
    page.get_by_label("Nurse-line token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def queue_row(page: Page, sender: str):
    return page.locator("#queue-rows tr").filter(has=page.get_by_role("button", name=sender, exact=True))


def stored_token(page: Page):
    return page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')")


def test_queue_transcript_handling_search_and_assessment(assistant, new_page):
    sender = f"console-{uuid.uuid4().hex[:10]}"
    assistant.send(sender, RED_FLAG)
    assistant.send(sender, MARKUP)
    ref = uuid.uuid4().hex[:8]
    note = f"Called back, ambulance on its way (ref {ref})"

    page = new_page()
    page.goto(console_url(assistant))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Nurse-line token")).to_have_attribute("type", "password")
    expect(page.get_by_label("Nurse-line token")).to_be_focused()
    shot(page, "signin")

    # A wrong token is refused and nothing is kept.
    sign_in(page, "not-the-token")
    expect(page.locator("#signin-error")).to_contain_text("That token was not accepted")
    expect(page.locator("#console")).to_be_hidden()
    assert stored_token(page) is None
    shot(page, "signin-refused")

    # The right one: kept for the tab only, never in localStorage or the URL.
    sign_in(page, assistant.nurse_token)
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    assert stored_token(page) == assistant.nurse_token
    assert page.evaluate("localStorage.length") == 0
    assert assistant.nurse_token not in page.url

    row = queue_row(page, sender)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Emergency")
    expect(row).to_contain_text("Triage")
    expect(row).to_contain_text("REST")
    expect(row).to_contain_text("Chest pain")
    # Most urgent first, as the API returns them.
    urgencies = page.locator("#queue-rows tr .badge--emergency, #queue-rows tr .badge--urgent, "
                             "#queue-rows tr .badge--routine").all_inner_texts()
    order = ["EMERGENCY", "URGENT", "ROUTINE"]
    ranks = [order.index(text.strip().upper()) for text in urgencies]
    assert ranks == sorted(ranks)
    shot(page, "queue")

    # Open it with the keyboard: the transcript shows the patient's words, markup as text.
    row.get_by_role("button", name=sender, exact=True).focus()
    page.keyboard.press("Enter")
    transcript = page.locator("#transcript")
    expect(transcript.locator("li[data-from=patient]").first).to_contain_text(RED_FLAG)
    expect(transcript.locator("li[data-from=patient]").nth(1)).to_contain_text(MARKUP)
    expect(transcript.locator("li[data-from=assistant]").first).to_be_visible()
    expect(page.locator("#details-sender")).to_have_text(sender)
    assert transcript.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
    expect(page.locator("#details-title")).to_be_focused()
    shot(page, "transcript", full_page=True)

    # Mark it handled with a note: it leaves the open queue.
    page.get_by_label("Note for the record").fill(note)
    page.get_by_role("button", name="Mark handled").click()
    expect(page.locator("#details-status")).to_contain_text("marked handled")
    expect(page.locator("#handled-note")).to_have_text(note)
    expect(queue_row(page, sender)).to_have_count(0)

    # Found again among all escalations by a word of the note.
    page.get_by_label("Status", exact=True).select_option("all")
    page.get_by_label("Search", exact=True).fill(ref)
    page.get_by_label("Search", exact=True).press("Enter")
    expect(page.locator("#queue-rows tr[data-id]")).to_have_count(1)
    row = queue_row(page, sender)
    expect(row).to_contain_text("Handled")
    expect(page.locator("#queue-count")).to_contain_text(ref)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "handled-search")

    # The caller box: fever after kyphoplasty is urgent, with the leaflet answer and sources.
    page.get_by_label("What the caller says").fill(CALLER)
    page.get_by_role("button", name="Assess").click()
    expect(page.locator("#assess-urgency")).to_have_text(re.compile(r"^urgent$", re.I))
    expect(page.locator("#assess-urgency-banner")).to_have_attribute("data-urgency", "urgent")
    expect(page.locator("#assess-signs")).to_contain_text("fever")
    expect(page.locator("#assess-words")).to_contain_text("fever")
    expect(page.locator("#assess-action")).to_contain_text("today")
    expect(page.locator("#assess-procedure")).to_have_text("Kyphoplasty")
    expect(page.locator("#assess-answer-title")).not_to_be_empty()
    expect(page.locator("#assess-answer-text")).not_to_be_empty()
    expect(page.locator("#assess-sources li").first).to_be_visible()
    expect(page.locator("#assess-next li")).to_have_count(2)
    page.locator("#caller").scroll_into_view_if_needed()
    shot(page, "assess-urgent", full_page=True)

    # Every API call carried the bearer token; none put it in the URL.
    assert page.api_requests
    for request in page.api_requests:
        assert request.headers.get("authorization", "").startswith("Bearer ")
        assert assistant.nurse_token not in request.url
    assert any(r.headers["authorization"] == f"Bearer {assistant.nurse_token}" for r in page.api_requests)

    # Signing out forgets the token and the patient data on the page.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Nurse-line token")).to_be_visible()
    assert stored_token(page) is None
    expect(page.locator("#queue-rows tr")).to_have_count(0)
    expect(page.locator("#transcript")).to_have_count(0)
    expect(page.locator("#assess-result")).to_be_hidden()
    assert page.errors == []


def test_a_token_no_longer_accepted_returns_to_sign_in(assistant, new_page):
    page = new_page()
    page.goto(console_url(assistant))
    sign_in(page, assistant.nurse_token)
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    # The tab still holds a token the server refuses (e.g. it was rotated): back to sign in.
    page.evaluate(f"sessionStorage.setItem('{TOKEN_KEY}', 'rotated-away')")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#signin-error")).to_contain_text("That token was not accepted")
    expect(page.locator("#console")).to_be_hidden()
    assert stored_token(page) is None
    # A reload with a good token in the tab goes straight to the console.
    page.evaluate(f"sessionStorage.setItem('{TOKEN_KEY}', '{assistant.nurse_token}')")
    page.reload()
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    assert page.errors == []


def test_console_fits_a_360_px_screen(assistant, new_page):
    sender = f"console-{uuid.uuid4().hex[:10]}"
    assistant.send(sender, RED_FLAG)
    page = new_page(PHONE)
    page.goto(console_url(assistant))
    shot(page, "mobile-360-signin")
    sign_in(page, assistant.nurse_token)
    expect(queue_row(page, sender)).to_have_count(1)

    page.get_by_label("What the caller says").fill("her husband says she collapsed and can't breathe")
    page.get_by_role("button", name="Assess").click()
    expect(page.locator("#assess-urgency")).to_have_text(re.compile(r"^emergency$", re.I))
    expect(page.locator("#assess-action")).to_contain_text("call")
    shot(page, "mobile-360-assess", full_page=True)

    queue_row(page, sender).get_by_role("button", name=sender, exact=True).click()
    expect(page.locator("#transcript")).to_contain_text(RED_FLAG)
    shot(page, "mobile-360-transcript")

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 360 px"
    assert page.errors == []


def test_a_routine_question_shows_the_leaflet_facts(assistant, new_page):
    page = new_page()
    page.goto(console_url(assistant))
    sign_in(page, assistant.nurse_token)
    page.get_by_label("What the caller says").fill("patient asks if she can eat before")
    page.get_by_label("What the caller says").press("Control+Enter")
    expect(page.locator("#assess-urgency")).to_have_text(re.compile(r"^routine$", re.I))
    expect(page.locator("#assess-signs")).to_have_count(0)
    expect(page.locator("#assess-procedure")).to_contain_text("both")
    facts = page.locator("#assess-facts li")
    expect(facts.filter(has_text=re.compile(r"\b6\b.*hours"))).not_to_have_count(0)
    expect(facts.first).to_contain_text("health_library")
    shot(page, "assess-routine", full_page=True)
    assert page.errors == []
