"""The triage note: signs in the patient's words, pertinent negatives, time since the procedure,
the disposition with the reply given verbatim, the sources, the time."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from assistant import nurse, triage
from assistant.render import render_transcript
from assistant.reply import Advice, Answer, Reply, Source
from assistant.settings import load_contacts
from assistant.triage_note import as_text, build_note, time_since_procedure

CASES = yaml.safe_load((Path(__file__).parent / "data" / "triage_cases.yml").read_text())
ALL_TEXTS = [case["text"] for case in CASES["reports"]] + [case["text"] for case in CASES["calm"]]
# A Tuesday, so that "last Tuesday" and "on friday" are unambiguous.
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


def note_for(text: str) -> dict:
    note = build_note(text=text, procedure="kyphoplasty", urgency="urgent", action="Urgent: call today.",
                      reply=["Please call today."], sources=["health_library"], at=NOW)
    return {**note, "text": as_text(note, "Note")}


def test_every_report_s_note_names_its_signs_in_the_patient_s_words(report):
    fully_named = 0
    for case in CASES["reports"]:
        note = note_for(case["text"])
        named = {sign["sign"] for sign in note["signs"]}
        assert set(triage.assess(case["text"]).signs) <= named, case["text"]
        assert named & set(case["signs"]), (case["text"], named)
        for sign in note["signs"]:
            assert sign["words"].lower() in case["text"].lower()
            assert f"{sign['label']} (\"{sign['words']}\")" in note["text"]
        fully_named += set(case["signs"]) <= named
    report(f"Triage notes naming every labelled sign: {fully_named}/{len(CASES['reports'])}")


def test_every_denial_lands_among_the_pertinent_negatives():
    denials = 0
    for text in ALL_TEXTS:
        note = note_for(text)
        negatives = {sign["sign"] for sign in note["negatives"]}
        negatives_line = next(line for line in note["text"].splitlines() if line.startswith("Pertinent negatives:"))
        for finding in triage.assess(text).findings:
            if finding.reason == "denied":
                denials += 1
                assert finding.sign in negatives, (text, finding)
                assert triage.warning_sign(finding.sign).label in negatives_line
    assert denials >= 20  # the sets hold a section of denials: the check must have seen them


@pytest.mark.parametrize("text", [
    "no fever, just sore where the needle went",
    "had kypho monday, no numbness or tingling, legs feel fine. when can i go back to work",
])
def test_a_denied_sign_is_a_negative_not_a_sign(text):
    note = note_for(text)
    assert note["signs"] == [] and note["negatives"]
    assert "Signs reported: none" in note["text"]


@pytest.mark.parametrize("text, days, words", [
    ("had kyphoplasty yesterday and now I have chest pain", 1, "yesterday"),
    ("my vertebroplasty was 3 days ago, now a fever", 3, "3 days ago"),
    ("I had the kyphoplasty last Tuesday", 7, "Tuesday"),
    ("I had the procedure on the 12th and my back is swollen", 19, "on the 12th"),
    ("had it on friday", 4, "on friday"),
    ("dad blacked out about an hour ago, he had his kyphoplasty on monday", 1, "on monday"),
])
def test_time_since_the_procedure_is_a_day_count_with_its_words(text, days, words):
    start = text.find("kyphoplasty")
    found = time_since_procedure(text, NOW, [(start, start + 11)] if start >= 0 else [])
    assert found == {"days": days, "words": words}


@pytest.mark.parametrize("text", ["my chest hurts right now", "what is kyphoplasty?", "I have a fever"])
def test_no_time_is_invented_when_none_is_said(text):
    assert time_since_procedure(text, NOW) is None


def stored(reply: Reply) -> dict:
    """A bot message as action_respond stores it: the reply's text, and the reply as data."""
    return {"event": "bot", "text": render_transcript(reply), "data": {"custom": {"reply": reply.as_dict()}}}


def conversation() -> list[dict]:
    red_flag = "I had kyphoplasty yesterday and now I have chest pain, no fever"
    source = Source("health_library", "Vertebroplasty and Kyphoplasty")
    duration = Answer("duration", "How long it takes", "both", "About an hour.", "About an hour.", (source,))
    risks = Answer("risks", "Risks", "kyphoplasty", "Chest pain can be serious.", "Chest pain can be serious.",
                   (Source("family_doctor", "Vertebroplasty for Spine Fracture Pain"),))
    return [
        {"event": "user", "text": "how long does it take", "message_id": "m1", "timestamp": NOW.timestamp() - 60},
        stored(Reply("answer", "both", answer=duration)),
        {"event": "user", "text": red_flag, "message_id": "m2", "timestamp": NOW.timestamp() - 5,
         "parse_data": {"entities": [{"entity": "procedure", "value": "kyphoplasty", "start": 6, "end": 17}]}},
        {"event": "action", "name": "action_respond"},
        stored(Reply("triage", "kyphoplasty", advice=Advice("emergency", ("chest_pain",), "Call 911 now."),
                     answer=risks)),
        {"event": "user", "text": "ok", "message_id": "m3", "timestamp": NOW.timestamp() + 60},
        stored(Reply("smalltalk", "kyphoplasty", message="Take care.")),
    ]


def escalation(message_id: str | None) -> dict:
    return {"id": 7, "sender_id": "pat-1", "kind": "triage", "channel": "rest", "urgency": "emergency",
            "signs": ["chest_pain"], "matched_words": ["chest pain"], "message_id": message_id,
            "created_at": NOW.isoformat()}


@pytest.mark.parametrize("message_id", ["m2", None], ids=["by message id", "by time"])
def test_an_escalation_note_quotes_the_reply_the_patient_was_given(message_id):
    events = conversation()
    note = nurse.escalation_note(escalation(message_id), events, load_contacts())
    assert note["disposition"]["reply"] == [events[4]["text"]]
    assert note["sources"] == ["family_doctor"]
    assert note["disposition"]["urgency"] == "emergency"
    assert load_contacts().emergency_number in note["disposition"]["action"]
    assert [sign["sign"] for sign in note["signs"]] == ["chest_pain"]
    assert [sign["sign"] for sign in note["negatives"]] == ["fever"]
    assert note["procedure"] == "kyphoplasty"
    assert note["time_since_procedure"]["words"] == "yesterday"
    assert note["at"] == NOW.isoformat()
    text = note["text"]
    assert "escalation #7" in text and "pat-1" in text
    assert '"Call 911 now.' in text and "Chest pain can be serious." in text and "Sources: family_doctor" in text
    assert "Take care." not in text and "About an hour." not in text


def test_an_escalation_note_keeps_the_recorded_signs_when_the_message_is_gone():
    note = nurse.escalation_note(escalation("gone"), [], load_contacts())
    assert [sign["sign"] for sign in note["signs"]] == ["chest_pain"]
    assert "(none stored)" in note["text"]
