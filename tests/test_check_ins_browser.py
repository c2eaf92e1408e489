"""The console's Check-ins view in Chromium: a nurse enrols a patient, sees them awaiting consent,
then active with their answers once they reply, pauses and ends their check-ins. Screenshots
in test-output/screenshots/nurse-check-ins*.png."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from assistant.db import engine_for
from tests.check_in_helpers import Clinic, SetClock, bodies_to
from tests.helpers import Phone, new_nurse
from tests.check_in_helpers import daytime_zone
from tests.test_check_ins_api import check_in_times
from tests.test_nurse_console_browser import new_page, open_console, shot  # noqa: F401 (new_page is a fixture)


def test_a_nurse_enrols_a_patient_and_follows_their_check_ins(assistant, new_page, knowledge_db_url, twilio):  # noqa: F811
    page = open_console(new_page, assistant, new_nurse(knowledge_db_url))
    page.get_by_role("button", name="Check-ins").click()
    expect(page.get_by_role("heading", name="Check-ins after the procedure")).to_be_visible()
    phone = Phone(assistant)
    zone = daytime_zone()

    # The form refuses a number without its country code, naming the field, and enrols nobody.
    page.get_by_label("Mobile number").fill("617 555 0123")
    page.get_by_label("Procedure date").fill(datetime.now(ZoneInfo(zone)).date().isoformat())
    page.get_by_label("The patient agreed to be texted").check()
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator("#check-ins-error")).to_contain_text("'phone' must be a mobile number")

    page.get_by_label("Mobile number").fill(phone.number)
    page.get_by_label("First name (optional)").fill("Maria")
    page.get_by_label("Time zone (empty: the clinic's)").fill(zone)
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator("#enrol-status")).to_have_text("Enrolled. Consent request: sent.")
    row = page.locator("#check-ins-rows tr").filter(has_text=phone.number)
    expect(row).to_contain_text("Awaiting consent")
    assert len(bodies_to(twilio, phone.number)) == 1
    shot(page, "check-ins-enrolled")

    # The patient says YES and answers day 1; the list shows it.
    phone.text("YES")
    enrolment_id = int(row.get_attribute("data-enrolment"))
    engine = engine_for(knowledge_db_url)
    day_1 = check_in_times(engine, enrolment_id)[1]
    Clinic.on(engine, twilio, SetClock(day_1)).at(day_1)
    phone.text("2")
    page.get_by_role("button", name="Back to the queue").click()
    page.get_by_role("button", name="Check-ins").click()
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Day 1: 2 (same)")
    shot(page, "check-ins-answered")

    row.get_by_role("button", name="Pause").click()
    expect(row).to_contain_text("Paused")
    row.get_by_role("button", name="End").click()
    expect(row).to_contain_text("Stopped")
    expect(row.get_by_role("button")).to_have_count(0)
    assert page.errors == []
