"""The Rasa SDK actions, run with rasa_sdk trackers and dispatchers."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionAnswer, ActionDontKnow, ActionReply, ActionSessionStart


@pytest.fixture(autouse=True)
def knowledge(monkeypatch, knowledge_db_url):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", knowledge_db_url)


def tracker(intent, entities=(), slots=None, ranking=()):
    return Tracker(
        sender_id="patient",
        slots={"topic": None, "procedure": None, **(slots or {})},
        latest_message={
            "text": "(not used)",
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [{"entity": "procedure", "value": value} for value in entities],
            "intent_ranking": [{"name": name, "confidence": 0.1} for name in ranking],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action, current):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, current, {}))
    customs = [message["custom"] for message in dispatcher.messages if message.get("custom")]
    assert len(customs) == 1, dispatcher.messages
    return dispatcher.messages, customs[0], events


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
    messages, custom, _ = run(ActionReply(), tracker(intent, slots={"procedure": "kyphoplasty"}))
    assert messages[0]["response"] == response
    assert (custom["type"], custom["topic"], custom["procedure"]) == (kind, None, "kyphoplasty")


def test_session_starts_with_the_disclaimer():
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionSessionStart().run(dispatcher, tracker("greet"), {}))
    assert dispatcher.messages[0]["response"] == "utter_disclaimer"
    assert events[0]["event"] == "session_started"
