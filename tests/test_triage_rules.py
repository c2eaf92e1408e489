"""Triage rules on their own: plain text in, findings out, and the rules files they come from."""
from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import pytest
import yaml

from assistant import triage
from assistant.triage import assess, warning_sign
from assistant.triage_rules import TRIAGE_DIR, TriageRulesError, load_rules
from assistant.vocabulary import EMERGENCY, ROUTINE, URGENT

CASES = yaml.safe_load((Path(__file__).parent / "data" / "triage_cases.yml").read_text())
REPORTS = CASES["reports"]
CALM = [case["text"] for case in CASES["calm"]]
BACKGROUND = [case["text"] for case in CASES["calm"] if case.get("kind") == "background"]
POLICY = yaml.safe_load((TRIAGE_DIR / "clinic_policy.yml").read_text())["policy"]


def test_the_sets_are_large_enough():
    assert sum(case["urgency"] in (EMERGENCY, URGENT) for case in REPORTS) >= 80
    assert len(CALM) >= 100
    assert len(BACKGROUND) >= 30


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


def test_no_family_background_story_raises_triage(report):
    raised = [text for text in BACKGROUND if assess(text).urgency != ROUTINE]
    report(f"Triage background stories raised: {len(raised)}/{len(BACKGROUND)}")
    assert not raised


def test_reported_signs_are_the_labelled_ones():
    for case in REPORTS:
        found = set(assess(case["text"]).signs)
        assert found & set(case["signs"]), (case["text"], found)


def test_triage_takes_a_few_milliseconds_a_message(report):
    texts = [case["text"] for case in REPORTS] + CALM
    assess("warm up")
    timings = []
    for text in texts:
        start = time.perf_counter()
        assess(text)
        timings.append((time.perf_counter() - start) * 1000)
    median = statistics.median(timings)
    report(f"Triage time per message: p50 {median:.2f} ms, max {max(timings):.1f} ms over {len(texts)} cases")
    assert median < 5


@pytest.mark.parametrize(
    "text, reason",
    [
        ("can it cause numbness?", "question"),
        ("no fever, just sore", "denied"),
        ("what if I have chest pain after?", "hypothetical"),
        ("should I worry if I get a fever?", "hypothetical"),
        ("I have numbness from a pinched nerve, can I still have it?", "history"),
        ("my friend said people get chills after it", "possibility"),
        ("mum has severe back pain from the fracture, is she too old for it?", "background"),
    ],
)
def test_mentions_that_are_not_reports_say_why(text, reason):
    triage = assess(text)
    assert triage.urgency == ROUTINE
    assert [finding.reason for finding in triage.findings] == [reason]


def test_a_denial_shows_the_nurse_which_rule_denied_it():
    discounted = assess("no fever, just sore where the needle went").as_dict()["discounted"]
    assert discounted == [{
        "sign": "fever", "label": warning_sign("fever").label, "words": "fever", "reason": "denied",
        "reason_shown": "denied", "rule": discounted[0]["rule"], "cue": "no", "context": "no fever",
    }]
    assert "no" in discounted[0]["rule"]


def test_reported_signs_are_not_listed_as_discounted():
    triage = assess("no chest pain but I have a fever since the kyphoplasty")
    assert triage.as_dict()["signs"] == ["fever"]
    assert [(item["sign"], item["reason"]) for item in triage.as_dict()["discounted"]] == [("chest_pain", "denied")]


@pytest.mark.parametrize(
    "text, urgency",
    [
        ("my dad had it yesterday and now has a fever", URGENT),
        ("since the procedure my mother can't catch her breath", EMERGENCY),
        ("I signed the consent for mum's vertebroplasty, she had it this morning and now she's short of breath",
         EMERGENCY),
        ("the fracture was the reason for his kyphoplasty, since it his back pain is getting worse", URGENT),
        ("her back pain is much worse since the fall", URGENT),
        ("Dad was booked for vertebroplasty and had it done on Thursday. His back pain is getting worse.", URGENT),
    ],
)
def test_a_present_report_after_family_background_is_still_raised(text, urgency):
    assert assess(text).urgency == urgency


def test_the_fracture_as_the_reason_for_treatment_is_background():
    text = ("I'm signing the consent for my father's kyphoplasty. He has had severe back pain "
            "since his vertebra collapsed, that's why the doctor suggested it.")
    triage = assess(text)
    assert triage.urgency == ROUTINE
    assert {finding.sign for finding in triage.findings} == {"severe_back_pain"}
    assert {finding.reason for finding in triage.findings} == {"background"}


