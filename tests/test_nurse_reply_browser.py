"""Nurses' replies in Chromium: in the project's widget, labelled as from the nurse and still
there after a reload or when the patient comes back; and sent from the nurse console, a failed
text reported. Screenshots in test-output/screenshots/."""
from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.helpers import RED_FLAG, NurseApi, Phone, new_nurse
from tests.test_nurse_console_browser import DESKTOP as CONSOLE_VIEWPORT
from tests.test_nurse_console_browser import console_url, queue_row, sign_in
from tests.test_nurse_reply import REPLY, SENT_AS_SMS, escalation_for
from tests.test_widget_browser import DESKTOP, TIMEOUT, ask, demo_url, open_widget, shot

LATER = "We tried to call you. Please ring the nurse line when you can."


def test_a_nurse_reply_shows_in_the_widget_labelled_as_from_the_nurse(assistant, browser):
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        page.goto(demo_url(assistant))
        open_widget(page)
        ask(page, RED_FLAG)
        session = page.evaluate("localStorage.getItem('spineAssistant.session')")
        api = NurseApi(assistant, assistant.nurse_token)
        escalation = escalation_for(api, session)
        response = api.post(f"/escalations/{escalation}/reply", {"text": REPLY})
        assert response.status_code == 200 and response.json()["status"] == "sent"
        nurse = page.locator(".sa-log .sa-msg--nurse")
        expect(nurse).to_have_count(1)
        expect(nurse.locator(".sa-nurse-label")).to_have_text("Nurse")
        expect(nurse.locator(".sa-msg-text")).to_have_text(REPLY)
        expect(nurse).to_contain_text("The nurse said:")  # for screen readers
        shot(page, "widget-nurse-reply")
        page.reload()  # the panel was open: it opens again, with the conversation
        expect(page.locator(".sa-log .sa-msg--nurse .sa-msg-text")).to_have_text(REPLY)

        # The patient closes the page; the nurse writes again; the reply shows when they come back.
        page.close()
        time.sleep(1)  # the server sees the socket close
        response = api.post(f"/escalations/{escalation}/reply", {"text": LATER})
        assert response.status_code == 200 and response.json()["status"].startswith("waiting")
        page = context.new_page()
        page.goto(demo_url(assistant))
        expect(page.locator(".sa-log .sa-msg--nurse .sa-msg-text")).to_have_text([REPLY, LATER])
        shot(page, "widget-nurse-reply-after-return")
    finally:
        context.close()


def test_a_nurse_replies_from_the_console_and_sees_a_failed_text_reported(assistant, browser, twilio, knowledge_db_url):
    phone = Phone(assistant)
    phone.messages(RED_FLAG)
    context = browser.new_context(viewport=CONSOLE_VIEWPORT)
    context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        page.goto(console_url(assistant))
        sign_in(page, *new_nurse(knowledge_db_url))
        queue_row(page, phone.number).get_by_role("button", name=phone.number, exact=True).click()
        page.get_by_label("Reply to the patient", exact=True).fill(REPLY)
        page.get_by_role("button", name="Send to the patient").click()
        expect(page.locator("#transcript [data-from=nurse]")).to_contain_text(SENT_AS_SMS)
        expect(page.locator("#replies [data-status=sent]")).to_have_count(1)
        assert [message["Body"] for message in twilio.messages if message["To"] == phone.number] == [SENT_AS_SMS]

        twilio.fail_next("500", "500")
        page.get_by_label("Reply to the patient", exact=True).fill(LATER)
        page.get_by_role("button", name="Send to the patient").click()
        expect(page.locator("#details-error")).to_contain_text("not sent")
        page.get_by_role("button", name="Send to the patient").click()  # the nurse tries again: Twilio is back
        expect(page.locator("#replies [data-status=sent]")).to_have_count(2)
        expect(page.locator("#replies [data-status=failed]")).to_contain_text("NOT SENT")
        page.locator("#replies").scroll_into_view_if_needed()
        shot(page, "nurse-console-reply")
    finally:
        twilio.fail_next()
        context.close()
