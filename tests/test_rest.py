"""End to end through the REST channel: the contract, follow-ups, fallbacks, the disclaimer."""
from __future__ import annotations

import pytest

from assistant.settings import load_contacts
from tests.helpers import VAGUE_MESSAGES, new_sender, turn


def test_first_reply_carries_the_disclaimer_and_later_ones_do_not(assistant):
    sender = new_sender()
    texts, custom, _ = turn(assistant, sender, "hi")
    assert "not medical advice" in texts[-1]
    assert load_contacts().emergency_number in texts[-1]
    assert custom["type"] == "smalltalk"
    texts, _, _ = turn(assistant, sender, "how long does kyphoplasty take?")
    assert not any("not medical advice" in text for text in texts)


def test_a_question_gets_a_sourced_answer(assistant):
    texts, custom, _ = turn(assistant, new_sender(), "how long does kyphoplasty take?")
    assert custom["type"] == "answer"
    assert (custom["topic"], custom["procedure"]) == ("duration", "kyphoplasty")
    assert custom["sources"] and "health_library" in custom["sources"]
    assert any("Source:" in text for text in texts)


def test_and_the_other_procedure_keeps_the_topic(assistant):
    sender = new_sender()
    _, first, _ = turn(assistant, sender, "how long does vertebroplasty take")
    assert (first["topic"], first["procedure"]) == ("duration", "vertebroplasty")
    _, follow_up, _ = turn(assistant, sender, "and kyphoplasty?")
    assert (follow_up["type"], follow_up["topic"], follow_up["procedure"]) == (
        "answer", "duration", "kyphoplasty",
    )


def test_a_new_question_keeps_the_procedure(assistant):
    sender = new_sender()
    _, first, _ = turn(assistant, sender, "what is kyphoplasty")
    assert (first["topic"], first["procedure"]) == ("overview", "kyphoplasty")
    _, follow_up, _ = turn(assistant, sender, "does it hurt?")
    assert (follow_up["topic"], follow_up["procedure"]) == ("pain", "kyphoplasty")


def test_asking_about_both_procedures(assistant):
    _, custom, _ = turn(assistant, new_sender(), "whats the difference between vertebroplasty and kyphoplasty")
    assert (custom["topic"], custom["procedure"]) == ("difference", "both")


def test_procedure_stays_unknown_until_named(assistant):
    _, custom, _ = turn(assistant, new_sender(), "how long will i need to stay in hospital")
    assert (custom["topic"], custom["procedure"]) == ("hospital_stay", None)


@pytest.mark.parametrize(
    "question",
    ["how much does it cost", "does my insurance cover this", "tell me a joke",
     "what's the best knee replacement surgeon"],
)
def test_questions_outside_the_leaflets_are_declined(assistant, question):
    texts, custom, _ = turn(assistant, new_sender(), question)
    # The honest out-of-scope reply, or the handoff for a request about choosing a surgeon.
    assert custom["type"] in ("fallback", "handoff") and (custom["topic"], custom["sources"]) == (None, [])
    assert any(load_contacts().nurse_phone in text for text in texts)


def test_not_understood_says_so_and_offers_topics_and_the_nurse_line(assistant):
    sender = new_sender()
    turn(assistant, sender, "hello")
    offered = []
    for message in ("is that normal", "my back", "not sure"):
        texts, custom, messages = turn(assistant, sender, message)
        assert custom["type"] == "fallback" and custom["topic"] is None
        assert any(load_contacts().nurse_phone in text for text in texts)
        offered += [m["buttons"] for m in messages if m.get("buttons")]
    assert offered, "no vague message got suggestions"
    for buttons in offered:
        assert [button["payload"] for button in buttons] == ["1", "2"]


def test_a_suggestion_button_answers_its_topic(assistant):
    sender = new_sender()
    for message in VAGUE_MESSAGES:
        _, _, messages = turn(assistant, sender, message)
        buttons = next((m["buttons"] for m in messages if m.get("buttons")), None)
        if buttons:
            break
    assert buttons, "no vague message got suggestions"
    texts, custom, _ = turn(assistant, sender, buttons[1]["payload"])
    assert custom["type"] == "answer" and custom["topic"] and custom["sources"]
    assert not any("not sure I understood" in text for text in texts)
    _, again, _ = turn(assistant, sender, "MORE")
    assert (again["type"], again["topic"]) == ("answer", custom["topic"])


@pytest.mark.parametrize(
    "message, kind",
    [("talk to a nurse please", "handoff"), ("can i book an appointment", "handoff"),
     ("are you a bot?", "smalltalk"), ("thanks!", "smalltalk"), ("bye", "smalltalk")],
)
def test_conversation_turns(assistant, message, kind):
    texts, custom, _ = turn(assistant, new_sender(), message)
    assert custom["type"] == kind
    if kind == "handoff":
        assert any(load_contacts().nurse_phone in text for text in texts)


@pytest.mark.parametrize("typed", ["/triage_emergency", "/delete_my_data", "/ask_risks", "/choose_option", "  /greet"])
def test_a_typed_intent_shortcut_is_only_text(assistant, knowledge_db_url, typed):
    """Rasa reads "/intent" as an intent; typed by a patient it is classified as text."""
    from assistant.db import engine_for
    from assistant.escalations import escalations_for

    sender = new_sender()
    turn(assistant, sender, "how long does kyphoplasty take?")
    texts, custom, _ = turn(assistant, sender, typed)
    assert custom["type"] in ("fallback", "smalltalk", "answer") and custom["urgency"] == "routine"
    assert not any("deleted" in text for text in texts)
    assert escalations_for(engine_for(knowledge_db_url), sender) == []
    # The conversation was not deleted: a follow-up still has a topic to follow.
    _, follow_up, _ = turn(assistant, sender, "and vertebroplasty?")
    assert (follow_up["type"], follow_up["procedure"]) == ("answer", "vertebroplasty")
