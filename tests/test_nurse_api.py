"""The nurse-line API: triage and answers for callers' words, the escalations queue, access."""
from __future__ import annotations

import uuid

import pytest
import requests

from assistant.settings import load_contacts
from tests.helpers import NurseApi


@pytest.fixture
def api(assistant) -> NurseApi:
    return NurseApi(assistant, assistant.nurse_token)


def test_a_caller_with_a_fever_after_kyphoplasty(api):
    result = api.post("/assess", {"text": "caller says she has a fever since yesterday's kyphoplasty"}).json()
    assert result["urgency"] == "urgent"
    assert [sign["sign"] for sign in result["signs"]] == ["fever"]
    assert "fever" in result["matched_words"]
    assert "today" in result["recommended_action"]
    assert result["procedure"] == "kyphoplasty"
    assert result["answer"]["sources"] and result["answer"]["text"]
    assert len(result["next_topics"]) == 2


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


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_route_needs_a_valid_token(assistant, token):
    api = NurseApi(assistant, token)
    responses = [
        api.post("/assess", {"text": "I have chest pain"}),
        api.get("/escalations"),
        api.get("/escalations/1"),
        api.post("/escalations/1/handle", {"note": "called back"}),
    ]
    for response in responses:
        assert response.status_code == 401
        assert "chest" not in response.text
        assert response.headers.get("WWW-Authenticate") == "Bearer"


def test_bad_requests_get_clear_errors(api):
    assert api.post("/assess", {"text": ""}).status_code == 400
    assert api.post("/assess", ["not", "an", "object"]).status_code == 400
    assert api.post("/assess", {"text": "x" * 6000}).status_code == 413
    assert api.get("/escalations", status="maybe").status_code == 400
    assert api.get("/escalations/999999").status_code == 404


def test_queue_transcript_handling_and_search(assistant, api):
    patient = f"queue-{uuid.uuid4().hex[:10]}"
    assistant.send(patient, "how long does vertebroplasty take")
    assistant.send(patient, "my mum had vertebroplasty and now she has chest pain")
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
    assert said == ["how long does vertebroplasty take", "my mum had vertebroplasty and now she has chest pain"]
    assert any(line["from"] == "assistant" for line in detail["transcript"])

    handled = api.post(f"/escalations/{emergency['id']}/handle", {"note": "Called back, ambulance on its way"}).json()
    assert (handled["status"], handled["handled_note"]) == ("handled", "Called back, ambulance on its way")
    assert all(row["id"] != emergency["id"] for row in api.get("/escalations").json()["escalations"])
    found = api.get("/escalations", status="all", q="ambulance").json()["escalations"]
    assert [row["id"] for row in found] == [emergency["id"]]
    assert api.get("/escalations", status="handled", q=patient).json()["escalations"][0]["id"] == emergency["id"]


def test_the_console_page_is_served(assistant):
    page = requests.get(f"{assistant.url}/webhooks/nurse/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
