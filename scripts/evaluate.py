"""make evaluate: answer quality of the assistant, side by side with two references.

Two held-out sets: short direct questions, and real-style messages (long stories, several
questions at once, clinicians' short forms, referral requests, family background stories).
References, measured on the same messages in the same run:
  bm25     keyword search over the knowledge answers (rank-bm25), top answer's topic;
  default  the same training data trained with Rasa's default configuration.
Writes reports/evaluation.md and reports/confusion_*.png, and prints the summary.
"""
from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import textstat  # noqa: E402
import yaml  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support  # noqa: E402

from assistant.dialogue import mentioned_procedures, resolve_procedure, topic_for_intent  # noqa: E402
from assistant.knowledge.load import read_knowledge  # noqa: E402
from assistant.reply_texts import fill_contacts  # noqa: E402
from assistant.settings import PROJECT_ROOT, load_contacts  # noqa: E402
from assistant.triage import ROUTINE, assess  # noqa: E402
from scripts.bench import TrainingInputs  # noqa: E402

REPORTS = PROJECT_ROOT / "reports"
HELDOUT = PROJECT_ROOT / "tests" / "data" / "heldout_questions.yml"
REAL_WORLD = PROJECT_ROOT / "tests" / "data" / "realworld_heldout.yml"
TRIAGE_CASES = PROJECT_ROOT / "tests" / "data" / "triage_cases.yml"
RASA = str(Path(sys.executable).parent / "rasa")
REJECTED = "(rejected)"
DEFAULT_CONFIG = "recipe: default.v1\nlanguage: en\npipeline:\npolicies:\n"


def latest_model(directory: Path) -> str:
    return max(glob.glob(str(directory / "*.tar.gz")), key=os.path.getmtime)


