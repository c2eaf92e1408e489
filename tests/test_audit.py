"""The audit log: who did what to which conversation, newest first, filterable; appended to, never changed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine

from assistant import audit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'audit.db'}")


def test_entries_are_newest_first_and_filter_by_nurse_and_by_patient(engine):
    audit.record(engine, "ann", audit.VIEWED_TRANSCRIPT, sender_id="pat-1", escalation_id=1, now=NOW)
    audit.record(engine, "bob", audit.CLAIMED, sender_id="pat-1", escalation_id=1, now=NOW + timedelta(minutes=1))
    audit.record(engine, "ann", audit.HANDLED, sender_id="pat-2", escalation_id=2, now=NOW + timedelta(minutes=2))
    everything = audit.entries(engine)
    assert [(e["nurse"], e["action"]) for e in everything] == [("ann", "handled"), ("bob", "claimed"), ("ann", "viewed_transcript")]
    assert everything[0]["at"] == (NOW + timedelta(minutes=2)).isoformat()
    assert [e["action"] for e in audit.entries(engine, nurse="ann")] == ["handled", "viewed_transcript"]
    assert [e["nurse"] for e in audit.entries(engine, sender_id="pat-1")] == ["bob", "ann"]
    assert [e["escalation_id"] for e in audit.entries(engine, nurse="ann", sender_id="pat-2")] == [2]


def test_the_later_actions_have_their_names_and_unknown_ones_are_refused(engine):
    audit.record(engine, "ann", audit.ENROLLED, sender_id="pat-3")
    audit.record(engine, "ann", audit.REPLIED, sender_id="pat-3", escalation_id=4)
    assert [e["action"] for e in audit.entries(engine, sender_id="pat-3")] == ["replied", "enrolled"]
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(engine, "ann", "deleted_entry")
    assert len(audit.entries(engine)) == 2
