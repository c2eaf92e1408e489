"""The Rasa SDK actions, run with rasa_sdk trackers and dispatchers."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionRespond
from assistant.db import engine_for
from assistant.escalations import escalations_for
from assistant.reply import Reply, turn_summary


@pytest.fixture(autouse=True)
def knowledge(monkeypatch, knowledge_db_url):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", knowledge_db_url)


def tracker(intent, entities=(), slots=None, ranking=(), events=(), triage=None, sender="patient", text="(not used)",
            questions=()):
    return Tracker(
        sender_id=sender,
        slots={"topic": None, "procedure": None, "options": None, **(slots or {})},
        latest_message={
            "text": text,
            "questions": list(questions),
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
    {"event": "user", "text": "(this turn)", "message_id": "m-2"},
]


def respond(current, action=None):
    """Run ``action`` (action_respond by default): the one reply it sent, its summary, the
    transcript text and the slots set."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run((action or ActionRespond()).run(dispatcher, current, {}))
    assert len(dispatcher.messages) == 1, dispatcher.messages
    message = dispatcher.messages[0]
    reply = Reply.from_dict(message["custom"]["reply"])
    return reply, turn_summary(reply), message["text"], events


def test_answer_for_the_procedure_named():
    reply, custom, transcript, events = respond(tracker("ask_procedure", ["kyphoplasty"]))
    assert custom["type"] == "answer"
    assert (custom["topic"], custom["procedure"]) == ("procedure", "kyphoplasty")
    assert custom["sources"] and reply.answer.sources
    assert "balloon" in reply.answer.text.lower()
    assert "Source" in transcript and reply.answer.text in transcript
    assert SlotSet("topic", "procedure") in events and SlotSet("procedure", "kyphoplasty") in events


def test_follow_up_answers_the_previous_topic_for_the_new_procedure():
    _, custom, _, _ = respond(
        tracker("inform_procedure", ["kyphoplasty"], slots={"topic": "duration", "procedure": "vertebroplasty"}),
    )
    assert (custom["topic"], custom["procedure"]) == ("duration", "kyphoplasty")


def test_procedure_in_context_applies_to_a_new_question():
    _, custom, _, _ = respond(tracker("ask_pain", slots={"procedure": "kyphoplasty"}))
    assert (custom["topic"], custom["procedure"]) == ("pain", "kyphoplasty")


def test_contact_placeholders_are_filled_in_answers():
    reply, _, _, _ = respond(tracker("ask_warning_signs"))
    assert "{" not in reply.answer.text and "{" not in reply.answer.short


def test_knowledge_base_down_gives_an_apology_not_a_crash(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'kb.db'}")
    reply, custom, _, _ = respond(tracker("ask_duration"))
    assert reply.notice("answer_unavailable") and reply.answer is None
    assert custom["type"] == "fallback"


def test_dont_know_offers_the_two_closest_topics_and_remembers_them():
    reply, custom, _, events = respond(
        tracker("nlu_fallback", ranking=["nlu_fallback", "ask_pain", "greet", "ask_recovery"])
    )
    assert custom["type"] == "fallback" and custom["topic"] is None
    assert [option.topic for option in reply.options] == ["pain", "recovery"]
    assert SlotSet("options", ["pain", "recovery"]) in events


def test_a_number_picks_the_option_offered_and_more_gives_the_whole_answer():
    # The classifier's reading of "2" itself is no other question.
    reply, custom, _, _ = respond(tracker("choose_option", text="2", slots={"options": ["pain", "recovery"]},
                                          questions=[{"intent": "ask_multiple_fractures", "confidence": 0.4, "text": "2"}]))
    assert (custom["type"], custom["topic"], reply.options) == ("answer", "recovery", ())
    reply, custom, _, _ = respond(tracker("ask_more", text="MORE", slots={"topic": "risks"}))
    assert (custom["type"], custom["topic"]) == ("answer", "risks") and reply.answer.expanded


def test_a_number_or_more_with_nothing_to_refer_to_says_so_without_guessing():
    for current in (tracker("choose_option", text="3", slots={"options": ["pain"]}), tracker("ask_more", text="more")):
        reply, custom, _, _ = respond(current)
        assert (custom["type"], custom["topic"], reply.options) == ("fallback", None, ())


def test_other_questions_in_the_message_are_offered_after_the_answer():
    questions = [{"intent": "ask_recovery", "confidence": 0.9, "text": "when can he drive?"},
                 {"intent": "ask_pain", "confidence": 0.8, "text": "will it hurt?"}]
    reply, custom, _, events = respond(tracker("ask_recovery", questions=questions))
    assert custom["topic"] == "recovery" and custom["also_asked"] == ["pain"]
    assert SlotSet("options", ["pain"]) in events


@pytest.mark.parametrize(
    "intent, kind",
    [("greet", "smalltalk"), ("bot_challenge", "smalltalk"), ("request_human", "handoff"),
     ("request_referral", "handoff"), ("out_of_scope", "fallback")],
)
def test_conversational_replies(intent, kind):
    reply, custom, _, _ = respond(tracker(intent, slots={"procedure": "kyphoplasty"}, events=ANSWERED_BEFORE))
    assert reply.message and reply.answer is None
    assert (custom["type"], custom["topic"], custom["procedure"]) == (kind, None, "kyphoplasty")


def test_the_first_reply_of_a_session_carries_the_disclaimer():
    reply, _, _, _ = respond(tracker("greet", events=[{"event": "session_started"}, {"event": "user"}]))
    assert "not medical advice" in reply.notice("disclaimer").text
    reply, _, _, _ = respond(tracker("greet", events=ANSWERED_BEFORE))
    assert reply.notice("disclaimer") is None


TRIAGE = {"urgency": "urgent", "signs": ["fever"], "labels": ["a fever"], "words": ["fever"]}


def test_triage_gives_the_advice_records_once_and_answers_the_question(knowledge_db_url):
    current = tracker(
        "triage_urgent", ["kyphoplasty"], events=ANSWERED_BEFORE, sender="followup-1",
        triage={**TRIAGE, "question_intent": "ask_recovery"},
    )
    reply, custom, transcript, events = respond(current)
    assert (custom["type"], custom["urgency"], custom["topic"]) == ("triage", "urgent", "recovery")
    assert "a fever" in reply.advice.text and transcript.startswith(reply.advice.text)
    assert SlotSet("topic", "recovery") in events and SlotSet("procedure", "kyphoplasty") in events
    respond(current)  # the same sign again, just after
    rows = escalations_for(engine_for(knowledge_db_url), "followup-1")
    assert [(row["urgency"], row["signs"], row["status"], row["message_id"]) for row in rows] == [
        ("urgent", ["fever"], "open", "m-2")
    ]


def test_triage_without_a_question_gives_the_advice_alone(knowledge_db_url):
    current = tracker("triage_urgent", events=ANSWERED_BEFORE, sender="followup-2", triage={**TRIAGE, "question_intent": None})
    reply, custom, _, _ = respond(current)
    assert reply.advice and reply.answer is None and custom["topic"] is None
    assert len(escalations_for(engine_for(knowledge_db_url), "followup-2")) == 1


def test_triage_survives_the_database_being_down(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'kb.db'}")
    current = tracker("triage_urgent", events=ANSWERED_BEFORE, triage={**TRIAGE, "question_intent": "ask_pain"})
    reply, custom, _, _ = respond(current)
    assert reply.advice and custom["type"] == "triage" and reply.notice("answer_unavailable")
