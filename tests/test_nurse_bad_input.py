"""Bad input on every nurse-console endpoint: a clear 4xx, nothing stored, no patient text in the error."""
from __future__ import annotations

import uuid

import pytest
import requests

from assistant.db import engine_for
from assistant.escalations import get_escalation, record_escalation
from tests.helpers import SECRET, NurseApi, assert_json_error, new_nurse

NOT_JSON = b"{not json " + SECRET.encode()


@pytest.fixture(scope="module")
def nurse(assistant, knowledge_db_url) -> NurseApi:
    return NurseApi.sign_in(assistant, *new_nurse(knowledge_db_url))


@pytest.fixture
def escalation(knowledge_db_url) -> int:
    return record_escalation(engine_for(knowledge_db_url), sender_id=f"bad-{uuid.uuid4().hex[:8]}", channel="rest",
                             urgency="urgent", signs=["fever"], matched_words=[SECRET])


def send(api: NurseApi, method: str, path: str, body) -> requests.Response:
    if isinstance(body, bytes):
        return requests.request(method, f"{api.base}{path}", data=body, timeout=30,
                                headers={**api.headers, "Content-Type": "application/json"})
    return requests.request(method, f"{api.base}{path}", json=body, headers=api.headers, timeout=30)


LOGIN_BODIES = {
    "not json": (NOT_JSON, 400),
    "a list": (["name", SECRET], 400),
    "no name": ({"secret": SECRET}, 400),
    "no secret": ({"name": "ann"}, 400),
    "empty secret": ({"name": "ann", "secret": ""}, 400),
    "name not text": ({"name": 7, "secret": SECRET}, 400),
    "secret not text": ({"name": "ann", "secret": [SECRET]}, 400),
    "name too long": ({"name": "n" * 65, "secret": SECRET}, 400),
    "secret too long": ({"name": "ann", "secret": SECRET * 20}, 400),
    "wrong secret": ({"name": "ann", "secret": SECRET}, 401),
}


@pytest.mark.parametrize("body, status", LOGIN_BODIES.values(), ids=LOGIN_BODIES.keys())
def test_bad_sign_ins_get_a_clear_error_and_open_no_session(assistant, nurse, body, status):
    before = nurse.get("/audit").json()["entries"]
    assert_json_error(send(NurseApi(assistant, None), "post", "/login", body), status)
    assert nurse.get("/audit").json()["entries"] == before


HANDLE_BODIES = {
    "not json": NOT_JSON,
    "a list": [SECRET],
    "no note": {"text": SECRET},
    "empty note": {"note": "   "},
    "note not text": {"note": {"text": SECRET}},
    "note too long": {"note": SECRET * 200},
}


@pytest.mark.parametrize("body", HANDLE_BODIES.values(), ids=HANDLE_BODIES.keys())
def test_handling_without_a_proper_note_changes_nothing(knowledge_db_url, nurse, escalation, body):
    before = nurse.get("/audit").json()["entries"]
    assert_json_error(send(nurse, "post", f"/escalations/{escalation}/handle", body), 400)
    row = get_escalation(engine_for(knowledge_db_url), escalation)
    assert (row["status"], row["handled_note"], row["claimed_by"]) == ("open", None, None)
    assert nurse.get("/audit").json()["entries"] == before


@pytest.mark.parametrize("action", ["claim", "release", "handle"])
def test_changes_to_a_missing_escalation_are_404(nurse, action):
    assert_json_error(nurse.post(f"/escalations/987654321/{action}", {"note": SECRET}), 404)


@pytest.mark.parametrize("path", ["/escalations/not-a-number/claim", "/escalations/-1", "/escalations/1.5/release"])
def test_malformed_escalation_ids_are_not_found(nurse, path):
    assert nurse.post(path, {}).status_code in (404, 405)
    assert SECRET not in nurse.post(path, {}).text


QUERIES = {
    "status unknown": ("/escalations", {"status": "maybe"}),
    "search too long": ("/escalations", {"q": SECRET * 20}),
    "audit nurse too long": ("/audit", {"nurse": SECRET * 4}),
    "audit sender too long": ("/audit", {"sender": SECRET * 20}),
}


@pytest.mark.parametrize("path, params", QUERIES.values(), ids=QUERIES.keys())
def test_bad_filters_get_a_clear_400(nurse, path, params):
    assert_json_error(nurse.get(path, **params), 400)


def test_an_odd_search_finds_nothing_rather_than_failing(nurse):
    for odd in ("'; DROP TABLE escalations; --", "%", "_", "\\", "\x00"):
        response = nurse.get("/escalations", status="all", q=odd)
        assert response.status_code == 200, odd
    assert nurse.get("/escalations", status="all", q="%").json()["escalations"] == []
