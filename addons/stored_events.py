"""The stored events a turn needs, and reading them back.

Rasa rebuilds the conversation session from every stored event on each turn, and
its policies and the action server then go through all of them, so each turn was
slower than the one before (py-spy, one sender: 62 ms a turn for the first 48 turns,
237 ms by turn 200, a fifth of it looking up each event's class). The conversation store loads the
last `RECENT_EVENTS` events, and before them only the events that still shape the
conversation's state (each slot's latest value, session start, pauses...), so slots are
those of the whole session. Every event is still stored, and the tracker API still serves them all.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Iterable

from rasa.shared.core.events import (
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    ConversationPaused,
    ConversationResumed,
    Event,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
)

# Every rule looks at the latest turn only, and a turn adds at most about 20 events.
RECENT_EVENTS = 60
# Events older than the recent ones that change the tracker's state for good (the
# others, such as the latest message or action, are superseded by the recent events).
# Of the slot events, the latest for each slot is enough.
STATE_EVENTS = [
    event.type_name for event in (
        SessionStarted, Restarted, AllSlotsReset, ActiveLoop, LoopInterrupted,
        ConversationPaused, ConversationResumed, FollowupAction, ActionExecutionRejected,
    )
]
# Undoing events replay the conversation before them: with one of these among the
# older events, the whole session is loaded, as Rasa does.
UNDOING_EVENTS = [UserUtteranceReverted.type_name, ActionReverted.type_name]


@lru_cache(maxsize=None)
def event_class(type_name: str) -> type[Event]:
    return Event.resolve_by_type(type_name)


def events_from_json(rows: Iterable[str]) -> list[Event]:
    events = []
    for row in rows:
        parameters = json.loads(row)
        event = event_class(parameters["event"])._from_parameters(parameters)
        if event is not None:
            events.append(event)
    return events
