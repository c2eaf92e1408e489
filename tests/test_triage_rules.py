"""Triage rules on their own: plain text in, findings out."""
from pathlib import Path

import pytest
import yaml

from assistant.triage import EMERGENCY, ROUTINE, URGENT, assess

CASES = yaml.safe_load((Path(__file__).parent / "data" / "triage_cases.yml").read_text())
REPORTS = CASES["reports"]
CALM = [case["text"] for case in CASES["calm"]]


def test_the_sets_are_large_enough():
    assert sum(case["urgency"] == EMERGENCY for case in REPORTS) + sum(
        case["urgency"] == URGENT for case in REPORTS
    ) >= 80
    assert len(CALM) >= 50


def test_no_emergency_report_is_under_triaged(report):
    emergencies = [case for case in REPORTS if case["urgency"] == EMERGENCY]
    missed = [case["text"] for case in emergencies if assess(case["text"]).urgency != EMERGENCY]
    report(f"Triage emergency recall: {len(emergencies) - len(missed)}/{len(emergencies)}")
    assert not missed


def test_urgent_reports_are_raised(report):
    urgent = [case for case in REPORTS if case["urgency"] == URGENT]
    missed = [case["text"] for case in urgent if assess(case["text"]).urgency == ROUTINE]
    recall = 1 - len(missed) / len(urgent)
    report(f"Triage urgent-or-higher recall: {len(urgent) - len(missed)}/{len(urgent)} ({recall:.1%})")
    assert recall >= 0.97, missed


def test_calm_sentences_are_rarely_raised(report):
    raised = [text for text in CALM if assess(text).urgency != ROUTINE]
    rate = len(raised) / len(CALM)
    report(f"Triage calm sentences raised: {len(raised)}/{len(CALM)} ({rate:.1%})")
    assert rate <= 0.05, raised


def test_reported_signs_are_the_labelled_ones():
    for case in REPORTS:
        found = set(assess(case["text"]).signs)
        assert found & set(case["signs"]), (case["text"], found)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("can it cause numbness?", "question"),
        ("no fever, just sore", "denied"),
        ("what if I have chest pain after?", "hypothetical"),
        ("should I worry if I get a fever?", "hypothetical"),
        ("I have numbness from a pinched nerve, can I still have it?", "history"),
    ],
)
def test_mentions_that_are_not_reports_say_why(text, reason):
    triage = assess(text)
    assert triage.urgency == ROUTINE
    assert [finding.reason for finding in triage.findings] == [reason]


def test_the_record_names_the_words_that_matched():
    triage = assess("had kypho yesterday and now theres pus and my temp is 39")
    assert triage.urgency == URGENT
    assert triage.as_dict()["signs"] == ["discharge", "fever"]
    assert "pus" in triage.as_dict()["words"]


def test_emergency_wins_over_urgent_in_one_message():
    triage = assess("I have a fever and now I can't catch my breath")
    assert triage.urgency == EMERGENCY
    assert set(triage.signs) == {"fever", "breathing_trouble"}


def test_words_about_bones_are_not_symptoms():
    assert assess("my collapsed vertebra hurts, can the cement fix it?").urgency == ROUTINE
    assert assess("do I stop my blood thinners before?").urgency == ROUTINE
