"""Two nurses claiming one escalation at the same moment, through the API, on PostgreSQL: one wins, the other is told."""
from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import create_engine

from assistant.db import engine_for
from assistant.escalations import get_escalation, record_escalation
from assistant.knowledge.load import load_knowledge
from scripts.servers import serve_assistant
from tests.helpers import NurseApi, new_nurse

ROUNDS = 10


@pytest.fixture(scope="module")
def assistant_on_postgres(tmp_path_factory, postgres_url):
    load_knowledge(create_engine(postgres_url))
    with serve_assistant(tmp_path_factory.mktemp("claims-pg"), postgres_url) as served:
        yield served


def test_two_nurses_claiming_at_once_one_wins_and_the_other_gets_409(assistant_on_postgres, postgres_url):
    nurses = [NurseApi.sign_in(assistant_on_postgres, *new_nurse(postgres_url)) for _ in range(2)]
    names = [nurse.get("/session").json()["nurse"] for nurse in nurses]
    for _ in range(ROUNDS):
        escalation = record_escalation(engine_for(postgres_url), sender_id=f"race-{uuid.uuid4().hex[:8]}",
                                       channel="sms", urgency="emergency", signs=["chest_pain"],
                                       matched_words=["chest pain"])
        start = threading.Barrier(len(nurses))
        answers: dict[str, tuple[int, dict]] = {}

        def claim(nurse: NurseApi, name: str) -> None:
            start.wait()
            response = nurse.post(f"/escalations/{escalation}/claim")
            answers[name] = (response.status_code, response.json())

        threads = [threading.Thread(target=claim, args=pair) for pair in zip(nurses, names)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(status for status, _ in answers.values()) == [200, 409], answers
        winner = next(name for name, (status, _) in answers.items() if status == 200)
        loser = next(name for name in names if name != winner)
        assert answers[loser][1] == {"error": f"Claimed by {winner}."}
        assert get_escalation(engine_for(postgres_url), escalation)["claimed_by"] == winner
        audit = nurses[0].get("/audit", sender=get_escalation(engine_for(postgres_url), escalation)["sender_id"])
        assert [(entry["nurse"], entry["action"]) for entry in audit.json()["entries"]] == [(winner, "claimed")]
