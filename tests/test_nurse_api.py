"""The nurse-line API: accounts and sessions, triage and answers for callers' words with a triage
note, the escalations queue with claims, the live queue, the audit log."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import update

from assistant.accounts import NurseSession, set_disabled, token_hash
from assistant.db import engine_for
from assistant.escalations import record_escalation
from assistant.settings import load_contacts
from tests.helpers import RED_FLAG, NurseApi, new_nurse


@pytest.fixture
def api(assistant) -> NurseApi:
    return NurseApi(assistant, assistant.nurse_token)


@pytest.fixture
def two_nurses(assistant, knowledge_db_url) -> tuple[NurseApi, NurseApi]:
    return tuple(NurseApi.sign_in(assistant, *new_nurse(knowledge_db_url)) for _ in range(2))


def raise_escalation(knowledge_db_url: str, sender: str | None = None, urgency: str = "urgent") -> tuple[int, str]:
    sender = sender or f"api-{uuid.uuid4().hex[:10]}"
    escalation = record_escalation(engine_for(knowledge_db_url), sender_id=sender, channel="sms", urgency=urgency,
                                   signs=["fever"], matched_words=["fever"])
    return escalation, sender


def audit_of(api: NurseApi, **filters) -> list[tuple[str, str]]:
    entries = api.get("/audit", **filters).json()["entries"]
    return [(entry["nurse"], entry["action"]) for entry in entries]


def nurse_of(api: NurseApi) -> str:
    return api.get("/session").json()["nurse"]


# ---------------------------------------------------------------- accounts and sessions


def test_a_nurse_signs_in_with_name_and_secret_and_signs_out(assistant):
    response = requests.post(f"{assistant.url}/webhooks/nurse/api/login",
                             json={"name": assistant.nurse_name, "secret": assistant.nurse_secret}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["nurse"] == assistant.nurse_name and body["idle_minutes"] == 30
    assert body["response_targets_minutes"] == {"emergency": 5, "urgent": 15, "routine": 240}
    assert assistant.nurse_secret not in response.text
    api = NurseApi(assistant, body["token"])
    assert api.get("/escalations").status_code == 200
    assert api.post("/logout").status_code == 200
    assert api.get("/escalations").status_code == 401
    watcher = NurseApi(assistant, assistant.nurse_token)
    assert [action for _, action in audit_of(watcher, nurse=assistant.nurse_name)[:3]] == [
        "logged_in", "logged_out", "logged_in"]


@pytest.mark.parametrize("name, secret", [("nobody-here", "whatever-secret"), (None, "wrong secret, right name")])
def test_a_wrong_name_or_secret_is_refused_without_echoing_it(assistant, name, secret):
    response = requests.post(f"{assistant.url}/webhooks/nurse/api/login",
                             json={"name": name or assistant.nurse_name, "secret": secret}, timeout=30)
    assert response.status_code == 401
    assert response.json() == {"error": "That name and secret were not accepted."}


def test_a_session_idle_past_the_time_out_is_refused(assistant, knowledge_db_url, api):
    assert api.get("/session").status_code == 200
    with engine_for(knowledge_db_url).begin() as connection:
        connection.execute(update(NurseSession).where(NurseSession.token_hash == token_hash(api.token))
                           .values(last_seen_at=datetime.now(timezone.utc) - timedelta(minutes=31)))
    response = api.get("/escalations")
    assert response.status_code == 401 and "timed out" in response.json()["error"]


def test_disabling_an_account_ends_its_open_sessions(assistant, knowledge_db_url):
    name, secret = new_nurse(knowledge_db_url)
    api = NurseApi.sign_in(assistant, name, secret)
    set_disabled(engine_for(knowledge_db_url), name)
    assert api.get("/escalations").status_code == 401
    assert requests.post(f"{api.base}/login", json={"name": name, "secret": secret}, timeout=30).status_code == 401


ROUTES = [("post", "/assess", {"text": "I have chest pain"}), ("get", "/escalations", None),
          ("get", "/escalations/1", None), ("post", "/escalations/1/claim", None),
          ("post", "/escalations/1/release", None), ("post", "/escalations/1/handle", {"note": "called back"}),
          ("post", "/escalations/1/reply", {"text": "about your chest pain"}),
          ("get", "/audit", None), ("get", "/session", None), ("post", "/logout", None), ("get", "/events", None)]


@pytest.mark.parametrize("token", [None, "not-a-session", "ended"])
def test_every_route_needs_a_live_session(assistant, token):
    if token == "ended":
        ended = NurseApi(assistant, assistant.nurse_token)
        ended.post("/logout")
        token = ended.token
    api = NurseApi(assistant, token)
    for method, path, body in ROUTES:
        response = api.post(path, body) if method == "post" else api.get(path)
        assert response.status_code == 401, path
        assert "chest" not in response.text
        assert response.headers.get("WWW-Authenticate") == "Bearer"


def test_the_audit_log_cannot_be_edited_or_deleted_through_the_api(assistant, api):
    before = api.get("/audit").json()["entries"]
    for method in ("put", "patch", "delete"):
        response = requests.request(method, f"{api.base}/audit", headers=api.headers, json={}, timeout=30)
        assert response.status_code in (404, 405)
        response = requests.request(method, f"{api.base}/audit/{before[0]['id']}", headers=api.headers, timeout=30)
        assert response.status_code in (404, 405)
    assert api.get("/audit").json()["entries"][: len(before)] == before


# ---------------------------------------------------------------- assessing a caller's words


def test_a_caller_with_a_fever_after_kyphoplasty(api):
    result = api.post("/assess", {"text": "caller says she has a fever since yesterday's kyphoplasty"}).json()
    assert result["urgency"] == "urgent"
    assert [sign["sign"] for sign in result["signs"]] == ["fever"]
    assert "fever" in result["matched_words"]
    assert "today" in result["recommended_action"]
    assert result["procedure"] == "kyphoplasty"
    assert result["answer"]["sources"] and result["answer"]["text"]
    assert len(result["next_topics"]) == 2


def test_an_assessment_comes_with_a_triage_note(api):
    result = api.post("/assess", {"text": "she had kyphoplasty 3 days ago, now a fever but no chills"}).json()
    note = result["note"]
    assert [(sign["sign"], sign["words"]) for sign in note["signs"]] == [("fever", "fever")]
    assert [sign["sign"] for sign in note["negatives"]] == ["chills"]
    assert note["time_since_procedure"] == {"days": 3, "words": "3 days ago"}
    assert note["procedure"] == "kyphoplasty"
    assert note["disposition"] == {"urgency": "urgent", "action": result["recommended_action"], "reply": None}
    assert note["sources"] == [source["id"] for source in result["answer"]["sources"]]
    assert abs(datetime.fromisoformat(note["at"]) - datetime.now(timezone.utc)) < timedelta(minutes=1)
    for line in ("Time since procedure: 3 days (\"3 days ago\")", "Signs reported: a fever (\"fever\")",
                 "Pertinent negatives: denies chills (\"chills\")", "Disposition: URGENT."):
        assert line in note["text"]


def test_a_routine_question_gets_the_answer_its_facts_and_next_topics(api):
    result = api.post("/assess", {"text": "patient asks if she can eat before"}).json()
    assert result["urgency"] == "routine" and result["signs"] == []
    assert result["answer"]["topic"] == "preparation"
    assert result["procedure"] == "both"
    facts = result["answer"]["facts"]
    assert any(fact["unit"] == "hours" and fact["value_min"] == 6 for fact in facts)
    assert {source["id"] for source in result["answer"]["sources"]} == {"health_library"}
    assert all(topic["topic"] != "preparation" for topic in result["next_topics"])


def test_an_emergency_names_the_emergency_number(api):
    result = api.post("/assess", {"text": "her husband says she collapsed and can't breathe"}).json()
    assert result["urgency"] == "emergency"
    assert load_contacts().emergency_number in result["recommended_action"]


# ---------------------------------------------------------------- the queue


def test_queue_transcript_note_handling_and_search(assistant, api):
    patient = f"queue-{uuid.uuid4().hex[:10]}"
    assistant.send(patient, "how long does vertebroplasty take")
    replies = assistant.send(patient, "my mum had vertebroplasty yesterday and now she has chest pain, no fever")
    asker = f"queue-{uuid.uuid4().hex[:10]}"
    assistant.send(asker, "can I talk to a nurse please")

    queue = api.get("/escalations").json()["escalations"]
    mine = [row for row in queue if row["sender_id"] in (patient, asker)]
    assert {(row["sender_id"], row["kind"], row["urgency"]) for row in mine} == {
        (patient, "triage", "emergency"), (asker, "handoff", "routine"),
    }
    urgencies = [row["urgency"] for row in queue]
    assert urgencies == sorted(urgencies, key=["emergency", "urgent", "routine"].index)

    emergency = next(row for row in mine if row["sender_id"] == patient)
    detail = api.get(f"/escalations/{emergency['id']}").json()
    said = [line["text"] for line in detail["transcript"] if line["from"] == "patient"]
    assert said == ["how long does vertebroplasty take", "my mum had vertebroplasty yesterday and now she has chest pain, no fever"]
    assert any(line["from"] == "assistant" for line in detail["transcript"])

    # The note quotes what the patient was told after the red flag, word for word (REST sends
    # a stored message's paragraphs as separate messages).
    note = detail["note"]
    told = "\n\n".join(message["text"] for message in replies if message.get("text"))
    assert "\n\n".join(note["disposition"]["reply"]) == told
    assert note["disposition"]["reply"][0].startswith("You mentioned chest pain")
    assert [sign["sign"] for sign in note["signs"]] == ["chest_pain"]
    assert [sign["sign"] for sign in note["negatives"]] == ["fever"]
    assert note["time_since_procedure"]["words"] == "yesterday" and note["procedure"] == "vertebroplasty"
    assert f"conversation {patient}" in note["text"]

    handled = api.post(f"/escalations/{emergency['id']}/handle", {"note": "Called back, ambulance on its way"}).json()
    assert (handled["status"], handled["handled_note"]) == ("handled", "Called back, ambulance on its way")
    assert handled["handled_by"] == assistant.nurse_name
    assert all(row["id"] != emergency["id"] for row in api.get("/escalations").json()["escalations"])
    found = api.get("/escalations", status="all", q="ambulance").json()["escalations"]
    assert [row["id"] for row in found] == [emergency["id"]]
    assert api.get("/escalations", status="handled", q=patient).json()["escalations"][0]["id"] == emergency["id"]
    assert audit_of(api, sender=patient)[:2] == [
        (assistant.nurse_name, "handled"), (assistant.nurse_name, "viewed_transcript")]


def test_a_claim_is_seen_by_others_who_cannot_take_or_handle_it(knowledge_db_url, two_nurses):
    ann, bob = two_nurses
    escalation, sender = raise_escalation(knowledge_db_url)
    claimed = ann.post(f"/escalations/{escalation}/claim")
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == nurse_of(ann)

    seen_by_bob = next(row for row in bob.get("/escalations").json()["escalations"] if row["id"] == escalation)
    assert seen_by_bob["claimed_by"] == nurse_of(ann)
    refused = bob.post(f"/escalations/{escalation}/claim")
    assert refused.status_code == 409 and refused.json() == {"error": f"Claimed by {nurse_of(ann)}."}
    assert bob.post(f"/escalations/{escalation}/handle", {"note": "done"}).status_code == 409
    assert bob.post(f"/escalations/{escalation}/release").status_code == 409

    assert ann.post(f"/escalations/{escalation}/handle", {"note": "  "}).status_code == 400
    assert ann.post(f"/escalations/{escalation}/release").json()["claimed_by"] is None
    assert bob.post(f"/escalations/{escalation}/claim").json()["claimed_by"] == nurse_of(bob)
    handled = bob.post(f"/escalations/{escalation}/handle", {"note": "Called back"}).json()
    assert (handled["status"], handled["handled_by"]) == ("handled", nurse_of(bob))
    assert ann.post(f"/escalations/{escalation}/claim").status_code == 409

    assert [action for _, action in audit_of(ann, sender=sender)] == ["handled", "claimed", "released", "claimed"]
    assert [action for _, action in audit_of(ann, sender=sender, nurse=nurse_of(ann))] == ["released", "claimed"]


def test_the_queue_gives_each_item_its_age_and_marks_those_past_the_target(knowledge_db_url, api):
    engine = engine_for(knowledge_db_url)
    ages = {}
    for minutes in (14, 16):
        sender = f"age-{uuid.uuid4().hex[:8]}"
        record_escalation(engine, sender_id=sender, channel="sms", urgency="urgent", signs=["fever"],
                          matched_words=["fever"], now=datetime.now(timezone.utc) - timedelta(minutes=minutes))
        ages[sender] = minutes
    rows = {row["sender_id"]: row for row in api.get("/escalations").json()["escalations"] if row["sender_id"] in ages}
    for sender, minutes in ages.items():
        assert rows[sender]["age_seconds"] // 60 == minutes
        assert rows[sender]["target_minutes"] == 15
        assert rows[sender]["overdue"] is (minutes > 15)


def read_queue_events(stream: requests.Response):
    """Each `queue` event's open escalations, as the server sends them."""
    kind = None
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind == "queue":
            yield json.loads(line.split(":", 1)[1])["escalations"]


def test_the_live_queue_sends_a_new_escalation_within_two_seconds(assistant, api):
    with requests.get(f"{api.base}/events", headers=api.headers, stream=True, timeout=30) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = read_queue_events(stream)
        next(events)  # the queue as it is when the console connects
        sender = f"live-{uuid.uuid4().hex[:10]}"
        sent = time.monotonic()
        assistant.send(sender, RED_FLAG)
        for rows in events:
            if any(row["sender_id"] == sender for row in rows):
                break
        assert time.monotonic() - sent < 2.0


def test_the_console_page_is_served(assistant):
    page = requests.get(f"{assistant.url}/webhooks/nurse/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
