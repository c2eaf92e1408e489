"""The real-style held-out set (tests/data/realworld_heldout.yml, issue #13) is well formed.

It measures how the assistant understands messages as people write them, so a label outside
the vocabulary, a kind left thin or a repeated message would quietly skew every figure.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from assistant.sentence_encoder import MAX_TOKENS, WordPieceTokenizer, basic_tokens
from assistant.settings import PROJECT_ROOT
from assistant.vocabulary import PROCEDURES, TOPICS

REALWORLD = Path(__file__).parent / "data" / "realworld_heldout.yml"
HELDOUT = Path(__file__).parent / "data" / "heldout_questions.yml"
VOCABULARY = PROJECT_ROOT / "build" / "minilm" / "vocab.txt"

KINDS = ("story", "multi", "clinician", "referral", "background")
KEYS = {"kind", "text", "topic", "also", "procedure"}
MIN_MESSAGES = 170
MIN_PER_KIND = 25
MIN_PER_MAIN_TOPIC = 5
MIN_PER_PROCEDURE = 20  # each procedure named, and none named
MIN_STORIES_CUT_BY_ENCODER = 12


def load_messages() -> list[dict]:
    return yaml.safe_load(REALWORLD.read_text(encoding="utf-8"))["messages"]


def normalized(text: str) -> str:
    return " ".join(text.lower().split())


def label_problems(index: int, message: dict) -> list[str]:
    """What is wrong with one entry, each problem naming the entry."""
    where = f"{REALWORLD.name}: messages[{index}]"
    if not isinstance(message, dict) or set(message) != KEYS:
        return [f"{where} must have exactly the keys {sorted(KEYS)}"]
    kind, topic, also = message["kind"], message["topic"], message["also"]
    problems = []
    if kind not in KINDS:
        problems.append(f"{where}: kind {kind!r} is not one of {KINDS}")
    if not isinstance(message["text"], str) or not message["text"].strip():
        problems.append(f"{where}: text must be a non-empty string")
    if kind == "referral":
        if topic is not None or also != []:
            problems.append(f"{where}: a referral has topic null and also []")
    elif topic not in TOPICS:
        problems.append(f"{where}: topic {topic!r} is not a topic id in assistant/vocabulary.py")
    if not isinstance(also, list) or any(other not in TOPICS for other in also):
        problems.append(f"{where}: also must be a list of topic ids")
    elif topic in also or len(set(also)) != len(also):
        problems.append(f"{where}: also repeats a topic")
    if kind == "multi" and not also:
        problems.append(f"{where}: a multi message labels its other questions in also")
    if message["procedure"] is not None and message["procedure"] not in PROCEDURES:
        problems.append(f"{where}: procedure {message['procedure']!r} is not one of {PROCEDURES} or null")
    return problems


def test_every_message_is_labelled_with_the_assistants_vocabulary():
    problems = [problem for index, message in enumerate(load_messages())
                for problem in label_problems(index, message)]
    assert not problems, "\n".join(problems)


def test_the_five_kinds_are_about_equally_represented():
    messages = load_messages()
    per_kind = Counter(message["kind"] for message in messages)
    assert len(messages) >= MIN_MESSAGES
    assert all(per_kind[kind] >= MIN_PER_KIND for kind in KINDS), per_kind
    assert max(per_kind.values()) <= 1.5 * min(per_kind.values()), per_kind


def test_every_topic_is_the_main_question_of_several_messages():
    per_topic = Counter(message["topic"] for message in load_messages())
    thin = {topic: per_topic[topic] for topic in TOPICS if per_topic[topic] < MIN_PER_MAIN_TOPIC}
    assert not thin, f"topics with fewer than {MIN_PER_MAIN_TOPIC} messages: {thin}"


def test_both_procedures_and_no_procedure_are_covered():
    per_procedure = Counter(message["procedure"] for message in load_messages())
    assert all(per_procedure[procedure] >= MIN_PER_PROCEDURE for procedure in (*PROCEDURES, None)), per_procedure


def test_no_message_repeats_another_or_the_older_heldout_set():
    texts = [normalized(message["text"]) for message in load_messages()]
    repeated = [text for text, count in Counter(texts).items() if count > 1]
    older = {normalized(question["text"]) for question in yaml.safe_load(HELDOUT.read_text())["questions"]}
    assert not repeated
    assert not older & set(texts)


def test_a_dozen_stories_are_longer_than_the_sentence_encoder_reads():
    if not VOCABULARY.exists():
        pytest.fail("The sentence encoder is missing: `make setup` builds it.")
    tokenizer = WordPieceTokenizer(VOCABULARY.read_text(encoding="utf-8").splitlines())
    # [CLS] and [SEP] take two of the encoder's MAX_TOKENS places.
    cut = [message for message in load_messages() if message["kind"] == "story" and 2 + sum(
        len(tokenizer.pieces(word)) for word in basic_tokens(message["text"])) > MAX_TOKENS]
    assert len(cut) >= MIN_STORIES_CUT_BY_ENCODER
