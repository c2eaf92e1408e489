"""What a message asks: its question sentences and requests, the main question and the others.

People tell the story first and ask last ("Mum slipped in March ... the scan showed a
crushed vertebra ... Is she too old for it now?"), or ask several things at once. Classified
whole, such a message is pulled to the story's words (fell, scan, fracture), and the
sentence encoder reads only its first 256 word pieces. So a message of several sentences
is split with spaCy's rule-based sentencizer, its question sentences and requests are
classified on their own as well as the whole message (one batch), and the main question
is the one it asks most directly. A message of one sentence is classified whole, as before.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import takewhile
from typing import Callable, Sequence

import spacy
from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, Span

# [{"name": intent, "confidence": probability}, ...], most likely first.
Ranking = list[dict]
Ranker = Callable[[Sequence[str]], list[Ranking]]

# Words that open a question, also when SMS leaves out the "?": "wat signs shud we look for".
QUESTION_WORDS = frozenset({
    "what", "whats", "wat", "wot", "wht", "how", "hw", "when", "wen", "where", "why", "which", "who",
    "whose",
})
# Auxiliaries that open a yes/no question ("does she need to stop eating before"). Not
# has/have/had/was/am: SMS drops the subject of statements ("had it done last week").
QUESTION_AUXILIARIES = frozenset({
    "is", "are", "r", "do", "does", "did", "can", "cn", "could", "cud", "will", "would", "wud",
    "should", "shud", "shld", "shall", "may", "might", "must",
})
# An auxiliary with a negation opens statements as often as questions ("cant sleep", "dont know").
NEGATIONS = frozenset({"n't", "nt", "not"})
# Openings that ask without a question: "tell me about...", "I want to know...".
REQUESTS = tuple(tuple(phrase.split()) for phrase in (
    "tell me", "please tell me", "pls tell me", "explain", "please explain", "describe",
    "i want to know", "i wanna know", "i need to know", "i 'd like to know", "i d like to know",
    "i would like to know", "i want to ask", "i 'd like to ask", "i would like to ask",
    "i 'm wondering", "i am wondering", "i was wondering", "wondering", "i wonder",
    "my question is", "my question was", "the question is", "let me know", "please let me know",
    "info on", "information on", "information about",
))
# A sentence of these words only asks to ask ("Can I ask you a question?", "Quick question."):
# the question follows it.
PREAMBLE_WORDS = frozenset({
    "can", "could", "may", "i", "ask", "you", "a", "an", "quick", "question", "questions", "few",
    "couple", "of", "something", "have", "got", "'ve", "help", "me", "please", "pls", "hi", "hello",
    "there", "anyone", "someone", "are", "is", "hey", "just", "one", "two", "more",
})
# A question of this intent is none the assistant could offer to answer.
NOT_OFFERED = frozenset({"out_of_scope"})
# Words that join a second question to the first in one sentence: "... and is it painful?".
JOINING_WORDS = frozenset({"and", "&", "+", "or", "plus", "also"})
# Subjects after an auxiliary that make it a question's opening: "and is it", "& will she".
SUBJECTS = frozenset({
    "i", "you", "u", "he", "she", "it", "we", "they", "there", "this", "that", "my", "his", "her",
    "their", "our", "your", "the", "mum", "mom", "dad", "someone", "anyone", "people", "patients",
})
# Words before the question proper: "And will he still need his brace?", "Anyway, my question is...".
LEADING_FILLERS = frozenset({
    "and", "also", "so", "but", "ok", "okay", "oh", "well", "then", "plus", "anyway", "anyways",
    "hi", "hello", "sorry", "now", "lastly", "finally", "please", "pls", "plz",
}) | JOINING_WORDS


@dataclass(frozen=True)
class Question:
    intent: str
    confidence: float
    text: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Reading:
    """The message's intent ranking (its main question's) and its questions, main first."""

    ranking: Ranking
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class QuestionSettings:
    # How much of the whole message's ranking goes into the main question's: "Is that
    # normal?" needs the story before it.
    context_weight: float
    # A question the model places at least this confidently is recognised.
    min_confidence: float


@Language.component("line_breaks_end_sentences")
def line_breaks_end_sentences(doc: Doc) -> Doc:
    """A line break ends a sentence: people write one question a line without a "?"."""
    for token in doc[:-1]:
        if token.is_space and "\n" in token.text:
            doc[token.i + 1].is_sent_start = True
    return doc


def opens_question(words: Sequence[str]) -> bool:
    """Whether the words open a question: a question word, or an auxiliary before its subject."""
    if not words:
        return False
    if words[0] in QUESTION_WORDS:
        return True
    return words[0] in QUESTION_AUXILIARIES and len(words) > 1 and words[1] in SUBJECTS


@Language.component("joined_questions_end_sentences")
def joined_questions_end_sentences(doc: Doc) -> Doc:
    """"How long does it take and is it painful?" asks two questions: the second starts at
    "and" when the word after it opens a question.

    The blank pipeline has no parser to find coordinated clauses (spaCy's English models are
    a download), so this is a rule on the words, after the sentencizer. Only in a sentence
    that opens as a question, so that "she fell and is in pain" stays one statement.
    """
    words = [token.lower_.replace("\u2019", "'") for token in doc]
    for sentence in list(doc.sents):
        if not opens_question(leading_words_skipped(words[sentence.start:sentence.end])):
            continue
        for index in range(sentence.start + 1, sentence.end - 1):
            if words[index] in JOINING_WORDS and opens_question(words[index + 1:index + 3]):
                doc[index].is_sent_start = True
    return doc


@lru_cache(maxsize=1)
def sentence_splitter() -> Language:
    """spaCy's blank English tokenizer and rule-based sentencizer: no model to download."""
    nlp = spacy.blank("en")
    nlp.add_pipe("line_breaks_end_sentences")
    nlp.add_pipe("sentencizer", config={"punct_chars": Sentencizer.default_punct_chars})
    nlp.add_pipe("joined_questions_end_sentences")
    return nlp


