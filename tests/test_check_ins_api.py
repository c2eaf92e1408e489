"""Check-ins through the running assistant: a nurse enrols through the console's API, the patient
texts the SMS webhook, and the check-ins go out through the Twilio stand-in. The sending is
driven here by a clock the test sets, on the server's own database, so days pass in seconds."""
from __future__ import annotations

import random
import string
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from assistant import check_in_sender, check_in_store, sms
from assistant.check_ins import load_texts
from assistant.db import engine_for
from assistant.reply_texts import load_reply_texts
from assistant.settings import load_contacts
from tests.check_in_helpers import Clinic, SetClock, bodies_to, daytime_zone
from tests.helpers import SECRET, NurseApi, Phone, assert_json_error, new_number
from tests.test_privacy import lines_at_info_or_above

@pytest.fixture
def api(assistant) -> NurseApi:
    return NurseApi(assistant, assistant.nurse_token)


@pytest.fixture
def engine(knowledge_db_url):
    return engine_for(knowledge_db_url)


@pytest.fixture(autouse=True)
def twilio_answers_normally_afterwards(twilio):
    yield
    twilio.fail_next()


def enrolment(phone: str, zone: str, **changes) -> dict:
    today = datetime.now(ZoneInfo(zone)).date().isoformat()
    return {"phone": phone, "first_name": "Maria", "procedure": "kyphoplasty", "procedure_date": today,
            "time_zone": zone, "consent": True, **changes}


def enrolled(api: NurseApi, assistant) -> tuple[Phone, dict]:
    phone = Phone(assistant)
    response = api.post("/check-ins", enrolment(phone.number, daytime_zone()))
    assert response.status_code == 201, response.text
    assert response.json()["consent_request"] == "sent"
    return phone, response.json()["enrolment"]


def check_in_times(engine, enrolment_id: int) -> dict[int, datetime]:
    row = check_in_store.enrolment_row(engine, enrolment_id)
    return {message["day"]: datetime.fromisoformat(message["due_at"]) for message in row["messages"]
            if message["kind"] == "check_in"}


def test_enrol_consent_day_1_better_day_3_worse_stop_and_nothing_more(assistant, api, engine, twilio):
    phone, row = enrolled(api, assistant)
    [request] = bodies_to(twilio, phone.number)
    assert "Reply YES to get check-ins, STOP to stop." in request
    assert phone.text("YES").startswith("Thank you. We will text you on days 1, 3 and 7")
    due = check_in_times(engine, row["id"])
    clinic = Clinic.on(engine, twilio, SetClock(due[1]))

    clinic.at(due[1])
    assert bodies_to(twilio, phone.number)[-1].startswith("Hi Maria. Day 1: how are you doing since your kyphoplasty?")
    assert phone.text("HELP") == sms.help_text(load_contacts())  # as on the SMS channel; it answers nothing
    assert phone.text("1") == load_texts().answers[0].reply
    clinic.at(due[3])
    assert bodies_to(twilio, phone.number)[-1].startswith("Hi Maria. Day 3:")
    assert "contact your doctor today" in phone.text("3")
    [item] = [item for item in api.get("/escalations", q=phone.number).json()["escalations"]]
    assert (item["kind"], item["urgency"], item["channel"]) == ("check_in", "urgent", "sms")
    note = api.get(f"/escalations/{item['id']}").json()["note"]
    assert "Check-in: day 3 after kyphoplasty" in note["text"] and "answer: 3" in note["text"]

    assert phone.text("STOP").startswith("You will get no more messages")
    sent = len(bodies_to(twilio, phone.number))
    clinic.at(due[7])
    assert len(bodies_to(twilio, phone.number)) == sent == 3
    [listed] = [entry for entry in api.get("/check-ins").json()["enrolments"] if entry["id"] == row["id"]]
    assert listed["status"] == "stopped" and listed["next_check_in"] is None
    assert [(answer["day"], answer["answer"]) for answer in listed["answers"]] == [(1, "1"), (3, "3")]
    actions = [entry["action"] for entry in api.get("/audit", sender=phone.number).json()["entries"]]
    assert "enrolled" in actions and "viewed_transcript" in actions


