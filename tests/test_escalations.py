"""The escalations table as the nurse line works it: claims, release, handling, search and order in SQL."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, event, insert, text

from assistant import escalations
from assistant.escalations import Escalation, EscalationConflict

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'escalations.db'}")


def raise_one(engine, sender="pat", urgency="urgent", signs=("fever",), minutes_ago=0, words=("fever",)) -> int:
    return escalations.record_escalation(
        engine, sender_id=sender, channel="rest", urgency=urgency, signs=list(signs),
        matched_words=list(words), now=NOW - timedelta(minutes=minutes_ago),
    )


def test_a_claim_shows_who_has_it_and_a_second_nurse_is_refused(engine):
    escalation = raise_one(engine)
    assert escalations.claim(engine, escalation, "ann")["claimed_by"] == "ann"
    with pytest.raises(EscalationConflict, match="Claimed by ann"):
        escalations.claim(engine, escalation, "bob")
    assert escalations.get_escalation(engine, escalation)["claimed_by"] == "ann"


def test_only_the_claimant_releases_and_then_anyone_may_claim(engine):
    escalation = raise_one(engine)
    escalations.claim(engine, escalation, "ann")
    with pytest.raises(EscalationConflict):
        escalations.release(engine, escalation, "bob")
    assert escalations.release(engine, escalation, "ann")["claimed_by"] is None
    assert escalations.claim(engine, escalation, "bob")["claimed_by"] == "bob"


def test_handling_needs_a_note_and_is_refused_while_another_nurse_holds_it(engine):
    escalation = raise_one(engine)
    escalations.claim(engine, escalation, "ann")
    with pytest.raises(ValueError, match="note"):
        escalations.mark_handled(engine, escalation, "ann", "   ")
    with pytest.raises(EscalationConflict, match="Claimed by ann"):
        escalations.mark_handled(engine, escalation, "bob", "called back")
    handled = escalations.mark_handled(engine, escalation, "ann", "called back")
    assert (handled["status"], handled["handled_by"], handled["handled_note"]) == ("handled", "ann", "called back")
    with pytest.raises(EscalationConflict, match="Already handled by ann"):
        escalations.claim(engine, escalation, "bob")


def test_changes_to_a_missing_escalation_say_so(engine):
    raise_one(engine)
    assert escalations.claim(engine, 999, "ann") is None
    assert escalations.release(engine, 999, "ann") is None
    assert escalations.mark_handled(engine, 999, "ann", "note") is None


def test_every_change_moves_the_live_queue_s_change_mark(engine):
    marks = [escalations.change_mark(engine)]
    escalation = raise_one(engine)
    for step in (lambda: escalations.claim(engine, escalation, "ann", now=NOW + timedelta(seconds=1)),
                 lambda: escalations.release(engine, escalation, "ann", now=NOW + timedelta(seconds=2)),
                 lambda: escalations.mark_handled(engine, escalation, "ann", "done", now=NOW + timedelta(seconds=3)),
                 lambda: escalations.delete_escalations_for(engine, "pat")):
        marks.append(escalations.change_mark(engine))
        step()
    marks.append(escalations.change_mark(engine))
    assert all(before != after for before, after in zip(marks, marks[1:])), marks


def test_the_queue_is_most_urgent_first_and_longest_waiting_first(engine):
    newer_urgent = raise_one(engine, "a", "urgent", minutes_ago=1)
    older_urgent = raise_one(engine, "b", "urgent", minutes_ago=20)
    emergency = raise_one(engine, "c", "emergency", ["chest_pain"], minutes_ago=0)
    handled = raise_one(engine, "d", "emergency", ["chest_pain"], minutes_ago=30)
    escalations.mark_handled(engine, handled, "ann", "done")
    assert [row["id"] for row in escalations.list_escalations(engine)] == [emergency, older_urgent, newer_urgent]
    assert [row["id"] for row in escalations.list_escalations(engine, "all")][-1] == handled


def test_search_runs_in_sql_over_the_whole_table(engine):
    # The match is the oldest of 5,100 rows: filtering the newest 5,000 in Python would miss it.
    oldest = raise_one(engine, "needle-sender", minutes_ago=10_000)
    with engine.begin() as connection:
        connection.execute(insert(Escalation.__table__), [
            {"sender_id": f"hay-{n}", "kind": "triage", "channel": "sms", "urgency": "urgent", "signs": ["fever"],
             "matched_words": ["fever"], "created_at": NOW, "status": "open"} for n in range(5_100)
        ])
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    found = escalations.list_escalations(engine, "all", "NEEDLE")
    assert [row["id"] for row in found] == [oldest]
    assert any("LIKE" in statement for statement in statements)


def test_search_treats_wildcards_as_plain_characters(engine):
    percent = raise_one(engine, "pat-1", words=("100% sure it's a fever",))
    raise_one(engine, "pat-2", words=("fever",))
    assert [row["id"] for row in escalations.list_escalations(engine, "all", "100%")] == [percent]
    assert escalations.list_escalations(engine, "all", "pat_") == []
    assert len(escalations.list_escalations(engine, "all", "pat-")) == 2


def test_a_nurse_s_name_and_note_are_searchable(engine):
    escalation = raise_one(engine)
    escalations.mark_handled(engine, escalation, "ann", "Ambulance called")
    assert [row["id"] for row in escalations.list_escalations(engine, "all", "ambulance")] == [escalation]
    assert [row["id"] for row in escalations.list_escalations(engine, "handled", "ann")] == [escalation]


def test_an_older_table_gains_the_new_columns_in_place(engine):
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE escalations (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, kind VARCHAR(20) NOT NULL,"
            " channel VARCHAR(64) NOT NULL, urgency VARCHAR(20) NOT NULL, signs JSON NOT NULL, matched_words JSON NOT NULL,"
            " created_at DATETIME NOT NULL, status VARCHAR(20) NOT NULL, handled_note TEXT, handled_at DATETIME)"))
        connection.execute(text(
            "INSERT INTO escalations (sender_id, kind, channel, urgency, signs, matched_words, created_at, status)"
            " VALUES ('old', 'triage', 'rest', 'urgent', '[\"fever\"]', '[\"fever\"]', '2026-11-30 10:00:00', 'open')"))
    [row] = escalations.list_escalations(engine)
    assert (row["sender_id"], row["claimed_by"], row["message_id"]) == ("old", None, None)
    assert escalations.claim(engine, row["id"], "ann")["claimed_by"] == "ann"


def test_an_item_past_the_clinic_s_target_is_overdue():
    targets = escalations.response_targets()
    row = {"created_at": (NOW - timedelta(minutes=targets["urgent"], seconds=1)).isoformat(),
           "urgency": "urgent", "status": "open"}
    assert escalations.with_age(row, NOW, targets)["overdue"]
    assert not escalations.with_age({**row, "urgency": "routine"}, NOW, targets)["overdue"]
    assert not escalations.with_age({**row, "status": "handled"}, NOW, targets)["overdue"]


@pytest.mark.parametrize("targets, problem", [
    ("{urgent: 15, routine: 240}", "each of emergency, urgent, routine"),
    ("{emergency: 0, urgent: 15, routine: 240}", "response_targets_minutes.emergency"),
    ("{emergency: soon, urgent: 15, routine: 240}", "response_targets_minutes.emergency"),
])
def test_bad_response_targets_name_the_file_and_entry(tmp_path, targets, problem):
    clinic = tmp_path / "clinic.yml"
    clinic.write_text(f"response_targets_minutes: {targets}\n")
    with pytest.raises(ValueError, match=problem) as refused:
        escalations.response_targets(clinic)
    assert str(clinic) in str(refused.value)


def test_two_nurses_claiming_at_once_on_postgresql_one_wins(postgres_url):
    engine = create_engine(postgres_url)
    for round_ in range(20):
        escalation = raise_one(engine, f"race-{round_}")
        start = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def claim_as(nurse: str) -> None:
            start.wait()
            try:
                escalations.claim(engine, escalation, nurse)
                outcomes[nurse] = "won"
            except EscalationConflict:
                outcomes[nurse] = "refused"

        threads = [threading.Thread(target=claim_as, args=(nurse,)) for nurse in ("ann", "bob")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == ["refused", "won"], outcomes
        winner = next(nurse for nurse, outcome in outcomes.items() if outcome == "won")
        assert escalations.get_escalation(engine, escalation)["claimed_by"] == winner
