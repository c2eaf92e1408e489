"""Check-ins after the procedure, driven by a clock the test sets: whole programmes in seconds,
against the local stand-in for Twilio's Messages endpoint, on a database of their own."""
from __future__ import annotations

import dataclasses
import shutil
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from assistant import check_in_sender, check_in_store, gsm7, sms, triage
from assistant.check_in_sender import start_scheduler
from assistant.check_ins import (
    CheckInSettingsError, EnrolmentError, load_settings, load_texts, plan, read_answer, signs_to_call_about,
    validate_enrolment,
)
from assistant.escalations import CHECK_IN, NO_REPLY, list_escalations
from assistant.render import SMS_MESSAGE_LIMIT
from assistant.settings import PROJECT_ROOT
from assistant.triage_rules import TRIAGE_DIR, load_rules
from tests.check_in_helpers import Clinic, SetClock, bodies_to
from tests.helpers import new_number

ENROLLED_AT = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)  # 10 am in New York
PROCEDURE_DAY = date(2026, 12, 1)
DAY_1, DAY_3, DAY_7 = (datetime(2026, 12, day, 15, 0, tzinfo=timezone.utc) for day in (2, 4, 8))


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'check-ins.db'}")


@pytest.fixture
def twilio(twilio):
    if not twilio.auth_token:  # no server set it: any token, as long as both sides use it
        twilio.auth_token = "check-in-tests"
    yield twilio
    twilio.fail_next()


@pytest.fixture
def clinic(engine, twilio) -> Clinic:
    return Clinic.on(engine, twilio, SetClock(ENROLLED_AT))


def consented(clinic: Clinic, phone: str, zone: str = "America/New_York") -> None:
    clinic.enrol(phone, PROCEDURE_DAY, zone)
    assert clinic.text_from(phone, "YES").startswith("Thank you. We will text you on days 1, 3 and 7")


def test_a_whole_programme_consent_day_1_better_day_3_worse_then_stop_and_nothing_more(clinic, twilio):
    phone = new_number()
    clinic.enrol(phone, PROCEDURE_DAY)
    [request] = bodies_to(twilio, phone)
    assert request.startswith("Hi Maria. This is Riverside Spine Clinic.")
    assert "Reply YES to get check-ins, STOP to stop." in request and "days 1, 3 and 7" in request
    assert clinic.at(DAY_1 - timedelta(minutes=1)) == []  # nothing before YES, nothing early
    assert clinic.text_from(phone, "yes").startswith("Thank you. We will text you on days 1, 3 and 7")

    assert clinic.at(DAY_1) == ["sent"]
    check_in = bodies_to(twilio, phone)[-1]
    assert check_in.startswith("Hi Maria. Day 1: how are you doing since your kyphoplasty? Reply 1 better, 2 same, 3 worse.")
    assert "a fever" in check_in and "call 911 now for chest pain" in check_in and "555-0100" in check_in
    assert gsm7.is_gsm7(check_in) and gsm7.septet_length(check_in) <= SMS_MESSAGE_LIMIT
    assert clinic.text_from(phone, "1") == load_texts().answers[0].reply
    assert clinic.at(DAY_1 + timedelta(hours=1)) == []  # sent once

    assert clinic.at(DAY_3) == ["sent"]
    assert bodies_to(twilio, phone)[-1].startswith("Hi Maria. Day 3:")
    worse = clinic.text_from(phone, "3")
    assert "contact your doctor today" in worse and "555-0100" in worse
    [item] = [row for row in list_escalations(clinic.engine) if row["sender_id"] == phone]
    assert (item["kind"], item["urgency"], item["channel"]) == (CHECK_IN, "urgent", "sms")
    # A second "3" is not an answer any more: it goes to the assistant like any message.
    assert clinic.text_from(phone, "3") is None

    assert clinic.text_from(phone, "STOP").startswith("You will get no more messages")
    before = len(twilio.messages)
    assert clinic.at(DAY_7) == [] and clinic.at(DAY_7 + timedelta(days=30)) == []
    assert len(twilio.messages) == before
    [row] = check_in_store.list_enrolments(clinic.engine)
    assert row["status"] == "stopped" and row["ended_by"] == "patient" and row["next_check_in"] is None
    assert [(answer["day"], answer["answer"]) for answer in row["answers"]] == [(1, "1"), (3, "3")]
    assert len(bodies_to(twilio, phone)) == 3  # the consent request, day 1, day 3