def sentences(text: str) -> list[Span]:
    return [sentence for sentence in sentence_splitter()(text).sents if not all(t.is_space for t in sentence)]


def asks(sentence: Span) -> bool:
    """Whether the sentence is a question or a request."""
    tokens = [token for token in sentence if not token.is_space]
    # Typed on a phone, "I’d" and "can’t" have a curly apostrophe.
    words = [token.lower_.replace("\u2019", "'") for token in tokens if not token.is_punct]
    if all(word in PREAMBLE_WORDS for word in words):
        return False
    closing = "".join(token.text for token in takewhile(lambda token: token.is_punct, reversed(tokens)))
    if "?" in closing:
        return True
    words = leading_words_skipped(words)
    if not words:
        return False
    if words[0] in QUESTION_WORDS:
        return True
    if words[0] in QUESTION_AUXILIARIES:
        return len(words) > 1 and words[1] not in NEGATIONS
    return any(tuple(words[: len(request)]) == request for request in REQUESTS)


def leading_words_skipped(words: Sequence[str]) -> list[str]:
    """The words from the question proper on: "And will he..." from "will"."""
    start = 0
    while start < len(words) and words[start] in LEADING_FILLERS:
        start += 1
    return list(words[start:])


def asked_sentences(text: str) -> list[str]:
    """The message's question sentences and requests, in order; empty for a single sentence."""
    found = sentences(text)
    if len(found) < 2:
        return []
    return [sentence.text.strip() for sentence in found if asks(sentence)]


def blend(ranking: Ranking, context: Ranking, context_weight: float) -> Ranking:
    """``ranking`` with ``context_weight`` of ``context`` mixed in, most likely first."""
    context_confidence = {entry["name"]: entry["confidence"] for entry in context}
    return sorted(
        ({"name": entry["name"],
          "confidence": (1 - context_weight) * entry["confidence"] + context_weight * context_confidence[entry["name"]]}
         for entry in ranking),
        key=lambda entry: -entry["confidence"],
    )


def read_message(text: str, rank: Ranker, settings: QuestionSettings) -> Reading:
    """The message's main question first, then each other recognised question in message order."""
    asked = asked_sentences(text)
    whole, *rankings = rank([text, *asked])
    if not asked:
        return Reading(whole, (Question(whole[0]["name"], whole[0]["confidence"], text),))
    in_context = [blend(ranking, whole, settings.context_weight) for ranking in rankings]
    main = main_question_index(in_context, settings)
    questions = [Question(in_context[main][0]["name"], in_context[main][0]["confidence"], asked[main])]
    for index, (sentence, ranking) in enumerate(zip(asked, rankings)):
        top = ranking[0]
        if (
            index != main
            and top["confidence"] >= settings.min_confidence
            and top["name"] not in NOT_OFFERED
            and all(top["name"] != question.intent for question in questions)
        ):
            questions.append(Question(top["name"], top["confidence"], sentence))
    return Reading(in_context[main], tuple(questions))


def main_question_index(rankings: list[Ranking], settings: QuestionSettings) -> int:
    """The first question the model recognises, or the first when it recognises none."""
    for index, ranking in enumerate(rankings):
        if ranking[0]["confidence"] >= settings.min_confidence:
            return index
    return 0
