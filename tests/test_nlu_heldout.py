"""Held-out patient questions (tests/data/, never trained on) through the trained model."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from assistant.dialogue import mentioned_procedures, resolve_procedure, topic_for_intent

HELDOUT = Path(__file__).parent / "data" / "heldout_questions.yml"
TUNING = Path(__file__).parent / "data" / "tuning_questions.yml"
REAL_WORLD = Path(__file__).parent / "data" / "realworld_heldout.yml"
MIN_TOPIC_ACCURACY = 0.95
MIN_OUT_OF_SCOPE_REJECTED = 0.90
REJECTING_INTENTS = {"out_of_scope", "nlu_fallback"}


def load_questions(path: Path = HELDOUT) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]


def test_heldout_and_tuning_sets_are_apart_from_training():
    real_world = yaml.safe_load(REAL_WORLD.read_text(encoding="utf-8"))["messages"]
    questions = load_questions() + load_questions(TUNING) + real_world
    assert sum(1 for q in load_questions() if q["topic"]) >= 150
    trained = set()
    for path in Path(__file__).parents[1].glob("data/nlu/*.yml"):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            for line in str(block.get("examples", "")).splitlines():
                trained.add(" ".join(line.lstrip("- ").lower().split()))
    overlap = [q["text"] for q in questions if " ".join(q["text"].lower().split()) in trained]
    assert not overlap


def test_topic_accuracy_on_heldout_questions(assistant, report):
    questions = load_questions()
    asked, right = Counter(), Counter()
    procedure_right = procedure_asked = rejected = out_of_scope = 0
    misses = []
    for question in questions:
        parsed = assistant.parse(question["text"])
        intent = parsed["intent"]["name"]
        if question["topic"] is None:
            out_of_scope += 1
            rejected += intent in REJECTING_INTENTS
            continue
        asked[question["topic"]] += 1
        if topic_for_intent(intent) == question["topic"]:
            right[question["topic"]] += 1
        else:
            misses.append(f"    {question['topic']:>20} <- {intent}: {question['text'][:70]}")
        if question.get("procedure"):
            procedure_asked += 1
            found = resolve_procedure(mentioned_procedures(parsed), previous=None)
            procedure_right += found == question["procedure"]
    accuracy = sum(right.values()) / sum(asked.values())
    lines = [f"Held-out topic accuracy: {accuracy:.1%} ({sum(right.values())}/{sum(asked.values())})"]
    lines += [f"    {topic:>20}: {right[topic]}/{asked[topic]}" for topic in sorted(asked)]
    if procedure_asked:
        lines.append(f"  procedure entity: {procedure_right}/{procedure_asked}")
    if out_of_scope:
        lines.append(f"  out-of-scope rejected: {rejected}/{out_of_scope}")
    lines += ["  misclassified:", *misses]
    report("\n".join(lines))
    assert accuracy >= MIN_TOPIC_ACCURACY, "\n".join(lines)
    assert rejected >= MIN_OUT_OF_SCOPE_REJECTED * out_of_scope, "\n".join(lines)
