"""Red-flag triage: which warning signs a message reports, and how urgent they are.

The rules are reviewed data (data/triage/, loaded by assistant/triage_rules.py); this is
the engine. spaCy's Matcher finds the signs' mentions on a blank English tokenizer, then
ConText-style cues decide whether each mention is a report: a cue's scope runs in its
direction up to a terminator, and the first discounting category in precedence order
whose cue reaches the mention (and is not cancelled, e.g. history by "since the
procedure") says why it is not a report: denied ("no fever"), history, background to the
procedure, hypothetical, question or possibility. Every discounted finding keeps the rule
and the cue that discounted it. A mention nothing discounts is a report: under-triage is
the failure that matters. Which urgency a sign calls for is the clinic's policy
(data/triage/clinic_policy.yml).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import spacy
from spacy.matcher import Matcher
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span, Token

from assistant.triage_rules import ContextRule, Rule, Sign, TriageRules, WarningSign, WordClass, load_rules
from assistant.vocabulary import EMERGENCY, ROUTINE, URGENCY_RANK, URGENT

__all__ = ["EMERGENCY", "URGENT", "ROUTINE", "Finding", "Triage", "assess", "warning_sign"]

MAX_CHARS = 5000  # longer messages are cut: the nurse line reads the whole text anyway
REPORTED = "reported"
CONTEXT_SHOWN_TOKENS = 12  # a cue further from its mention than this is shown apart from it


@dataclass(frozen=True)
class Finding:
    sign: str
    words: str  # the words that matched, as the patient wrote them
    reported: bool
    reason: str  # "reported", or the discounting category: "denied", "question", ...
    rule: str | None = None  # the literal of the context rule that discounted it
    cue: str | None = None  # that rule's words as the patient wrote them ("no")
    context: str | None = None  # the cue and the mention together, for the nurse ("no fever")

    @property
    def urgency(self) -> str:
        return warning_sign(self.sign).urgency if self.reported else ROUTINE


@dataclass(frozen=True)
class Triage:
    urgency: str
    findings: tuple[Finding, ...] = field(default=())

    @property
    def reported(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.reported)

    @property
    def discounted(self) -> tuple[Finding, ...]:
        """Mentions that are not reports; denials are the nurse's pertinent negatives."""
        return tuple(finding for finding in self.findings if not finding.reported)

    @property
    def signs(self) -> list[str]:
        return list(dict.fromkeys(finding.sign for finding in self.reported))

    def as_dict(self) -> dict:
        return {
            "urgency": self.urgency,
            "signs": self.signs,
            "labels": [warning_sign(sign).label for sign in self.signs],
            "words": [finding.words for finding in self.reported],
            "discounted": [
                {"sign": finding.sign, "label": warning_sign(finding.sign).label, "words": finding.words,
                 "reason": finding.reason, "reason_shown": reason_shown(finding.reason), "rule": finding.rule,
                 "cue": finding.cue, "context": finding.context}
                for finding in self.discounted
            ],
        }


@dataclass(frozen=True)
class Cue:
    rule: ContextRule
    start: int
    end: int
    scope: tuple[int, int]  # tokens [start, end) a mention must begin in

    def reaches(self, mention: Span) -> bool:
        inside = mention.start <= self.start and self.end <= mention.end
        return inside or self.scope[0] <= mention.start < self.scope[1]

    def overlaps(self, mention: Span) -> bool:
        return self.start < mention.end and mention.start < self.end


@dataclass(frozen=True)
class Engine:
    rules: TriageRules
    nlp: spacy.Language
    sign_matcher: Matcher
    context_matcher: Matcher
    context_rules: dict[str, Rule[Any]]  # matcher key -> rule of any kind


@lru_cache(maxsize=1)
def engine() -> Engine:
    return build_engine(load_rules())


def build_engine(rules: TriageRules) -> Engine:
    nlp = spacy.blank("en")
    tokenizer = cast(Tokenizer, nlp.tokenizer)
    for word in rules.keep_whole:
        for variant in {word, word.capitalize(), word.upper()}:
            tokenizer.add_special_case(variant, [{"ORTH": variant}])
    sign_matcher = Matcher(nlp.vocab)
    for name, sign in rules.signs.items():
        sign_matcher.add(name, list(sign.patterns))
    context_matcher = Matcher(nlp.vocab)
    keyed: dict[str, Rule[Any]] = {
        **{f"terminator:{index}": rule for index, rule in enumerate(rules.terminators)},
        **{f"pseudo:{index}": rule for index, rule in enumerate(rules.pseudo)},
        **{f"rule:{index}": rule for index, rule in enumerate(rules.rules)},
    }
    for key, rule in keyed.items():
        context_matcher.add(key, [rule.pattern])
    return Engine(rules, nlp, sign_matcher, context_matcher, keyed)


def warning_sign(sign: str) -> WarningSign:
    """A sign's label, the clinic's urgency for it and the leaflet it rests on."""
    return engine().rules.policy[sign]


def reason_shown(category: str) -> str:
    """How the nurse console words a discounting category: "asked about" for question."""
    return next(entry.shown_as for entry in engine().rules.discounting if entry.category == category)


def token_in(token: Token, word_class: WordClass) -> bool:
    if word_class.words is not None:
        return token.lower_ in {word.lower() for word in word_class.words}
    return word_class.regex is not None and bool(whole_token_regex(word_class.regex).match(token.lower_))


@lru_cache(maxsize=None)
def whole_token_regex(pattern: str) -> re.Pattern:
    return re.compile(f"^(?:{pattern})$")


def near(tokens: Span, words: str | list[str], classes: dict[str, WordClass]) -> bool:
    if isinstance(words, str):
        return any(token_in(token, classes[words]) for token in tokens)
    return any(token.lower_ in words for token in tokens)


