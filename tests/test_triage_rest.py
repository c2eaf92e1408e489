"""Triage end to end through the REST channel, with and without the action server."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine

from assistant.escalations import escalations_for
from assistant.settings import load_contacts
from tests.helpers import custom_of, new_sender

CASES = yaml.safe_load((Path(__file__).parent / "data" / "triage_cases.yml").read_text())
RANK = {"routine": 0, "urgent": 1, "emergency": 2}


def advice_contact(urgency: str) -> str:
    contacts = load_contacts()
    return contacts.emergency_number if urgency == "emergency" else contacts.nurse_phone


def test_every_report_gets_advice_first_and_one_escalation(assistant, knowledge_db_url, report):
    engine = create_engine(knowledge_db_url)
    failures = []
    for case in CASES["reports"]:
        who = new_sender()
        messages = assistant.send(who, case["text"])
        custom = custom_of(messages)
        first = messages[0].get("text", "")
        rows = escalations_for(engine, who)
        expected = case["urgency"]
        ok = (
            custom["type"] == "triage"
            and RANK[custom["urgency"]] >= RANK[expected]
            and (expected != "emergency" or custom["urgency"] == "emergency")
            and advice_contact(custom["urgency"]) in first
            and first.startswith("You mentioned")
            and len(rows) == 1
            and rows[0]["urgency"] == custom["urgency"]
            and rows[0]["channel"] == "rest"
        )
        if not ok:
            failures.append((case["text"], custom, first[:80], rows))
    report(f"Triage through REST: {len(CASES['reports']) - len(failures)}/{len(CASES['reports'])} reports escalated with advice first")
    assert not failures, failures


def test_calm_sentences_get_calm_answers_and_no_escalation(assistant, knowledge_db_url, report):
    engine = create_engine(knowledge_db_url)
    raised = []
    for case in CASES["calm"]:
        who = new_sender()
        custom = custom_of(assistant.send(who, case["text"]))
        if custom["urgency"] != "routine" or custom["type"] == "triage" or escalations_for(engine, who):
            raised.append(case["text"])
    report(f"Calm sentences raised through REST: {len(raised)}/{len(CASES['calm'])}")
    assert len(raised) / len(CASES["calm"]) <= 0.05, raised


def test_the_question_in_a_red_flag_message_is_answered_after_the_advice(assistant):
    messages = assistant.send(new_sender(), "I had kyphoplasty on monday and now I have a fever. How long is recovery?")
    custom = custom_of(messages)
    assert (custom["type"], custom["urgency"]) == ("triage", "urgent")
    assert (custom["topic"], custom["procedure"]) == ("recovery", "kyphoplasty")
    assert custom["sources"]
    texts = [m["text"] for m in messages if m.get("text")]
    assert texts[0].startswith("You mentioned a fever")
    assert any("Source:" in text for text in texts[1:])


def test_a_red_flag_does_not_lock_the_conversation(assistant, knowledge_db_url):
    who = new_sender()
    assert custom_of(assistant.send(who, "my mum had vertebroplasty and now she cant breathe"))["urgency"] == "emergency"
    later = custom_of(assistant.send(who, "how long does the procedure take?"))
    assert (later["type"], later["urgency"], later["topic"]) == ("answer", "routine", "duration")
    assert later["procedure"] == "vertebroplasty"


def test_repeating_the_same_sign_makes_no_duplicate_record(assistant, knowledge_db_url):
    who = new_sender()
    assistant.send(who, "I have a fever since the kyphoplasty")
    assistant.send(who, "still got the fever")
    assistant.send(who, "now my chest hurts too")
    rows = escalations_for(create_engine(knowledge_db_url), who)
    assert [(row["urgency"], row["signs"]) for row in rows] == [
        ("urgent", ["fever"]), ("emergency", ["chest_pain"]),
    ]


@pytest.mark.parametrize(
    "text, urgency",
    [("I had kyphoplasty yesterday and now I have chest pain", "emergency"),
     ("theres pus coming out of the needle site", "urgent")],
)
def test_advice_arrives_with_the_action_server_stopped(assistant_without_actions, text, urgency):
    messages = assistant_without_actions.send(new_sender(), text)
    custom = custom_of(messages)
    assert (custom["type"], custom["urgency"]) == ("triage", urgency)
    assert messages[0]["text"].startswith("You mentioned")
    assert advice_contact(urgency) in messages[0]["text"]
    assert assistant_without_actions.is_up()