def test_without_yes_nothing_is_sent_and_an_unknown_number_saying_yes_is_not_enrolled(clinic, twilio):
    phone, stranger = new_number(), new_number()
    clinic.enrol(phone, PROCEDURE_DAY)
    assert clinic.text_from(stranger, "YES") is None
    assert clinic.at(DAY_7 + timedelta(days=1)) == []
    assert len(bodies_to(twilio, phone)) == 1 and bodies_to(twilio, stranger) == []
    assert [row["status"] for row in check_in_store.list_enrolments(clinic.engine)] == ["awaiting_consent"]


def test_a_number_answers_the_check_in_only_as_the_first_message_after_it(clinic):
    phone = new_number()
    consented(clinic, phone)
    clinic.at(DAY_1)
    # A question first: it goes to the assistant with the check-in as context; a "2" after it picks an option.
    assert clinic.text_from(phone, "how long should I rest?") is None
    assert clinic.text_from(phone, "2") is None
    [row] = check_in_store.list_enrolments(clinic.engine)
    assert [answer["answer"] for answer in row["answers"]] == ["message"]


def test_an_opted_out_number_is_not_texted_until_its_new_yes(clinic, twilio, engine):
    phone = new_number()
    sms.set_opted_out(engine, phone, True)
    clinic.enrol(phone, PROCEDURE_DAY)
    assert bodies_to(twilio, phone) == []
    assert clinic.text_from(phone, "YES").startswith("Thank you.")
    assert not sms.is_opted_out(engine, phone)
    assert clinic.at(DAY_1) == ["sent"] and len(bodies_to(twilio, phone)) == 1


def test_a_restart_between_two_check_ins_keeps_the_plan_in_the_database_and_sends_each_once(engine, twilio):
    clock = SetClock(ENROLLED_AT)
    phone = new_number()
    first = Clinic.on(engine, twilio, clock, worker="before-restart")
    scheduler = start_scheduler(engine, first.sender, paused=True)
    first.enrol(phone, PROCEDURE_DAY)
    consented_now = first.text_from(phone, "YES")
    assert consented_now
    planned = check_in_store.due_messages(engine, DAY_7)
    for message_id in planned:
        first.sender.schedule(message_id, clock.now() + timedelta(days=1))
    assert first.at(DAY_1) == ["sent"]
    scheduler.shutdown()

    again = Clinic.on(engine, twilio, clock, worker="after-restart")
    restarted = start_scheduler(engine, again.sender, paused=True)
    try:
        jobs = {job.id for job in restarted.get_jobs(jobstore="default")}
        assert {f"{check_in_sender.JOB_PREFIX}{message_id}" for message_id in planned} <= jobs
        assert again.at(DAY_1 + timedelta(hours=2)) == []  # day 1 is not sent again
        assert again.at(DAY_3) == ["sent"] and again.at(DAY_7) == ["sent"]
    finally:
        restarted.shutdown()
    assert [body.split(":")[0] for body in bodies_to(twilio, phone)[1:]] == ["Hi Maria. Day 1", "Hi Maria. Day 3", "Hi Maria. Day 7"]
    [row] = check_in_store.list_enrolments(engine)
    assert row["status"] == "finished"