def test_a_current_cue_cancels_history():
    assert assess("I used to get numbness in my foot").urgency == ROUTINE
    assert assess("I used to get numbness from sciatica, now new numbness since the kyphoplasty").urgency == URGENT


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
    assert assess("her T12 collapsed in march and she needs vertebroplasty").urgency == ROUTINE
    assert assess("the doctor said her bones are weak").urgency == ROUTINE
    assert assess("do I stop my blood thinners before?").urgency == ROUTINE


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "triage"
    shutil.copytree(TRIAGE_DIR, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_each_sign_takes_its_urgency_and_leaflet_from_the_clinic_policy():
    sources = {source["id"] for source in yaml.safe_load(
        (TRIAGE_DIR.parent / "knowledge" / "sources.yml").read_text())["sources"]}
    assert {entry["sign"] for entry in POLICY} == set(load_rules().signs)
    for entry in POLICY:
        sign = warning_sign(entry["sign"])
        assert (sign.urgency, sign.leaflet) == (entry["urgency"], entry["leaflet"])
        assert sign.leaflet in sources and sign.leaflet_says


def test_the_clinic_policy_decides_a_reported_signs_urgency(rules_copy, monkeypatch):
    message = "had kyphoplasty yesterday and now I have a cough"
    assert assess(message).urgency == URGENT
    edit(rules_copy / "clinic_policy.yml", "  - sign: cough\n    urgency: urgent", "  - sign: cough\n    urgency: emergency")
    monkeypatch.setattr(triage, "engine", lambda: triage.build_engine(load_rules(rules_copy)))
    assert assess(message).urgency == EMERGENCY
    assert warning_sign("cough").urgency == EMERGENCY


# ---- the rules files: a bad file names the file and the entry ----

def test_the_shipped_rules_load():
    rules = load_rules()
    assert rules.signs and rules.rules and rules.terminators
    assert [category.category for category in rules.discounting][0] == "denied"


@pytest.mark.parametrize(
    "file, old, new, expected",
    [
        ("signs.yml", "  - id: fever\n    label: a fever\n", "  - id: fever\n    label: a fever\n    colour: red\n",
         ["signs.yml", "signs[", "(fever)", "colour"]),
        ("signs.yml", "[CHEST, (ANY_WORD), PAIN_NOUN]", "[CHEST, (ANY_WORD), PAIN_NOUNS]",
         ["signs.yml", "(chest_pain)", "patterns[0]", "PAIN_NOUNS"]),
        ("clinic_policy.yml", "  - sign: cough\n    urgency: urgent", "  - sign: cough\n    urgency: soon",
         ["clinic_policy.yml", "(cough)", "urgency"]),
        ("clinic_policy.yml", "  - sign: fever\n    urgency: urgent\n    leaflet: health_library",
         "  - sign: fever\n    urgency: urgent\n    leaflet: a_blog", ["clinic_policy.yml", "(fever)", "a_blog"]),
        ("clinic_policy.yml", "  - sign: fever\n    urgency: urgent\n    leaflet: health_library\n    listed_in: [call_your_doctor]",
         "  - sign: fever\n    urgency: urgent\n    leaflet: health_library\n    listed_in: [call_us]",
         ["clinic_policy.yml", "(fever)", "listed_in"]),
        ("context.yml", "  - {literal: once, category: history,", "  - {literal: once, category: past,",
         ["context.yml", "'once'", "past"]),
        ("context.yml", "  - {literal: once, category: history, pattern: [once], direction: bidirectional,",
         "  - {literal: once, category: history, pattern: [once], direction: sideways,",
         ["context.yml", "'once'", "direction"]),
        ("context.yml", "{literal: chronic, category: history, pattern: [chronic], direction: bidirectional,\n"
         "     terminated_by: [sentence, comma, conjunction]}",
         "{literal: chronic, category: history, pattern: [chronic], direction: bidirectional,\n"
         "     terminated_by: [paragraph]}", ["context.yml", "'chronic'", "terminated_by"]),
        ("words.yml", "  CHEST: {regex: ", "  CHEST: {words: [chest], regex: ", ["words.yml", "CHEST"]),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_file_and_entry(rules_copy, file, old, new, expected):
    edit(rules_copy / file, old, new)
    with pytest.raises(TriageRulesError) as refused:
        load_rules(rules_copy)
    for part in expected:
        assert part in str(refused.value)


def test_a_sign_needs_exactly_one_policy(rules_copy):
    policy = rules_copy / "clinic_policy.yml"
    shipped = policy.read_text()
    edit(policy, "  - sign: cough\n", "  - sign: chills\n")
    with pytest.raises(TriageRulesError, match=r"clinic_policy.yml: policy\[\d+\] \(chills\): .*two policies"):
        load_rules(rules_copy)
    cough = [entry for entry in POLICY if entry["sign"] == "cough"]
    policy.write_text(yaml.safe_dump({"policy": [entry for entry in POLICY if entry not in cough]}))
    assert shipped != policy.read_text()
    with pytest.raises(TriageRulesError, match=r"clinic_policy.yml: no urgency for signs \['cough'\]"):
        load_rules(rules_copy)


def test_a_rules_file_that_is_not_yaml_is_refused(rules_copy):
    (rules_copy / "context.yml").write_text("rules: [unclosed\n")
    with pytest.raises(TriageRulesError, match="context.yml: cannot be read as YAML"):
        load_rules(rules_copy)