def test_a_reply_triage_raises_gets_the_advice_and_the_note_names_the_check_in(assistant, api, engine, twilio):
    phone, row = enrolled(api, assistant)
    phone.text("YES")
    due = check_in_times(engine, row["id"])
    Clinic.on(engine, twilio, SetClock(due[1])).at(due[1])
    reply = phone.messages("I have had a fever since last night")
    assert reply[0].startswith("You mentioned a fever.")
    [item] = api.get("/escalations", q=phone.number).json()["escalations"]
    assert item["kind"] == "triage" and item["urgency"] == "urgent"
    note = api.get(f"/escalations/{item['id']}").json()["note"]
    assert note["check_in"]["day"] == 1 and "Check-in: day 1 after kyphoplasty" in note["text"]
    # The next message is an ordinary one: a question is answered as on the SMS channel.
    assert "Reply MORE for more." in phone.text("how long does kyphoplasty take?")


def test_an_unknown_number_saying_yes_is_not_enrolled_and_gets_an_ordinary_reply(assistant, api):
    phone = Phone(assistant)
    assert not phone.text("YES").startswith("Thank you. We will text you")
    assert phone.number not in [entry["phone"] for entry in api.get("/check-ins").json()["enrolments"]]


def test_asking_to_delete_my_data_removes_the_enrolment_and_its_pending_jobs(assistant, api, engine):
    phone, row = enrolled(api, assistant)
    phone.text("YES")
    planned = [message["id"] for message in check_in_store.enrolment_row(engine, row["id"])["messages"]
               if message["status"] == "due"]
    jobs = check_in_sender.job_store(engine)
    jobs.start(None, "default")
    assert all(jobs.lookup_job(f"{check_in_sender.JOB_PREFIX}{message_id}") for message_id in planned)
    assert phone.messages("please delete my data")[0] == load_reply_texts().notices["data_deleted"]
    assert check_in_store.enrolment_row(engine, row["id"]) is None
    assert not any(jobs.lookup_job(f"{check_in_sender.JOB_PREFIX}{message_id}") for message_id in planned)


def test_a_nurse_pauses_resumes_and_ends_check_ins_and_each_is_audited(assistant, api):
    phone, row = enrolled(api, assistant)
    phone.text("YES")
    assert api.post(f"/check-ins/{row['id']}/pause").json()["status"] == "paused"
    assert_json_error(api.post(f"/check-ins/{row['id']}/pause"), 409)
    assert api.post(f"/check-ins/{row['id']}/resume").json()["status"] == "active"
    ended = api.post(f"/check-ins/{row['id']}/end").json()
    assert ended["status"] == "stopped" and ended["next_check_in"] is None
    assert_json_error(api.post("/check-ins/999999/end"), 404)
    actions = [entry["action"] for entry in api.get("/audit", sender=phone.number).json()["entries"]]
    assert actions[:3] == ["ended_check_ins", "resumed_check_ins", "paused_check_ins"]


def test_a_number_with_open_check_ins_cannot_be_enrolled_twice(assistant, api):
    phone, _ = enrolled(api, assistant)
    assert_json_error(api.post("/check-ins", enrolment(phone.number, daytime_zone())), 409)


def test_the_check_ins_list_needs_a_signed_in_nurse(assistant):
    nobody = NurseApi(assistant, None)
    assert_json_error(nobody.get("/check-ins"), 401)
    assert_json_error(nobody.post("/check-ins", enrolment(new_number(), daytime_zone())), 401)
    assert_json_error(NurseApi(assistant, "not-a-session").post("/check-ins/1/end"), 401)


def today_in(zone: str, days: int) -> str:
    return (datetime.now(ZoneInfo(zone)).date() + timedelta(days=days)).isoformat()