def test_twilio_failing_then_recovering_sends_once_after_a_backoff(clinic, twilio):
    phone = new_number()
    consented(clinic, phone)
    twilio.fail_next("500", "500")  # both tries of the first attempt
    assert clinic.at(DAY_1) == ["retrying"]
    assert clinic.at(DAY_1 + timedelta(minutes=4)) == []  # the backoff: 5 minutes
    assert clinic.at(DAY_1 + timedelta(minutes=5)) == ["sent"]
    assert [body.split(":")[0] for body in bodies_to(twilio, phone)[1:]] == ["Hi Maria. Day 1"]


def test_a_send_failing_past_its_retries_shows_as_failed_in_the_console_list(clinic, twilio):
    phone = new_number()
    consented(clinic, phone)
    settings = load_settings()
    twilio.fail_next(*["500"] * 2 * (settings.retries + 1))
    moment, outcomes = DAY_1, []
    for attempt in range(1, settings.retries + 2):
        outcomes += clinic.at(moment)
        moment += settings.retry_delay(attempt)
    assert outcomes == ["retrying"] * settings.retries + ["failed"]
    [row] = check_in_store.list_enrolments(clinic.engine)
    [failed] = row["failed_sends"]
    assert failed["day"] == 1 and "HTTP 500" in failed["failure"] and phone not in failed["failure"]
    assert clinic.at(DAY_3) == ["sent"]  # the programme goes on


def test_a_patient_in_another_time_zone_is_texted_at_their_local_hour(engine, twilio):
    clinic = Clinic.on(engine, twilio, SetClock(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)))  # 11 am in Tokyo
    phone = new_number()
    clinic.enrol(phone, PROCEDURE_DAY, zone="Asia/Tokyo")
    clinic.text_from(phone, "YES")
    tokyo_day_1 = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)  # 10 am on 2 December in Tokyo
    assert clinic.at(tokyo_day_1 - timedelta(minutes=1)) == []
    assert clinic.at(tokyo_day_1) == ["sent"]
    assert clinic.at(DAY_1) == []  # New York's 10 am is not Tokyo's


def test_a_retry_that_would_fall_at_night_waits_for_the_morning(engine, twilio):
    clinic = Clinic.on(engine, twilio, SetClock(ENROLLED_AT))
    phone = new_number()
    consented(clinic, phone)
    settings = load_settings()
    late = datetime(2026, 12, 3, 2, 30, tzinfo=timezone.utc)  # 9:30 pm in New York
    # Day 1's text failed all day; its last retry falls due at night.
    with clinic.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE check_in_messages SET due_at = ? WHERE day = 1", (late,))
    assert clinic.at(late) == ["deferred"]
    morning = datetime(2026, 12, 3, 13, 0, tzinfo=timezone.utc)  # 8 am in New York: quiet hours over
    assert settings.quiet_hours.end == 8
    assert clinic.at(morning - timedelta(minutes=1)) == []
    assert clinic.at(morning) == ["sent"]


def test_a_check_in_left_unanswered_becomes_a_no_reply_item_when_the_clinic_switches_it_on(engine, twilio):
    clinic = Clinic.on(engine, twilio, SetClock(ENROLLED_AT))
    clinic.sender.settings = dataclasses.replace(load_settings(), no_reply_alert=True, no_reply_hours=24)
    phone, answers = new_number(), new_number()
    consented(clinic, phone)
    consented(clinic, answers)
    clinic.at(DAY_1)
    clinic.text_from(answers, "2")
    clinic.at(DAY_1 + timedelta(hours=23))
    assert list_escalations(engine) == []
    clinic.at(DAY_1 + timedelta(hours=24))
    clinic.at(DAY_1 + timedelta(hours=25))  # recorded once
    [item] = list_escalations(engine)
    assert (item["kind"], item["sender_id"], item["urgency"]) == (NO_REPLY, phone, "routine")


def test_no_reply_items_are_off_by_default(clinic, engine):
    assert load_settings().no_reply_alert is False
    consented(clinic, new_number())
    clinic.at(DAY_1)
    clinic.at(DAY_3 - timedelta(minutes=1))
    assert list_escalations(engine) == []


