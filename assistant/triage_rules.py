"""Load and validate the triage rules: reviewed YAML under data/triage/.

- words.yml: word classes (lay words, misspellings) the patterns name in CAPITALS;
- signs.yml: the warning signs and how patients write them;
- clinic_policy.yml: the clinic's urgency for each sign, with the leaflet it rests on;
- context.yml: ConText-style rules that decide whether a mention is a report.

Everything is checked before use; a bad file raises TriageRulesError naming the file
and the entry, as the knowledge loader does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, Literal, Optional, TypeVar, Union

import yaml
from pydantic import BaseModel, PositiveInt, StrictBool, StrictStr, ValidationError, root_validator
from spacy.matcher import Matcher
from spacy.vocab import Vocab

from assistant.settings import PROJECT_ROOT
from assistant.vocabulary import URGENCIES

TRIAGE_DIR = PROJECT_ROOT / "data" / "triage"
SOURCES_FILE = PROJECT_ROOT / "data" / "knowledge" / "sources.yml"
CLASS_NAME = re.compile(r"^[A-Z][A-Z_]*$")
# libyaml's safe loader when PyYAML has it: the pure-Python one took 0.6 s of the 0.75 s load.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TokenSpec = Union[StrictStr, dict]
Pattern = list[TokenSpec]


class TriageRulesError(ValueError):
    """A triage rules file is malformed; the message names the file and the entry."""


class Strict(BaseModel):
    class Config:
        extra = "forbid"
        allow_mutation = False


class WordClass(Strict):
    words: Optional[list[StrictStr]] = None
    regex: Optional[StrictStr] = None
    spacy: Optional[dict] = None

    @root_validator(skip_on_failure=True)
    def exactly_one_kind(cls, values: dict) -> dict:
        if sum(values.get(kind) is not None for kind in ("words", "regex", "spacy")) != 1:
            raise ValueError("give exactly one of words, regex or spacy")
        if values.get("regex") is not None:
            try:
                re.compile(values["regex"])
            except re.error as error:
                raise ValueError(f"regex does not compile: {error}") from None
        return values


class WordsFile(Strict):
    keep_whole: list[StrictStr] = []
    classes: dict[StrictStr, WordClass]


class IgnoreRule(Strict):
    why: StrictStr
    followed_by: Optional[Union[StrictStr, list[StrictStr]]] = None
    preceded_by: Optional[Union[StrictStr, list[StrictStr]]] = None
    within: PositiveInt = 1
    number_without: Optional[list[StrictStr]] = None

    @root_validator(skip_on_failure=True)
    def exactly_one_test(cls, values: dict) -> dict:
        if sum(values.get(test) is not None for test in ("followed_by", "preceded_by", "number_without")) != 1:
            raise ValueError("give exactly one of followed_by, preceded_by or number_without")
        return values


class SignEntry(Strict):
    id: StrictStr
    label: StrictStr
    synonyms: list[StrictStr] = []
    misspellings: list[StrictStr] = []
    patterns: list[Pattern] = []
    ignore_when: list[IgnoreRule] = []
    cues_inside_ignored: list[StrictStr] = []
    superseded_by: list[StrictStr] = []

    @root_validator(skip_on_failure=True)
    def has_words(cls, values: dict) -> dict:
        if not (values["synonyms"] or values["misspellings"] or values["patterns"]):
            raise ValueError("give at least one of synonyms, misspellings or patterns")
        return values


class SignsFile(Strict):
    signs: list[dict]


# The leaflets' lists a warning sign can be named in (clinic_policy.yml, listed_in): the
# check-in texts name the signs of the "Call your doctor" list (assistant/check_ins.py).
CALL_YOUR_DOCTOR, POSSIBLE_COMPLICATIONS = "call_your_doctor", "possible_complications"
LEAFLET_LISTS = (CALL_YOUR_DOCTOR, POSSIBLE_COMPLICATIONS)


class PolicyEntry(Strict):
    sign: StrictStr
    urgency: Literal[URGENCIES]  # type: ignore[valid-type]
    leaflet: StrictStr
    listed_in: list[Literal[LEAFLET_LISTS]]  # type: ignore[valid-type]
    leaflet_says: StrictStr


class PolicyFile(Strict):
    policy: list[dict]


class Terminator(Strict):
    literal: StrictStr
    kind: StrictStr
    pattern: Pattern


class CategoryEntry(Strict):
    category: StrictStr
    shown_as: StrictStr
    unless: list[StrictStr] = []


class PseudoRule(Strict):
    literal: StrictStr
    pattern: Pattern
    categories: list[StrictStr]  # the categories of the cues it blocks


class ContextRule(Strict):
    literal: StrictStr
    category: StrictStr
    pattern: Pattern
    direction: Literal["forward", "backward", "bidirectional"]
    terminated_by: list[StrictStr]
    max_scope: Optional[PositiveInt] = None
    only_at_start: StrictBool = False
    allowed_signs: Optional[list[StrictStr]] = None
    excluded_signs: list[StrictStr] = []

    def applies_to_sign(self, sign: str) -> bool:
        return sign not in self.excluded_signs and (self.allowed_signs is None or sign in self.allowed_signs)


class ContextFile(Strict):
    terminators: list[dict]
    discounting: list[dict]
    cancelling: list[dict]
    pseudo: list[dict] = []
    rules: list[dict]


@dataclass(frozen=True)
class WarningSign:
    """A sign as the clinic configured it: how replies name it, its urgency, its leaflet
    and the leaflet's lists that name it."""

    id: str
    label: str
    urgency: str
    leaflet: str
    listed_in: tuple[str, ...]
    leaflet_says: str