def ignored(sign: Sign, mention: Span, doc: Doc, classes: dict[str, WordClass]) -> bool:
    """A mention the sign's ignore_when rules say is not the sign ("collapsed vertebra")."""
    for rule in sign.entry.ignore_when:
        if rule.followed_by is not None and near(doc[mention.end:mention.end + rule.within], rule.followed_by, classes):
            return True
        if rule.preceded_by is not None and near(
            doc[max(0, mention.start - rule.within):mention.start], rule.preceded_by, classes
        ):
            return True
        if rule.number_without is not None and mention.text.replace(".", "", 1).isdigit():
            if not any(token.lower_ in rule.number_without for token in doc):
                return True
    return False


def find_mentions(doc: Doc, found: Engine) -> list[tuple[Sign, Span]]:
    mentions, seen = [], set()
    for match_id, start, end in sorted(found.sign_matcher(doc), key=lambda match: (match[1], -match[2])):
        name = found.nlp.vocab.strings[match_id]
        sign, span = found.rules.signs[name], doc[start:end]
        if (name, start) in seen or ignored(sign, span, doc, found.rules.classes):
            continue
        seen.add((name, start))
        mentions.append((sign, span))
    return mentions


def find_cues(doc: Doc, found: Engine) -> list[Cue]:
    matches = [(found.nlp.vocab.strings[key], start, end) for key, start, end in found.context_matcher(doc)]
    ends_here: list[set[str]] = [set() for _ in doc]  # terminator kinds each token is
    pseudo = []
    for key, start, end in matches:
        if key.startswith("terminator:"):
            for index in range(start, end):
                ends_here[index].add(found.context_rules[key].entry.kind)
        elif key.startswith("pseudo:"):
            pseudo.append((start, end, set(found.context_rules[key].entry.categories)))
    cues = []
    for key, start, end in matches:
        if not key.startswith("rule:"):
            continue
        rule: ContextRule = found.context_rules[key].entry
        stops = set(rule.terminated_by)
        if any(ends_here[index] & stops for index in range(start + 1, end - 1)):
            continue  # a cue never spans a terminator that would end its own scope
        if any(start < pseudo_end and pseudo_start < end and rule.category in blocked
               for pseudo_start, pseudo_end, blocked in pseudo):
            continue
        if rule.only_at_start and not opens_part(doc, start, stops, ends_here):
            continue
        cues.append(Cue(rule, start, end, scope(rule, start, end, stops, ends_here)))
    return cues


def opens_part(doc: Doc, start: int, stops: set[str], ends_here: list[set[str]]) -> bool:
    index = start - 1
    while index >= 0 and doc[index].is_space and not ends_here[index] & stops:
        index -= 1
    return index < 0 or bool(ends_here[index] & stops)


def scope(rule: ContextRule, start: int, end: int, stops: set[str], ends_here: list[set[str]]) -> tuple[int, int]:
    reach = rule.max_scope or len(ends_here)
    forward_end = end
    while forward_end < min(end + reach, len(ends_here)) and not ends_here[forward_end] & stops:
        forward_end += 1
    backward_start = start
    while backward_start > max(start - reach, 0) and not ends_here[backward_start - 1] & stops:
        backward_start -= 1
    if rule.direction == "forward":
        return end, forward_end
    if rule.direction == "backward":
        return backward_start, start
    return backward_start, forward_end


def judge(sign: Sign, mention: Span, cues: list[Cue], rules: TriageRules) -> Finding:
    """The mention as a finding: reported, or discounted with the rule that discounted it."""
    name = sign.entry.id
    reaching = [
        cue for cue in cues
        if cue.rule.applies_to_sign(name) and cue.reaches(mention)
        and not (cue.rule.category in sign.entry.cues_inside_ignored and cue.overlaps(mention))
    ]
    present = {cue.rule.category for cue in reaching}
    for category in rules.discounting:
        if present & set(category.unless) or category.category not in present:
            continue
        cue = min(
            (cue for cue in reaching if cue.rule.category == category.category),
            key=lambda cue: min(abs(cue.start - mention.end), abs(mention.start - cue.end)),
        )
        return Finding(name, mention.text, False, category.category, cue.rule.literal,
                       mention.doc[cue.start:cue.end].text, shown_together(mention, cue))
    return Finding(name, mention.text, True, REPORTED)


def shown_together(mention: Span, cue: Cue) -> str:
    start, end = min(mention.start, cue.start), max(mention.end, cue.end)
    if end - start <= CONTEXT_SHOWN_TOKENS:
        return mention.doc[start:end].text
    first, second = sorted([(cue.start, cue.end), (mention.start, mention.end)])
    return f"{mention.doc[first[0]:first[1]].text} ... {mention.doc[second[0]:second[1]].text}"


def without_superseded(findings: list[Finding], signs: dict[str, Sign]) -> list[Finding]:
    """The emergency reading of the legs ("legs won't move") makes the urgent "weak" redundant."""
    reported = {finding.sign for finding in findings if finding.reported}
    return [
        finding for finding in findings
        if not (finding.reported and reported & set(signs[finding.sign].entry.superseded_by))
    ]


def assess(text: str) -> Triage:
    """Find the warning signs ``text`` reports and the urgency the clinic's policy gives them."""
    found = engine()
    doc = found.nlp(text[:MAX_CHARS])
    mentions = find_mentions(doc, found)
    if not mentions:
        return Triage(ROUTINE)
    cues = find_cues(doc, found)
    findings = without_superseded([judge(sign, span, cues, found.rules) for sign, span in mentions], found.rules.signs)
    urgency = min((finding.urgency for finding in findings), key=URGENCY_RANK.__getitem__, default=ROUTINE)
    return Triage(urgency, tuple(findings))