def test_a_paused_programme_skips_what_fell_due_and_goes_on_when_resumed(clinic, twilio):
    phone = new_number()
    consented(clinic, phone)
    [row] = check_in_store.list_enrolments(clinic.engine)
    assert check_in_store.change_status(clinic.engine, row["id"], "nurse-ann", "pause", clinic.clock.now())[0]["status"] == "paused"
    assert clinic.at(DAY_1) == []
    resumed, skipped = check_in_store.change_status(clinic.engine, row["id"], "nurse-ann", "resume", DAY_1 + timedelta(hours=1))
    assert resumed["status"] == "active" and len(skipped) == 1
    assert clinic.at(DAY_3) == ["sent"]
    assert [body.split(":")[0] for body in bodies_to(twilio, phone)[1:]] == ["Hi Maria. Day 3"]


def test_deleting_a_patients_data_removes_the_enrolment_and_its_pending_jobs(engine, twilio):
    clinic = Clinic.on(engine, twilio, SetClock(ENROLLED_AT))
    scheduler = start_scheduler(engine, clinic.sender, paused=True)
    try:
        phone, other = new_number(), new_number()
        consented(clinic, phone)
        consented(clinic, other)
        for message_id in check_in_store.due_messages(engine, DAY_7):
            clinic.sender.schedule(message_id, DAY_7)
        assert len(scheduler.get_jobs(jobstore="default")) == 6
        check_in_sender.remove_jobs(engine, check_in_store.forget(engine, phone))
        assert len(scheduler.get_jobs(jobstore="default")) == 3
        assert [row["phone"] for row in check_in_store.list_enrolments(engine)] == [other]
        assert clinic.at(DAY_7) == ["sent"] * 3 and all(message["To"] == other for message in twilio.messages[-3:])
    finally:
        scheduler.shutdown()


# ---------------------------------------------------------------- the core, alone

def test_the_plan_keeps_the_local_hour_across_a_daylight_saving_change():
    settings = load_settings()
    plan_dates = plan(date(2026, 3, 7), "America/New_York", settings)  # clocks go forward on 8 March
    assert [(day, moment.hour) for day, moment in plan_dates] == [(1, 14), (3, 14), (7, 14)]
    assert plan(date(2026, 3, 6), "America/New_York", settings)[0][1].hour == 15


@pytest.mark.parametrize("said, number", [("1", 1), (" 2 ", 2), ("3.", 3), ("Worse", 3), ("better!", 1)])
def test_a_check_in_answer_is_the_whole_message(said, number):
    assert read_answer(said, load_texts()).number == number


@pytest.mark.parametrize("said", ["4", "13", "3 days ago my back got worse", "worse pain", "", "one"])
def test_anything_else_is_a_message_for_the_assistant(said):
    assert read_answer(said, load_texts()) is None


def test_a_bad_schedule_in_the_clinic_file_names_the_file_and_the_entry(tmp_path):
    clinic_file = tmp_path / "clinic.yml"
    text = (PROJECT_ROOT / "clinic.yml").read_text(encoding="utf-8")
    clinic_file.write_text(text.replace("local_hour: 10", "local_hour: 22"), encoding="utf-8")
    with pytest.raises(CheckInSettingsError, match=r"clinic.yml: check_ins.local_hour is within quiet_hours"):
        load_settings(clinic_file)
    clinic_file.write_text(text.replace("days: [1, 3, 7]", "days: [3, 1]"), encoding="utf-8")
    with pytest.raises(CheckInSettingsError, match=r"check_ins.days must be a list of increasing"):
        load_settings(clinic_file)


def test_a_check_in_text_too_long_for_one_message_is_refused_on_load(tmp_path):
    texts = tmp_path / "check_ins.yml"
    good = (PROJECT_ROOT / "data" / "check_ins.yml").read_text(encoding="utf-8")
    texts.write_text(good.replace('check_in: "{greeting}', 'check_in: "{greeting} We care about you a great deal.'),
                     encoding="utf-8")
    with pytest.raises(CheckInSettingsError, match=r"check_ins.yml: 'check_in' takes \d+ characters"):
        load_texts(texts)