def rasa_predictions(model: str, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa's debug lines would print every question

    agent = Agent.load(model)

    async def parse_all() -> list[dict]:
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(parse_all())


def topic_of(parse: dict) -> str:
    return topic_for_intent(parse["intent"]["name"]) or REJECTED


def bm25_topics(texts: list[str]) -> list[str]:
    documents, topics = [], []
    for topic in read_knowledge().topics:
        for answer in topic["answers"]:
            documents.append(tokens(f"{topic['title']} {answer['web']} {answer['sms']}"))
            topics.append(topic["id"])
    index = BM25Okapi(documents)
    predicted = []
    for text in texts:
        scores = index.get_scores(tokens(text))
        best = max(range(len(scores)), key=scores.__getitem__)
        predicted.append(topics[best] if scores[best] > 0 else REJECTED)
    return predicted


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def quality(questions: list[dict], topics: list[str], procedures: list[str | None] | None) -> dict:
    in_scope = [i for i, q in enumerate(questions) if q["topic"]]
    out_scope = [i for i, q in enumerate(questions) if not q["topic"]]
    truth = [questions[i]["topic"] for i in in_scope]
    predicted = [topics[i] for i in in_scope]
    labels = sorted(set(truth))
    precision, recall, _, _ = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    with_procedure = [i for i in in_scope if questions[i].get("procedure")]
    return {
        "topic_accuracy": sum(t == p for t, p in zip(truth, predicted)) / len(truth),
        "macro_f1": f1_score(truth, predicted, labels=labels, average="macro", zero_division=0),
        "per_topic": {label: (p, r) for label, p, r in zip(labels, precision, recall)},
        "procedure_accuracy": (
            sum(procedures[i] == questions[i]["procedure"] for i in with_procedure) / len(with_procedure)
            if procedures else None
        ),
        "out_of_scope_rejected": sum(topics[i] == REJECTED for i in out_scope) / len(out_scope),
        "truth": truth,
        "predicted": predicted,
        "labels": labels,
    }


def real_world_quality(messages: list[dict], topics: list[str], others: list[list[str]] | None) -> dict:
    """Issue 13's figures from the parses: the main question's topic, the other questions
    offered (a reference that reads one topic a message offers none), referrals given no
    knowledge answer."""
    asked = [i for i, m in enumerate(messages) if m["kind"] != "referral"]
    referrals = [i for i, m in enumerate(messages) if m["kind"] == "referral"]
    second = [(i, topic) for i in asked for topic in messages[i]["also"]]
    return {
        "main_answered": sum(topics[i] == messages[i]["topic"] for i in asked) / len(asked),
        "by_kind": {kind: (sum(topics[i] == messages[i]["topic"] for i in asked if messages[i]["kind"] == kind),
                           sum(messages[i]["kind"] == kind for i in asked))
                    for kind in sorted({messages[i]["kind"] for i in asked})},
        "others_offered": sum(topic in others[i] for i, topic in second) / len(second) if others else 0.0,
        "referrals_declined": sum(topics[i] == REJECTED for i in referrals) / len(referrals),
    }


def other_topics(parse: dict) -> list[str]:
    """The topics of the questions after the main one, as the assistant offers them."""
    return [topic for question in parse.get("questions", [])[1:]
            if (topic := topic_for_intent(question["intent"]))]


def plot_confusion(name: str, result: dict) -> Path:
    labels = result["labels"] + [REJECTED]
    matrix = confusion_matrix(result["truth"], result["predicted"], labels=labels)
    figure, axes = plt.subplots(figsize=(11, 9))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=70, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    for row in range(len(labels)):
        for column in range(len(labels)):
            if matrix[row, column]:
                axes.text(column, row, matrix[row, column], ha="center", va="center", fontsize=7,
                          color="white" if matrix[row, column] > matrix.max() / 2 else "black")
    axes.set_xlabel("predicted topic")
    axes.set_ylabel("true topic")
    axes.set_title(f"Held-out topic confusion: {name}")
    figure.tight_layout()
    path = REPORTS / f"confusion_{name}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def cross_validation() -> dict:
    out = REPORTS / "cross_validation"
    # Rasa writes a report per extractor; one left from an earlier pipeline would be read as new.
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [RASA, "test", "nlu", "--nlu", "data/nlu", "--config", "config.yml", "--cross-validation",
         "--folds", "5", "--out", str(out)],
        cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    intent = json.loads((out / "intent_report.json").read_text())
    entity_files = [path for path in out.glob("*_report.json") if path.name != "intent_report.json"]
    entity = {path.stem.removesuffix("_report"): json.loads(path.read_text()) for path in entity_files}
    return {
        "intent_f1": intent["macro avg"]["f1-score"],
        "entity_f1": {name: report.get("macro avg", {}).get("f1-score") for name, report in entity.items()},
    }


def train_default_reference(workdir: Path) -> str:
    """The NLU data under Rasa's default configuration; a model trained from the same data
    and configuration is kept (its training takes most of an hour on two busy cores)."""
    config = workdir / "default_config.yml"
    config.write_text(DEFAULT_CONFIG)
    model, fingerprint_file = workdir / "default-reference.tar.gz", workdir / "default-reference.fingerprint"
    fingerprint = TrainingInputs(config, PROJECT_ROOT / "domain.yml", (PROJECT_ROOT / "data" / "nlu",)).fingerprint()
    if model.exists() and fingerprint_file.exists() and fingerprint_file.read_text() == fingerprint:
        return str(model)
    subprocess.run(
        [RASA, "train", "nlu", "--nlu", "data/nlu", "--config", str(config), "--out", str(workdir),
         "--fixed-model-name", "default-reference"],
        cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    fingerprint_file.write_text(fingerprint)
    return str(model)


def triage_figures() -> dict:
    cases = yaml.safe_load(TRIAGE_CASES.read_text())
    emergencies = [c for c in cases["reports"] if c["urgency"] == "emergency"]
    urgent = [c for c in cases["reports"] if c["urgency"] == "urgent"]
    return {
        "emergency_recall": sum(assess(c["text"]).urgency == "emergency" for c in emergencies) / len(emergencies),
        "urgent_recall": sum(assess(c["text"]).urgency != ROUTINE for c in urgent) / len(urgent),
        "calm_false_alarms": sum(assess(c["text"]).urgency != ROUTINE for c in cases["calm"]) / len(cases["calm"]),
    }


def readability() -> dict:
    contacts = load_contacts()
    grades = []
    for topic in read_knowledge().topics:
        for answer in topic["answers"]:
            for channel in ("web", "sms"):
                text = fill_contacts(answer[channel], contacts).replace("\n- ", ". ")
                grades.append((textstat.flesch_kincaid_grade(text), f"{topic['id']}/{answer['procedure']}/{channel}"))
    grades.sort(reverse=True)
    return {"mean": sum(g for g, _ in grades) / len(grades), "worst": grades[0][0], "worst_five": grades[:5]}


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def main() -> None:
    REPORTS.mkdir(exist_ok=True)
    workdir = REPORTS / "work"
    workdir.mkdir(exist_ok=True)
    questions = yaml.safe_load(HELDOUT.read_text())["questions"]
    texts = [q["text"] for q in questions]
    real_world = yaml.safe_load(REAL_WORLD.read_text(encoding="utf-8"))["messages"]
    real_texts = [m["text"] for m in real_world]
    held_out = slice(0, len(texts))
    real = slice(len(texts), None)

    # Each reader reads both sets at once: one model load, one keyword index.
    print("Parsing the held-out questions and the real-world messages with the assistant...", flush=True)
    parses = rasa_predictions(latest_model(PROJECT_ROOT / "models"), texts + real_texts)
    print("Keyword-search reference (BM25)...", flush=True)
    bm25_read = bm25_topics(texts + real_texts)
    print("Training and parsing with Rasa's default configuration...", flush=True)
    default_parses = rasa_predictions(train_default_reference(workdir), texts + real_texts)

    assistant, default = (
        quality(questions, [topic_of(p) for p in read[held_out]],
                [resolve_procedure(mentioned_procedures(p), previous=None) for p in read[held_out]])
        for read in (parses, default_parses)
    )
    bm25 = quality(questions, bm25_read[held_out], None)
    real_results = [
        real_world_quality(real_world, [topic_of(p) for p in parses[real]], [other_topics(p) for p in parses[real]]),
        real_world_quality(real_world, bm25_read[real], None),
        real_world_quality(real_world, [topic_of(p) for p in default_parses[real]], None),
    ]
    # Triage reads the message alone, whoever classifies it: one figure for every column.
    backgrounds_raised = sum(assess(m["text"]).urgency != ROUTINE for m in real_world if m["kind"] == "background")
    print("Rasa 5-fold cross-validation of the NLU data...", flush=True)
    cv = cross_validation()
    triage = triage_figures()
    reading = readability()
    pictures = [plot_confusion(name, result) for name, result in
                (("assistant", assistant), ("bm25", bm25), ("rasa_default", default))]

    rows = [
        ("topic accuracy", *(percent(r["topic_accuracy"]) for r in (assistant, bm25, default))),
        ("macro F1", *(f"{r['macro_f1']:.3f}" for r in (assistant, bm25, default))),
        ("procedure accuracy", *(percent(r["procedure_accuracy"]) for r in (assistant, bm25, default))),
        ("out-of-scope rejected", *(percent(r["out_of_scope_rejected"]) for r in (assistant, bm25, default))),
    ]
    table = ["| held-out (190 + 25 questions) | assistant | BM25 reference | Rasa default config |",
             "| --- | --- | --- | --- |", *(f"| {' | '.join(row)} |" for row in rows)]
    kinds = real_results[0]["by_kind"]
    real_rows = [
        ("main question answered", *(percent(r["main_answered"]) for r in real_results)),
        *((f"... {kind} ({total})", *(f"{r['by_kind'][kind][0]}/{total}" for r in real_results))
          for kind, (_, total) in kinds.items()),
        ("other questions offered", *(percent(r["others_offered"]) for r in real_results)),
        ("referrals given no knowledge answer", *(percent(r["referrals_declined"]) for r in real_results)),
        ("background stories raised by triage", *[str(backgrounds_raised)] * len(real_results)),
    ]
    real_table = [f"| real-world ({len(real_world)} messages) | assistant | BM25 reference | Rasa default config |",
                  "| --- | --- | --- | --- |", *(f"| {' | '.join(row)} |" for row in real_rows)]
    lines = [
        "# Evaluation", "", *table, "", *real_table, "",
        "; ".join([f"Cross-validation (5 folds, assistant config): intent macro F1 {cv['intent_f1']:.3f}",
                   *(f"{name} entity macro F1 {f1:.3f}" for name, f1 in cv["entity_f1"].items() if f1 is not None)]),
        "",
        f"Triage: emergency recall {percent(triage['emergency_recall'])}, urgent-or-higher recall "
        f"{percent(triage['urgent_recall'])}, calm false alarms {percent(triage['calm_false_alarms'])}.",
        "",
        f"Readability (Flesch-Kincaid grade, every web and SMS answer): mean {reading['mean']:.1f}, "
        f"worst {reading['worst']:.1f}. Worst five: "
        + "; ".join(f"{where} {grade:.1f}" for grade, where in reading["worst_five"]),
        "", "## Per-topic precision / recall (assistant)", "",
        "| topic | precision | recall |", "| --- | --- | --- |",
        *(f"| {topic} | {p:.2f} | {r:.2f} |" for topic, (p, r) in assistant["per_topic"].items()),
        "", "Confusion matrices: " + ", ".join(path.name for path in pictures),
    ]
    (REPORTS / "evaluation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:len(table) + len(real_table) + 11]))
    print(f"\nReport: {REPORTS / 'evaluation.md'}")


if __name__ == "__main__":
    main()
