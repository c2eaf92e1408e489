"""The nurse-line console (web/nurse.html) in a real browser: Debian's Chromium driven by Playwright.

The page is served by the Rasa server at /webhooks/nurse/ and talks to the nurse API next to
it. Nurses sign in with their own accounts; a patient's red-flag message sent through the
REST channel appears in an open console without a reload; a nurse claims it (the others see
who has it), reads the transcript and the triage note, copies the note, marks it handled and
finds it again; the audit log shows who did what. Screenshots go to
test-output/screenshots/nurse-*.png.
"""
from __future__ import annotations

import re
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Page, expect

from assistant.db import engine_for
from assistant.escalations import record_escalation
from assistant.settings import PROJECT_ROOT
from tests.helpers import RED_FLAG, new_nurse

SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
TIMEOUT = 30_000  # ms: an assessment goes through the NLU model
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
TOKEN_KEY = "nurseLineSession"
MARKUP = '<img src=x onerror="window.__pwned=1"> thanks'
CALLER = "caller says she has a fever since yesterday's kyphoplasty"
LIVE_LIMIT_S = 2.0
LIVE_SAMPLES = 20

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


@pytest.fixture
def nurse(knowledge_db_url) -> tuple[str, str]:
    return new_nurse(knowledge_db_url)


def shot(page: Page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"nurse-{name}.png"), full_page=full_page)


def console_url(assistant) -> str:
    return f"{assistant.url}/webhooks/nurse/"