@dataclass(frozen=True)
class Sign:
    entry: SignEntry
    patterns: tuple[list[dict], ...]  # spaCy Matcher patterns


RuleEntry = TypeVar("RuleEntry", "ContextRule", "Terminator", "PseudoRule")


@dataclass(frozen=True)
class Rule(Generic[RuleEntry]):
    entry: RuleEntry
    pattern: list[dict]  # a spaCy Matcher pattern


@dataclass(frozen=True)
class TriageRules:
    keep_whole: tuple[str, ...]
    classes: dict[str, WordClass]
    signs: dict[str, Sign]
    policy: dict[str, WarningSign]
    terminators: tuple[Rule[Terminator], ...]
    discounting: tuple[CategoryEntry, ...]  # in precedence order
    cancelling: tuple[CategoryEntry, ...]
    pseudo: tuple[Rule[PseudoRule], ...]
    rules: tuple[Rule[ContextRule], ...]


def read(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise TriageRulesError(f"{path.name}: cannot be read as YAML ({error})") from None


def parse(model: type[Strict], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise TriageRulesError(f"{where}: expected a mapping, got {type(data).__name__}")
    try:
        return model.parse_obj(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'] if part != '__root__') or 'entry'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise TriageRulesError(f"{where}: {problems}") from None


def class_spec(word_class: WordClass) -> dict:
    if word_class.words is not None:
        return {"LOWER": {"IN": [word.lower() for word in word_class.words]}}
    if word_class.regex is not None:
        return {"LOWER": {"REGEX": f"^(?:{word_class.regex})$"}}
    return dict(word_class.spacy or {})


def token_spec(item: TokenSpec, classes: dict[str, WordClass], where: str) -> dict:
    """One token of a pattern: a CLASS or "word|word", in (brackets) if optional, with * if
    it may repeat; "?" and "," are themselves; a dict is a raw spaCy token spec."""
    if isinstance(item, dict):
        return item
    operator = ""
    if len(item) > 2 and item.startswith("(") and item.endswith(")"):
        item, operator = item[1:-1], "?"
    elif len(item) > 1 and item.endswith("*"):
        item, operator = item[:-1], "*"
    if CLASS_NAME.match(item):
        if item not in classes:
            raise TriageRulesError(f"{where}: unknown word class {item} (words.yml)")
        spec = class_spec(classes[item])
    else:
        words = item.lower().split("|")
        if not all(words):
            raise TriageRulesError(f"{where}: empty word in {item!r}")
        spec = {"LOWER": words[0]} if len(words) == 1 else {"LOWER": {"IN": words}}
    if operator:
        spec["OP"] = operator
    return spec


def phrase_pattern(phrase: str) -> list[dict]:
    return [{"LOWER": word} for word in phrase.lower().split()]


def compile_pattern(pattern: Pattern, classes: dict[str, WordClass], where: str) -> list[dict]:
    if not pattern:
        raise TriageRulesError(f"{where}: empty pattern")
    specs = [token_spec(item, classes, where) for item in pattern]
    check_with_spacy(specs, where)
    return specs


@lru_cache(maxsize=1)
def validating_matcher() -> Matcher:
    return Matcher(Vocab(), validate=True)


def check_with_spacy(pattern: list[dict], where: str) -> None:
    try:
        validating_matcher().add("check", [pattern])
    except (ValueError, KeyError, TypeError) as error:
        raise TriageRulesError(f"{where}: not a valid spaCy token pattern ({' '.join(str(error).split())})") from None


def entries(document: Any, key: str, path: Path) -> list:
    items = document.get(key) if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise TriageRulesError(f"{path.name}: expected a top-level '{key}' list")
    return items


def load_words(path: Path) -> WordsFile:
    words = parse(WordsFile, read(path), path.name)
    for name, word_class in words.classes.items():
        if not CLASS_NAME.match(name):
            raise TriageRulesError(f"{path.name}: classes.{name}: class names are CAPITALS and underscores")
        check_with_spacy([class_spec(word_class)], f"{path.name}: classes.{name}")
    return words


def load_signs(path: Path, classes: dict[str, WordClass]) -> dict[str, Sign]:
    signs: dict[str, Sign] = {}
    for index, data in enumerate(entries(read(path), "signs", path)):
        name = data.get("id") if isinstance(data, dict) else None
        where = f"{path.name}: signs[{index}]" + (f" ({name})" if name else "")
        entry = parse(SignEntry, data, where)
        if entry.id in signs:
            raise TriageRulesError(f"{where}: sign '{entry.id}' is declared twice")
        for number, rule in enumerate(entry.ignore_when):
            for words in (rule.followed_by, rule.preceded_by):
                if isinstance(words, str) and (words not in classes or classes[words].spacy is not None):
                    raise TriageRulesError(f"{where}: ignore_when[{number}]: {words} is not a words or regex class")
        phrases = [phrase_pattern(phrase) for phrase in entry.synonyms + entry.misspellings]
        patterns = [
            compile_pattern(pattern, classes, f"{where}: patterns[{number}]")
            for number, pattern in enumerate(entry.patterns)
        ]
        signs[entry.id] = Sign(entry, tuple(phrases + patterns))
    for name, sign in signs.items():
        unknown = set(sign.entry.superseded_by) - set(signs)
        if unknown:
            raise TriageRulesError(f"{path.name}: {name}: superseded_by names unknown signs {sorted(unknown)}")
    return signs


def load_policy(path: Path, signs: dict[str, Sign], sources: set[str]) -> dict[str, WarningSign]:
    policy: dict[str, WarningSign] = {}
    for index, data in enumerate(entries(read(path), "policy", path)):
        name = data.get("sign") if isinstance(data, dict) else None
        where = f"{path.name}: policy[{index}]" + (f" ({name})" if name else "")
        entry = parse(PolicyEntry, data, where)
        if entry.sign not in signs:
            raise TriageRulesError(f"{where}: unknown sign '{entry.sign}' (signs.yml)")
        if entry.sign in policy:
            raise TriageRulesError(f"{where}: sign '{entry.sign}' has two policies")
        if entry.leaflet not in sources:
            raise TriageRulesError(f"{where}: unknown leaflet '{entry.leaflet}' (data/knowledge/sources.yml)")
        policy[entry.sign] = WarningSign(
            entry.sign, signs[entry.sign].entry.label, entry.urgency, entry.leaflet, tuple(entry.listed_in),
            entry.leaflet_says,
        )
    missing = set(signs) - set(policy)
    if missing:
        raise TriageRulesError(f"{path.name}: no urgency for signs {sorted(missing)}")
    return policy


def load_context(path: Path, classes: dict[str, WordClass], signs: dict[str, Sign]) -> tuple:
    document = parse(ContextFile, read(path), path.name)

    def rules_of(key: str, model: type[RuleEntry]) -> list[Rule[RuleEntry]]:
        compiled = []
        for index, data in enumerate(getattr(document, key)):
            literal = data.get("literal") if isinstance(data, dict) else None
            where = f"{path.name}: {key}[{index}]" + (f" ({literal!r})" if literal else "")
            entry = parse(model, data, where)
            compiled.append(Rule(entry, compile_pattern(entry.pattern, classes, where)))
        return compiled

    def categories_of(key: str) -> list[CategoryEntry]:
        return [parse(CategoryEntry, data, f"{path.name}: {key}[{index}]")
                for index, data in enumerate(getattr(document, key))]

    terminators = rules_of("terminators", Terminator)
    discounting, cancelling = categories_of("discounting"), categories_of("cancelling")
    kinds = {rule.entry.kind for rule in terminators}
    cancelling_names = {entry.category for entry in cancelling}
    names = [entry.category for entry in discounting + cancelling]
    if len(names) != len(set(names)):
        raise TriageRulesError(f"{path.name}: a category is declared twice: {names}")
    for index, entry in enumerate(discounting):
        if set(entry.unless) - cancelling_names:
            raise TriageRulesError(
                f"{path.name}: discounting[{index}] ({entry.category}): unless names "
                f"{sorted(set(entry.unless) - cancelling_names)}, not cancelling categories"
            )
    rules = rules_of("rules", ContextRule)
    for index, rule in enumerate(rules):
        where = f"{path.name}: rules[{index}] ({rule.entry.literal!r})"
        if rule.entry.category not in names:
            raise TriageRulesError(f"{where}: unknown category '{rule.entry.category}'; one of {names}")
        if set(rule.entry.terminated_by) - kinds:
            raise TriageRulesError(f"{where}: terminated_by must name terminator kinds {sorted(kinds)}")
        unknown = set(rule.entry.allowed_signs or []) | set(rule.entry.excluded_signs)
        if unknown - set(signs):
            raise TriageRulesError(f"{where}: unknown signs {sorted(unknown - set(signs))}")
    pseudo = rules_of("pseudo", PseudoRule)
    for index, pseudo_rule in enumerate(pseudo):
        if not pseudo_rule.entry.categories or set(pseudo_rule.entry.categories) - set(names):
            raise TriageRulesError(
                f"{path.name}: pseudo[{index}] ({pseudo_rule.entry.literal!r}): categories must name categories {names}"
            )
    if not any(rule.entry.category == entry.category for rule in rules for entry in discounting):
        raise TriageRulesError(f"{path.name}: no rule discounts anything")
    return tuple(terminators), tuple(discounting), tuple(cancelling), tuple(pseudo), tuple(rules)


def source_ids(path: Path = SOURCES_FILE) -> set[str]:
    return {str(source["id"]) for source in entries(read(path), "sources", path) if isinstance(source, dict) and source.get("id")}


def load_rules(directory: Path = TRIAGE_DIR, sources: Path = SOURCES_FILE) -> TriageRules:
    """Read and check every triage rules file; raise TriageRulesError on the first problem."""
    words = load_words(directory / "words.yml")
    signs = load_signs(directory / "signs.yml", words.classes)
    policy = load_policy(directory / "clinic_policy.yml", signs, source_ids(sources))
    terminators, discounting, cancelling, pseudo, rules = load_context(directory / "context.yml", words.classes, signs)
    categories = {entry.category for entry in discounting + cancelling}
    for name, sign in signs.items():
        if set(sign.entry.cues_inside_ignored) - categories:
            raise TriageRulesError(f"signs.yml: {name}: cues_inside_ignored names categories not in context.yml")
    return TriageRules(
        tuple(words.keep_whole), words.classes, signs, policy, terminators, discounting, cancelling, pseudo, rules
    )