@pytest.mark.parametrize("changes, field", [
    ({"phone": "617-555-0123"}, "phone"),  # no country code
    ({"phone": "+1 (617) 555-01"}, "phone"),  # too short
    ({"phone": "+016175550123"}, "phone"),  # country code 0
    ({"phone": "+1617555012345678"}, "phone"),  # longer than E.164 allows
    ({"phone": "call me"}, "phone"),
    ({"phone": 16175550123}, "phone"),
    ({"phone": None}, "phone"),
    ({"procedure_date": today_in("America/New_York", -30)}, "procedure_date"),  # the programme is over
    ({"procedure_date": today_in("America/New_York", 400)}, "procedure_date"),  # far future
    ({"procedure_date": "12/01/2026"}, "procedure_date"),
    ({"procedure_date": "2026-02-30"}, "procedure_date"),
    ({"procedure_date": None}, "procedure_date"),
    ({"procedure": "spinal fusion"}, "procedure"),
    ({"procedure": None}, "procedure"),
    ({"consent": None}, "consent"),
    ({"consent": False}, "consent"),
    ({"consent": "yes"}, "consent"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone"),
    ({"first_name": SECRET * 3}, "first_name"),
    ({"first_name": "Robert'); DROP TABLE nurses;--"}, "first_name"),
    ({"first_name": 42}, "first_name"),
])
def test_a_bad_enrolment_gets_a_400_naming_the_field_and_enrols_nobody(assistant, api, changes, field):
    body = {**enrolment(new_number(), "America/New_York"), **changes}
    if field == "consent" and changes["consent"] is None:
        del body["consent"]  # missing, not false
    listed_before = api.get("/check-ins").json()["enrolments"]
    response = api.post("/check-ins", body)
    assert_json_error(response, 400)
    assert f"'{field}'" in response.json()["error"]
    assert not isinstance(body["phone"], str) or body["phone"].strip("+") not in response.text
    assert api.get("/check-ins").json()["enrolments"] == listed_before


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
def test_a_body_that_is_not_a_json_object_gets_a_400(assistant, api, body):
    response = requests.post(f"{api.base}/check-ins", data=body, headers={**api.headers, "Content-Type": "application/json"},
                             timeout=30)
    assert_json_error(response, 400)


def test_an_enrolled_patients_number_and_name_never_reach_the_logs(assistant, api):
    name = "Quill" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    phone = Phone(assistant)
    body = enrolment(phone.number, daytime_zone(), first_name=name.capitalize())
    assert api.post("/check-ins", body).status_code == 201
    assert_json_error(api.post("/check-ins", body), 409)
    phone.text("YES")
    [row] = [entry for entry in api.get("/check-ins").json()["enrolments"] if entry["phone"] == phone.number]
    api.post(f"/check-ins/{row['id']}/pause")
    phone.text("STOP")
    lines = lines_at_info_or_above(assistant.workdir / "rasa.log")
    leaked = [line for line in lines if name.lower() in line.lower() or phone.number.lstrip("+") in line]
    assert not leaked, "\n".join(leaked[:5])


def test_a_consent_request_twilio_fails_to_take_is_retried_and_sent_once(assistant, api, engine, twilio):
    phone = Phone(assistant)
    twilio.fail_next("500", "500")
    response = api.post("/check-ins", enrolment(phone.number, daytime_zone()))
    assert response.status_code == 201 and response.json()["consent_request"].startswith("not sent yet")
    assert bodies_to(twilio, phone.number) == []
    [request] = response.json()["enrolment"]["messages"]
    retry_at = datetime.fromisoformat(request["due_at"])
    assert retry_at > datetime.fromisoformat(response.json()["enrolment"]["enrolled_at"])
    clinic = Clinic.on(engine, twilio, SetClock(retry_at))
    clinic.at(retry_at)
    clinic.at(retry_at + timedelta(minutes=30))
    [sent] = bodies_to(twilio, phone.number)
    assert "Reply YES to get check-ins" in sent