def sign_in(page: Page, name: str, secret: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Secret", exact=True).fill(secret)
    page.get_by_role("button", name="Sign in").click()


def open_console(new_page, assistant, account, viewport: dict = DESKTOP) -> Page:
    page = new_page(viewport)
    page.goto(console_url(assistant))
    sign_in(page, *account)
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("Live")
    return page


def queue_row(page: Page, sender: str):
    return page.locator("#queue-rows tr").filter(has=page.get_by_role("button", name=sender, exact=True))


def stored_token(page: Page):
    return page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')")


def test_queue_claim_transcript_note_handling_search_and_assessment(assistant, new_page, nurse):
    name, secret = nurse
    sender = f"console-{uuid.uuid4().hex[:10]}"
    assistant.send(sender, RED_FLAG)
    assistant.send(sender, MARKUP)
    ref = uuid.uuid4().hex[:8]
    note = f"Called back, ambulance on its way (ref {ref})"

    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(console_url(assistant))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Secret")).to_have_attribute("type", "password")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    shot(page, "signin")

    # A wrong secret is refused and nothing is kept.
    sign_in(page, name, "not-the-secret")
    expect(page.locator("#signin-error")).to_contain_text("That name and secret were not accepted")
    expect(page.locator("#console")).to_be_hidden()
    assert stored_token(page) is None
    shot(page, "signin-refused")

    # The right one: a session kept for the tab only, never in localStorage or a URL.
    sign_in(page, name, secret)
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {name}")
    token = stored_token(page)
    assert token and secret not in token
    assert page.evaluate("localStorage.length") == 0
    assert token not in page.url and secret not in page.url

    row = queue_row(page, sender)
    expect(row).to_have_count(1)
    for text in ("Emergency", "Triage", "REST", "Chest pain", "Unclaimed"):
        expect(row).to_contain_text(text)
    expect(row.locator("td[data-label=Waiting]")).to_contain_text(re.compile(r"min"))
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

    # The triage note, and "Copy note" gives it as plain text.
    triage_note = page.locator("#triage-note")
    for line in ("Signs reported: chest pain", "Time since procedure: 1 day (\"yesterday\")",
                 "Procedure: kyphoplasty", "Disposition: EMERGENCY.", "Reply given to the patient:"):
        expect(triage_note).to_contain_text(line)
    page.get_by_role("button", name="Copy note").click()
    expect(page.locator("#triage-note-copied")).to_have_text("Copied as plain text.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == triage_note.inner_text() and "You mentioned chest pain" in copied

    # Claim it: the queue says who has it.
    page.get_by_role("button", name="Claim", exact=True).click()
    expect(page.locator("#claim-state")).to_have_text("You have claimed this.")
    expect(queue_row(page, sender)).to_contain_text(name)
    shot(page, "transcript", full_page=True)

    # Handling needs a note.
    page.get_by_role("button", name="Mark handled").click()
    expect(page.locator("#details-error")).to_contain_text("handling needs one")
    page.get_by_label("Note for the record").fill(note)
    page.get_by_role("button", name="Mark handled").click()
    expect(page.locator("#details-status")).to_contain_text("marked handled")
    expect(page.locator("#handled-note")).to_have_text(note)
    expect(page.locator(".handled-box")).to_contain_text(f"Marked handled by {name}")
    expect(queue_row(page, sender)).to_have_count(0)

    # Found again among all escalations by a word of the note.
    page.get_by_label("Status", exact=True).select_option("all")
    page.get_by_label("Search", exact=True).fill(ref)
    page.get_by_label("Search", exact=True).press("Enter")
    expect(page.locator("#queue-rows tr[data-id]")).to_have_count(1)
    expect(queue_row(page, sender)).to_contain_text("Handled")
    expect(page.locator("#queue-count")).to_contain_text(ref)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "handled-search")

    # The caller box: fever after kyphoplasty is urgent, with the leaflet answer, sources and a note.
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
    expect(page.locator("#assess-note")).to_contain_text("Signs reported: a fever")
    page.locator("#caller").scroll_into_view_if_needed()
    shot(page, "assess-urgent", full_page=True)

    # Every API call but sign-in carried the session token in a header; none put a secret in a URL.
    assert page.api_requests
    for request in page.api_requests:
        assert token not in request.url and secret not in request.url
        if not request.url.endswith("/api/login"):
            assert request.headers.get("authorization") == f"Bearer {token}"

    # Signing out ends the session on the server and forgets the patient data on the page.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Secret")).to_be_visible()
    assert stored_token(page) is None
    expect(page.locator("#queue-rows tr")).to_have_count(0)
    expect(page.locator("#transcript")).to_have_count(0)
    expect(page.locator("#assess-result")).to_be_hidden()
    status = page.evaluate(f"""fetch('api/escalations', {{headers: {{Authorization: 'Bearer {token}'}}}})
                               .then(r => r.status)""")
    assert status == 401
    assert page.errors == []


def test_new_escalations_appear_live_within_two_seconds(assistant, new_page, nurse, report):
    page = open_console(new_page, assistant, nurse)
    # Note the moment each row first appears, on the machine's clock (what Python's time.time() reads).
    page.evaluate("""() => {
        window.__seen = {};
        new MutationObserver(() => {
            document.querySelectorAll('#queue-rows tr[data-sender]').forEach(row => {
                if (!(row.dataset.sender in window.__seen)) window.__seen[row.dataset.sender] = Date.now();
            });
        }).observe(document.getElementById('queue-rows'), {childList: true, subtree: true});
    }""")
    delays = []
    for _ in range(LIVE_SAMPLES):
        sender = f"live-{uuid.uuid4().hex[:10]}"
        sent = time.time() * 1000
        assistant.send(sender, RED_FLAG)
        page.wait_for_function("sender => sender in window.__seen", arg=sender, timeout=10_000)
        delays.append((page.evaluate("sender => window.__seen[sender]", sender) - sent) / 1000)
    median = statistics.median(delays)
    report(f"Red-flag REST message to the open nurse console: median {median:.2f} s, "
           f"max {max(delays):.2f} s over {LIVE_SAMPLES}")
    expect(queue_row(page, sender)).to_contain_text("Emergency")
    shot(page, "live-queue")
    assert median < LIVE_LIMIT_S and max(delays) < LIVE_LIMIT_S * 2, delays
    assert page.errors == []


def test_items_past_the_clinic_s_target_are_marked_overdue(assistant, knowledge_db_url, new_page, nurse):
    late, fresh = (f"aging-{uuid.uuid4().hex[:8]}" for _ in range(2))
    engine = engine_for(knowledge_db_url)
    record_escalation(engine, sender_id=late, channel="sms", urgency="urgent", signs=["fever"],
                      matched_words=["fever"], now=datetime.now(timezone.utc) - timedelta(minutes=16))
    record_escalation(engine, sender_id=fresh, channel="sms", urgency="urgent", signs=["fever"],
                      matched_words=["fever"], now=datetime.now(timezone.utc) - timedelta(minutes=14))
    page = open_console(new_page, assistant, nurse)
    expect(queue_row(page, late).locator("td[data-label=Waiting]")).to_contain_text("16 min")
    expect(queue_row(page, late).locator(".badge--overdue")).to_have_text("Overdue")
    expect(queue_row(page, fresh).locator("td[data-label=Waiting]")).to_contain_text("14 min")
    expect(queue_row(page, fresh).locator(".badge--overdue")).to_have_count(0)
    queue_row(page, late).scroll_into_view_if_needed()
    shot(page, "overdue")
    assert page.errors == []


def test_a_colleague_s_console_shows_the_claim_without_a_reload(assistant, knowledge_db_url, new_page):
    ann, bob = new_nurse(knowledge_db_url), new_nurse(knowledge_db_url)
    sender = f"claim-{uuid.uuid4().hex[:8]}"
    record_escalation(engine_for(knowledge_db_url), sender_id=sender, channel="widget", urgency="urgent",
                      signs=["fever"], matched_words=["fever"])
    ann_page = open_console(new_page, assistant, ann)
    bob_page = open_console(new_page, assistant, bob)
    expect(queue_row(bob_page, sender)).to_contain_text("Unclaimed")
    bob_requests = len(bob_page.api_requests)

    queue_row(ann_page, sender).get_by_role("button", name=sender, exact=True).click()
    ann_page.get_by_role("button", name="Claim", exact=True).click()
    expect(queue_row(bob_page, sender)).to_contain_text(ann[0], timeout=2_000)
    assert len(bob_page.api_requests) == bob_requests  # pushed, not polled

    # Bob opens it: no Claim button, and it says who has it.
    queue_row(bob_page, sender).get_by_role("button", name=sender, exact=True).click()
    expect(bob_page.locator("#claim-state")).to_have_text(f"{ann[0]} has claimed this.")
    expect(bob_page.get_by_role("button", name="Claim", exact=True)).to_have_count(0)
    shot(bob_page, "claimed-by-colleague")

    ann_page.get_by_role("button", name="Release").click()
    expect(bob_page.locator("#claim-state")).to_have_text("Nobody has claimed this yet.", timeout=2_000)
    assert ann_page.errors == [] and bob_page.errors == []


def test_the_audit_page_shows_who_did_what_filtered_by_nurse_and_patient(assistant, knowledge_db_url, new_page, nurse):
    sender = f"audit-{uuid.uuid4().hex[:8]}"
    record_escalation(engine_for(knowledge_db_url), sender_id=sender, channel="sms", urgency="urgent",
                      signs=["fever"], matched_words=["fever"])
    page = open_console(new_page, assistant, nurse)
    queue_row(page, sender).get_by_role("button", name=sender, exact=True).click()
    page.get_by_role("button", name="Claim", exact=True).click()
    expect(page.locator("#claim-state")).to_have_text("You have claimed this.")

    page.get_by_role("button", name="Audit log").click()
    page.get_by_label("Patient (sender id)").fill(sender)
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Claimed")
    expect(rows.nth(1)).to_contain_text("Viewed transcript")
    expect(rows.nth(0)).to_contain_text(nurse[0])

    page.get_by_label("Patient (sender id)").fill("")
    page.get_by_label("Nurse", exact=True).fill(nurse[0])
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-rows tr[data-action=logged_in]")).to_have_count(1)
    expect(page.locator("#audit-rows tr")).to_have_count(3)
    shot(page, "audit")
    page.get_by_role("button", name="Back to the queue").click()
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    assert page.errors == []


def test_a_session_that_ended_elsewhere_returns_to_sign_in(assistant, new_page, nurse):
    page = open_console(new_page, assistant, nurse)
    # The tab still holds a session the server has ended (signed out elsewhere, secret rotated).
    page.evaluate("sessionStorage.setItem('nurseLineSession', 'ended-elsewhere')")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#signin-error")).to_contain_text("Your session has ended")
    expect(page.locator("#console")).to_be_hidden()
    assert stored_token(page) is None
    # A reload with a live session in the tab goes straight to the console.
    sign_in(page, *nurse)
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("Live")
    assert page.errors == []


def test_console_fits_a_360_px_screen(assistant, new_page, nurse):
    sender = f"console-{uuid.uuid4().hex[:10]}"
    assistant.send(sender, RED_FLAG)
    page = new_page(PHONE)
    page.goto(console_url(assistant))
    shot(page, "mobile-360-signin")
    sign_in(page, *nurse)
    expect(queue_row(page, sender)).to_have_count(1)

    page.get_by_label("What the caller says").fill("her husband says she collapsed and can't breathe")
    page.get_by_role("button", name="Assess").click()
    expect(page.locator("#assess-urgency")).to_have_text(re.compile(r"^emergency$", re.I))
    expect(page.locator("#assess-action")).to_contain_text("call")
    shot(page, "mobile-360-assess", full_page=True)

    queue_row(page, sender).get_by_role("button", name=sender, exact=True).click()
    expect(page.locator("#transcript")).to_contain_text(RED_FLAG)
    expect(page.locator("#triage-note")).to_be_visible()
    shot(page, "mobile-360-transcript")

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 360 px"
    assert page.errors == []


def test_a_routine_question_shows_the_leaflet_facts(assistant, new_page, nurse):
    page = open_console(new_page, assistant, nurse)
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
