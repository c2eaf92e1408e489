"""The Rasa SDK actions, run with rasa_sdk trackers and dispatchers."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAnswer, ActionDontKnow, ActionReply, ActionTriageFollowUp
from assistant.db import engine_for
from assistant.escalations import escalations_for


@pytest.fixture(autouse=True)
def knowledge(monkeypatch, knowledge_db_url):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", knowledge_db_url)


def tracker(intent, entities=(), slots=None, ranking=(), events=(), triage=None, sender="patient"):
    return Tracker(
        sender_id=sender,
        slots={"topic": None, "procedure": None, **(slots or {})},
        latest_message={
            "text": "(not used)",
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [{"entity": "procedure", "value": value} for value in entities],
            "intent_ranking": [{"name": name, "confidence": 0.1} for name in ranking],
            **({"triage": triage} if triage else {}),
        },
        events=list(events),
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


ANSWERED_BEFORE = [
    {"event": "session_started"}, {"event": "user", "text": "hi"}, {"event": "bot", "text": "Hello!"},
    {"event": "user", "text": "(this turn)"},
]


def run(action, current, customs_expected=1):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, current, {}))
    customs = [message["custom"] for message in dispatcher.messages if message.get("custom")]
    assert len(customs) == customs_expected, dispatcher.messages
    return dispatcher.messages, (customs or [None])[0], events


def test_answer_for_the_procedure_named():
    messages, custom, events = run(ActionAnswer(), tracker("ask_procedure", ["kyphoplasty"]))
    assert custom["type"] == "answer"
    assert (custom["topic"], custom["procedure"]) == ("procedure", "kyphoplasty")
    assert custom["sources"]
    assert "balloon" in messages[0]["text"].lower()
    assert "Source:" in messages[0]["text"]
    assert SlotSet("topic", "procedure") in events and SlotSet("procedure", "kyphoplasty") in events


def test_follow_up_answers_the_previous_topic_for_the_new_procedure():
    _, custom, _ = run(
        ActionAnswer(),
        tracker("inform_procedure", ["kyphoplasty"], slots={"topic": "duration", "procedure": "vertebroplasty"}),
    )
    assert (custom["topic"], custom["procedure"]) == ("duration", "kyphoplasty")


def test_procedure_in_context_applies_to_a_new_question():
    _, custom, _ = run(ActionAnswer(), tracker("ask_pain", slots={"procedure": "kyphoplasty"}))
    assert (custom["topic"], custom["procedure"]) == ("pain", "kyphoplasty")


def test_contact_placeholders_are_filled_in_answers():
    messages, _, _ = run(ActionAnswer(), tracker("ask_warning_signs"))
    assert "{" not in messages[0]["text"]


def test_knowledge_base_down_gives_an_apology_not_a_crash(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'kb.db'}")
    messages, custom, _ = run(ActionAnswer(), tracker("ask_duration"))
    assert messages[0]["response"] == "utter_answer_unavailable"
    assert custom["type"] == "fallback"


def test_dont_know_offers_the_two_closest_topics():
    messages, custom, _ = run(
        ActionDontKnow(), tracker("nlu_fallback", ranking=["nlu_fallback", "ask_pain", "greet", "ask_recovery"])
    )
    assert custom["type"] == "fallback" and custom["topic"] is None
    assert [button["payload"] for button in messages[0]["buttons"]] == ["/ask_pain", "/ask_recovery"]


@pytest.mark.parametrize(
    "intent, response, kind",
    [
        ("greet", "utter_greet", "smalltalk"),
        ("bot_challenge", "utter_bot_challenge", "smalltalk"),
        ("request_human", "utter_handoff", "handoff"),
        ("out_of_scope", "utter_out_of_scope", "fallback"),
    ],
)
def test_conversational_replies(intent, response, kind):
    messages, custom, _ = run(
        ActionReply(), tracker(intent, slots={"procedure": "kyphoplasty"}, events=ANSWERED_BEFORE)
    )
    assert messages[0]["response"] == response
    assert (custom["type"], custom["topic"], custom["procedure"]) == (kind, None, "kyphoplasty")


def test_the_first_reply_of_a_session_ends_with_the_disclaimer():
    messages, _, _ = run(ActionReply(), tracker("greet", events=[{"event": "session_started"}, {"event": "user"}]))
    assert "not medical advice" in messages[-1]["text"]
    messages, _, _ = run(ActionReply(), tracker("greet", events=ANSWERED_BEFORE))
    assert all("not medical advice" not in (message.get("text") or "") for message in messages)


TRIAGE = {"urgency": "urgent", "signs": ["fever"], "labels": ["a fever"], "words": ["fever"]}


def test_triage_follow_up_records_once_and_answers_the_question(knowledge_db_url):
    current = tracker(
        "triage_urgent", ["kyphoplasty"], events=ANSWERED_BEFORE, sender="followup-1",
        triage={**TRIAGE, "question_intent": "ask_recovery"},
    )
    messages, _, events = run(ActionTriageFollowUp(), current, customs_expected=0)
    assert "Source:" in messages[0]["text"]
    assert SlotSet("topic", "recovery") in events and SlotSet("procedure", "kyphoplasty") in events
    run(ActionTriageFollowUp(), current, customs_expected=0)  # the same sign again, just after
    rows = escalations_for(engine_for(knowledge_db_url), "followup-1")
    assert [(row["urgency"], row["signs"], row["status"]) for row in rows] == [("urgent", ["fever"], "open")]


def test_triage_follow_up_without_a_question_only_records(knowledge_db_url):
    current = tracker(
        "triage_urgent", events=ANSWERED_BEFORE, sender="followup-2",
        triage={**TRIAGE, "question_intent": None},
    )
    messages, _, _ = run(ActionTriageFollowUp(), current, customs_expected=0)
    assert messages == []
    assert len(escalations_for(engine_for(knowledge_db_url), "followup-2")) == 1


def test_triage_follow_up_survives_the_database_being_down(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'kb.db'}")
    current = tracker(
        "triage_urgent", events=ANSWERED_BEFORE, triage={**TRIAGE, "question_intent": "ask_pain"}
    )
    messages, _, _ = run(ActionTriageFollowUp(), current, customs_expected=0)
    assert messages == []