def test_the_check_in_names_the_signs_of_the_leaflets_call_your_doctor_list_by_the_clinics_urgency(
        tmp_path, monkeypatch):
    urgent, emergency = signs_to_call_about()
    assert {"a fever", "a cough", "redness"} <= set(urgent.replace(" or ", ", ").split(", "))
    assert "chest pain" in emergency and "trouble breathing" in emergency
    # Paralysis is a possible complication, and a collapse is on no leaflet's list.
    assert "paralysis" not in urgent + emergency and "fainting" not in urgent + emergency

    rules = tmp_path / "triage"
    shutil.copytree(TRIAGE_DIR, rules)
    policy = rules / "clinic_policy.yml"
    listed = "  - sign: cough\n    urgency: urgent\n    leaflet: health_library\n    listed_in: [call_your_doctor]"
    assert listed in policy.read_text()
    policy.write_text(policy.read_text().replace(listed, listed.replace("[call_your_doctor]", "[]")))
    monkeypatch.setattr(triage, "engine", lambda: triage.build_engine(load_rules(rules)))
    urgent_now, _ = signs_to_call_about()
    assert "a cough" not in urgent_now and "a fever" in urgent_now


def test_enrolment_normalises_a_spaced_number_and_defaults_to_the_clinics_time_zone():
    body = {"phone": "+1 617 555-0123", "procedure": "vertebroplasty", "procedure_date": "2026-12-01", "consent": True}
    enrolment = validate_enrolment(body, load_settings(), ENROLLED_AT)
    assert (enrolment.phone, enrolment.time_zone, enrolment.first_name) == ("+16175550123", "America/New_York", None)
    with pytest.raises(EnrolmentError, match="'phone'") as refused:
        validate_enrolment({**body, "phone": "212-555-0188"}, load_settings(), ENROLLED_AT)
    assert "0188" not in str(refused.value)


def test_a_database_error_while_sending_is_logged_by_its_type_only(engine, twilio, caplog, monkeypatch):
    clinic = Clinic.on(engine, twilio, SetClock(ENROLLED_AT))
    phone = new_number()
    consented(clinic, phone)

    def failing_claim(*_):
        raise OperationalError("UPDATE check_in_messages ...", {"phone": phone}, Exception("server closed"))

    monkeypatch.setattr(check_in_store, "claim", failing_claim)
    monkeypatch.setattr(check_in_sender, "current", clinic.sender)
    check_in_sender.send_job(1)
    check_in_sender.sweep_job()
    assert "OperationalError" in caplog.text and phone not in caplog.text


def test_sending_logs_no_number_or_name_even_when_twilio_fails(clinic, twilio, caplog):
    phone = new_number()
    consented(clinic, phone)
    twilio.fail_next(*["500"] * 2 * (load_settings().retries + 1))
    moment = DAY_1
    for attempt in range(1, load_settings().retries + 2):
        clinic.at(moment)
        moment += load_settings().retry_delay(attempt)
    assert "not sent after" in caplog.text
    assert phone not in caplog.text and "Maria" not in caplog.text


def test_a_yes_after_the_last_check_in_day_promises_nothing_and_closes_the_enrolment(clinic, twilio):
    phone = new_number()
    clinic.enrol(phone, PROCEDURE_DAY)
    clinic.clock.moment = DAY_7 + timedelta(hours=1)
    assert clinic.text_from(phone, "YES") is None  # an ordinary message for the assistant
    [row] = check_in_store.list_enrolments(clinic.engine)
    assert row["status"] == "finished" and row["next_check_in"] is None
    assert clinic.at(DAY_7 + timedelta(days=1)) == [] and len(bodies_to(twilio, phone)) == 1
