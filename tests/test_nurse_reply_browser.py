"""A nurse's reply in the project's widget, in Chromium: labelled as from the nurse, and still
there after a reload. Screenshot in test-output/screenshots/."""
from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.helpers import RED_FLAG, NurseApi
from tests.test_nurse_reply import REPLY, escalation_for
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
