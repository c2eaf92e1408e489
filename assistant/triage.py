"""Red-flag triage: which warning signs a message reports, and how urgent they are.

Explainable rules over a spaCy doc: token patterns find symptom mentions (with lay
words and common misspellings), then a NegEx-style pass over the same clause
decides whether each mention is a report ("my chest hurts") or not: denied ("no
fever"), asked about ("can it cause numbness?"), hypothetical ("what if I get a
fever?") or history ("numbness from a pinched nerve"). When in doubt about a
statement, it counts as a report: under-triage is the failure that matters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import spacy
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

EMERGENCY, URGENT, ROUTINE = "emergency", "urgent", "routine"
URGENCY_ORDER = {ROUTINE: 0, URGENT: 1, EMERGENCY: 2}


@dataclass(frozen=True)
class Sign:
    urgency: str
    label: str  # how the reply names it back: "You mentioned chest pain."


SIGNS: dict[str, Sign] = {
    "chest_pain": Sign(EMERGENCY, "chest pain"),
    "breathing_trouble": Sign(EMERGENCY, "trouble breathing"),
    "leg_weakness": Sign(EMERGENCY, "sudden weakness or not being able to move the legs"),
    "paralysis": Sign(EMERGENCY, "paralysis"),
    "collapse": Sign(EMERGENCY, "collapsing or fainting"),
    "declared_emergency": Sign(EMERGENCY, "an emergency"),
    "fever": Sign(URGENT, "a fever"),
    "chills": Sign(URGENT, "chills"),
    "redness": Sign(URGENT, "redness"),
    "swelling": Sign(URGENT, "swelling"),
    "increasing_pain": Sign(URGENT, "pain that is getting worse"),
    "bleeding": Sign(URGENT, "bleeding"),
    "discharge": Sign(URGENT, "discharge from the wound"),
    "severe_back_pain": Sign(URGENT, "severe back or rib pain"),
    "cough": Sign(URGENT, "a cough"),
    "numbness": Sign(URGENT, "numbness"),
    "tingling": Sign(URGENT, "tingling"),
    "weakness": Sign(URGENT, "weakness"),
}


def any_of(*words: str, op: str | None = None) -> dict:
    token = {"LOWER": {"IN": list(words)}}
    if op:
        token["OP"] = op
    return token


def regex(pattern: str, op: str | None = None) -> dict:
    token = {"LOWER": {"REGEX": f"^(?:{pattern})$"}}
    if op:
        token["OP"] = op
    return token


FILLER = {"IS_ALPHA": True, "OP": "?"}
CHEST = regex(r"che?a?st|chst|chets|cheast|chestt")
PAIN_NOUN = regex(r"pains?|pian|pains|ache|aches|pressure|tightness|hurting|discomfort")
HURT_VERB = regex(r"hurts?|hurting|hurted|aches?|aching|burns?|burning|killing|kills")
PAIN_ANY = regex(r"pains?|pian|paine|ache|aches|aching|hurts?|hurting|sore|soreness")
OWNER = any_of("my", "her", "his", "their", "the", "both", op="?")
LEGS = regex(r"legs?|leggs?|feet|foot|knees")
BREATH = regex(r"breath|breathe|breth|breathing|breating|breathin|breaths|brethe|breahte")
WORSE = regex(r"worse|worser|worsening|worst|increasing|increased")
SEVERE = regex(
    r"severe|severly|severely|terrible|terribly|awful|excruciating|unbearable|horrible|intense|"
    r"extreme|agonizing|agony|killing|crushing|worst|sharp|stabbing|bad"
)
BACK_OR_RIBS = regex(r"back|ribs?|ribcage|spine")
CANT = regex(r"can't|cant|cnt|cannot|couldn't|couldnt|cudnt|unable|won't|wont|not")

PATTERNS: dict[str, list[list[dict]]] = {
    "chest_pain": [
        [CHEST, FILLER, PAIN_NOUN],
        [CHEST, FILLER, FILLER, HURT_VERB],
        [PAIN_NOUN, any_of("in", "on", "across"), OWNER, CHEST],
        [HURT_VERB, any_of("in", "on"), OWNER, CHEST],
        [CHEST, any_of("feels", "feel", "is", "was"), FILLER, FILLER, FILLER, FILLER, regex(r"tight|heavy|crushed|squeezed|squeezing|crushing")],
    ],
    "breathing_trouble": [
        [regex(r"short|shortness"), any_of("of"), BREATH],
        [CANT, FILLER, BREATH],
        [CANT, any_of("catch", "get"), OWNER, BREATH],
        [regex(r"trouble|difficulty|hard|struggling|struggle|problems?|labored|laboured"), any_of("time", op="?"), any_of("to", "with", op="?"), BREATH],
        [CANT, any_of("get"), any_of("enough", "any"), any_of("air")],
        [any_of("no"), any_of("air")],
        [any_of("out"), any_of("of"), BREATH],
        [regex(r"breathless|gasping|wheezing|suffocating|choking")],
        [any_of("not"), BREATH],
    ],
    "leg_weakness": [
        [CANT, FILLER, any_of("move", "feel", "lift", "stand", "walk"), OWNER, FILLER, LEGS],
        [CANT, any_of("stand", "walk"), regex(r"up|anymore|at"), FILLER],
        [LEGS, FILLER, regex(r"gave|give|giving|gone"), regex(r"out|way")],
        [LEGS, FILLER, regex(r"buckled|buckling|collapsed|collapsing")],
        [LEGS, FILLER, FILLER, FILLER, regex(r"weak|weakness")],
        [CANT, FILLER, any_of("move"), regex(r"them|it|anything")],
        [CANT, any_of("get"), FILLER, any_of("to"), any_of("move", "work")],
        [LEGS, any_of("are", "is", "feel", "feels", "went", "have", "just", op="?"), FILLER, regex(r"dead|limp|useless|floppy")],
        [LEGS, regex(r"won't|wont|don't|dont|aren't|will not|do"), FILLER, any_of("work", "move", "working", "hold")],
        [regex(r"sudden|suddenly"), FILLER, FILLER, regex(r"weak|weakness")],
    ],
    "paralysis": [
        [regex(r"paraly[sz]ed|paralysis|paralized|paralised|paralyzd|paralysed|paraplegic")],
    ],
    "collapse": [
        [regex(r"fainted|fainting|faint|fainted|faints|passed|passing|pass|blacked|blacking|blackout|keeled")],
        [regex(r"collapsed|collapse|collapses|collapsing")],
        [regex(r"unconscious|unresponsive")],
        [any_of("out"), any_of("cold")],
    ],
    "declared_emergency": [
        [regex(r"emergency|emergancy|emergeny|emerg|911|999|112|ambulance")],
        [any_of("dying")],
    ],
    "fever": [
        [regex(r"fever|feaver|fevers|feverish|fevre|fver|fevr|febrile|temperature|temp|temprature|tempreture")],
        [any_of("burning"), any_of("up")],
        [regex(r"10[0-4](?:\.\d)?|3[89](?:\.\d)?")],
    ],
    "chills": [
        [regex(r"chills|chill|chilly|chils|shivering|shivers|shiver|shivery|shaking|shakes|rigors|chattering")],
    ],
    "redness": [
        [regex(r"red|redness|reddish|redder|reddening|inflamed")],
    ],
    "swelling": [
        [regex(r"swollen|swelling|swolen|swelled|swollon|sweling|swelling|puffy|puffed|lump|bulge|bulging")],
    ],
    "increasing_pain": [
        [PAIN_ANY, FILLER, FILLER, FILLER, FILLER, FILLER, FILLER, WORSE],
        [WORSE, FILLER, PAIN_ANY],
        [PAIN_ANY, regex(r"more|increasing|worse")],
        [any_of("more"), any_of("and"), any_of("more"), FILLER, PAIN_ANY],
    ],
    "bleeding": [
        [regex(r"bleeding|bleading|bleedin|bleed|bleeds|bled|blood|bloody|hemorrhaging")],
    ],
    "discharge": [
        [regex(r"pus|puss|oozing|ooze|oozes|oozed|discharge|drainage|draining|weeping|seeping|gunk|goo|leaking|leaks|leak")],
        [regex(r"fluid|liquid|stuff|yellow|green"), FILLER, regex(r"coming|comes|came"), any_of("out")],
    ],
    "severe_back_pain": [
        [SEVERE, FILLER, BACK_OR_RIBS, FILLER, PAIN_ANY],
        [BACK_OR_RIBS, FILLER, FILLER, regex(r"killing|agony|unbearable|excruciating|terrible|awful|severe")],
        [regex(r"ribs?|ribcage"), FILLER, PAIN_ANY],
        [PAIN_ANY, any_of("in", "round", "around", "under", "near", "by", "across"), OWNER, FILLER, regex(r"ribs?|ribcage")],
    ],
    "cough": [
        [regex(r"cough|coughing|coughed|coughs|cougning|caugh|coff|coughin")],
    ],
    "numbness": [
        [regex(r"numb|numbness|numbnes|numbess|numness|num|numbing")],
        [CANT, any_of("feel"), OWNER, FILLER],
        [regex(r"no|lost|losing|loss"), any_of("of", op="?"), any_of("feeling", "sensation")],
    ],
    "tingling": [
        [regex(r"tingling|tingly|tingle|tingles|tinglin|prickling|prickly|buzzing")],
        [any_of("pins"), regex(r"and|&|n"), any_of("needles")],
    ],
    "weakness": [
        [regex(r"weak|weakness|weaker|weakened|weaknes")],
    ],
}

# A mention followed by one of these is about bones, not a person: "collapsed vertebra".
BONE_WORDS = {"vertebra", "vertebrae", "bone", "bones", "disc", "discs", "fracture", "fractures", "spine", "vertebrae's"}
# Mentions that are never symptoms: "red blood cells", "blood thinners", "blood tests".
NOT_SYMPTOM_AFTER = {
    "bleeding": {"thinner", "thinners", "test", "tests", "work", "pressure", "disorder", "disorders", "sugar", "cells", "count"},
    "collapse": BONE_WORDS,
    "redness": {"cross"},
    "declared_emergency": {"room"},
}

NEGATIONS = {
    "no", "not", "never", "without", "denies", "deny", "dont", "don't", "doesnt", "doesn't",
    "didnt", "didn't", "havent", "haven't", "hasnt", "hasn't", "isnt", "isn't", "arent", "aren't",
    "wasnt", "wasn't", "nor", "none", "nothing", "zero", "free", "nope", "neither",
}
# Signs whose own patterns contain a negation word ("can't breathe").
NEGATION_IS_THE_SIGN = {"breathing_trouble", "leg_weakness", "numbness"}
QUESTION_STARTERS = {
    "can", "could", "will", "would", "does", "do", "did", "is", "are", "should", "shall",
    "what", "how", "why", "when", "which", "who", "may", "might", "any", "whats", "what's",
    "hows", "isnt", "r", "wat", "wht", "cn", "cud", "wud", "wil", "shud", "shld", "wats", "y",
}
# Words that put a mention in a hypothetical up to the next comma: "if I get a fever, ...".
CONDITIONAL = re.compile(r"\b(if|what if|wat if|in case|incase|suppose|supposing|whether|when|whenever|say (i|she|he|my|we))\b")
# Asking about risks is not reporting: "is paralysis a real risk?".
ABOUT_RISK = re.compile(
    r"\b(risks?|chances?|side effects?|cause|causes|possible|possibility|signs? of|symptoms? of|"
    r"watch(?:ing)? (?:out )?for|look(?:ing)? out for|expect|normal to|common to|likely|happen|happens|ever|"
    r"people|someone|anyone|friend said|heard|read that|they say)\b"
)
PERSON = (
    r"\b(i|im|i'm|ive|i've|i am|me|my|she|he|she's|he's|shes|hes|her|his|him|"
    r"mom|mum|mother|dad|father|husband|wife|son|daughter|grandma|grandpa|grandad|granny|nan|"
    r"aunt|uncle|sister|brother|partner|patient|caller)\b"
)
REPORT = re.compile(
    PERSON + r".*\b(have|has|having|had|got|gotten|getting|gets|is|are|am|was|were|feel|feels|"
    r"feeling|felt|started|starting|developed|noticed|keep|keeps|kept|woke|been|running|can't|cant|"
    r"cnt|cannot|couldn't|couldnt|won't|wont|unable)\b"
    r"|\b(now|today|tonight|this morning|last night|all day|rn|right now|2day|2nite|since)\b"
    r"|\bwhy\b.*" + PERSON
)
HISTORY = re.compile(
    r"\b(years? ago|last year|months ago|for (years|decades|ages)|used to|in the past|history of|once|"
    r"(?<!than )before (my|the|her|his|he|she|i)\b|pinched nerve|always (had|have|has)|chronic|"
    r"since i was|long time|back in|(19|20)\d\d|last (winter|summer|spring|autumn|fall)|"
    r"from (a|my|her|his) (pinched|old|heart|arthritis|diabetes|nerve|sciatica|neuropathy)|"
    r"(?:because|due) (of|to) (my|her|his) (arthritis|diabetes|neuropathy|sciatica|heart|nerve))"
)
RECENT = re.compile(
    r"\b(now|today|tonight|new|newly|started|starting|yesterday|this morning|last night|rn|2day|"
    r"(after|since) (my|the|her|his|it|kypho\w*|vertebro\w*|surgery|procedure))\b"
)
DENIED_AFTER = re.compile(r"\b(gone|went away|no longer|cleared up|stopped|normal|fine|ok|okay|resolved)\b")
CLAUSE_BREAK = re.compile(r"[.;!?\n,]|\bbut\b|\band\b|\bso\b|\balso\b|\bthen\b|\bplus\b")
CONTRACTIONS = (
    "can't cant cnt couldn't couldnt won't wont don't dont doesn't doesnt didn't didnt isn't isnt "
    "aren't arent wasn't wasnt haven't havent hasn't hasnt im i'm ive i've hes he's shes she's"
).split()


@dataclass(frozen=True)
class Finding:
    sign: str
    words: str  # the words that matched, as the patient wrote them
    reported: bool
    reason: str  # "reported", or why not: "denied", "question", "hypothetical", "history"

    @property
    def urgency(self) -> str:
        return SIGNS[self.sign].urgency if self.reported else ROUTINE


@dataclass(frozen=True)
class Triage:
    urgency: str
    findings: tuple[Finding, ...] = field(default=())

    @property
    def reported(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.reported)

    @property
    def signs(self) -> list[str]:
        return list(dict.fromkeys(finding.sign for finding in self.reported))

    def as_dict(self) -> dict:
        return {
            "urgency": self.urgency,
            "signs": self.signs,
            "labels": [SIGNS[sign].label for sign in self.signs],
            "words": [finding.words for finding in self.reported],
        }


@lru_cache(maxsize=1)
def tokenizer_and_matcher() -> tuple[spacy.Language, Matcher]:
    nlp = spacy.blank("en")
    # Keep contractions whole ("can't", "cant") so patterns can name them as written.
    for word in CONTRACTIONS:
        for variant in {word, word.capitalize(), word.upper()}:
            nlp.tokenizer.add_special_case(variant, [{"ORTH": variant}])
    matcher = Matcher(nlp.vocab)
    for sign, patterns in PATTERNS.items():
        matcher.add(sign, patterns)
    return nlp, matcher


def bounds(text: str, start: int, end: int, breaks: re.Pattern) -> tuple[int, int]:
    """Character span around [start, end) up to the nearest ``breaks`` on either side."""
    left = 0
    for match in breaks.finditer(text, 0, start):
        left = match.end()
    following = breaks.search(text, end)
    return left, following.start() if following else len(text)


def starts_as_question(text: str) -> bool:
    words = text.split(maxsplit=1)
    return bool(words) and words[0].strip(",") in QUESTION_STARTERS


def is_question(text: str) -> bool:
    return text.rstrip().endswith("?") or starts_as_question(text)


def judge(sign: str, span: Span, doc: Doc) -> str:
    """Why a mention is, or is not, a report of the sign now."""
    text = doc.text.lower()
    start, end = span.start_char, span.end_char
    clause_start, clause_end = bounds(text, start, end, CLAUSE_BREAK)
    comma_start, _ = bounds(text, start, end, re.compile(r"[.;!?\n,]"))
    _, comma_end = bounds(text, start, end, re.compile(r"[.;!?\n,]"))
    sentence_start, _ = bounds(text, start, end, re.compile(r"[.;!?\n]"))
    clause = text[clause_start:clause_end]
    # The question mark, if any, closes the comma-bounded part that holds the mention.
    asked = text[comma_start:min(comma_end + 1, len(text))]
    negation_window = text[clause_start:start].replace(",", " ").split()[-5:]
    span_words = {token.lower_ for token in span}
    if any(word in NEGATIONS for word in negation_window) or (
        sign not in NEGATION_IS_THE_SIGN and span_words & NEGATIONS
    ):
        return "denied"
    if DENIED_AFTER.search(text[end:clause_end]):
        return "denied"
    if HISTORY.search(clause) and not RECENT.search(clause):
        return "history"
    if CONDITIONAL.search(text[comma_start:start]):
        return "hypothetical"
    # Saying "emergency" in a question ("should I go to emergency?") declares nothing.
    reported = REPORT.search(clause) and sign != "declared_emergency"
    if (is_question(asked) or starts_as_question(text[sentence_start:start])) and not reported:
        return "question"
    if ABOUT_RISK.search(clause) and not reported:
        return "hypothetical"
    return "reported"


def is_symptom(sign: str, span: Span, doc: Doc) -> bool:
    following = doc[span.end].lower_ if span.end < len(doc) else ""
    after_next = doc[span.end + 1].lower_ if span.end + 1 < len(doc) else ""
    excluded = NOT_SYMPTOM_AFTER.get(sign, set())
    if following in excluded or after_next in excluded & BONE_WORDS:
        return False
    if sign == "collapse" and span.start > 0 and doc[span.start - 1].lower_ in {"a", "the", "of"}:
        return False
    if sign == "fever" and span[0].like_num and not re.search(r"fever|temp|°|degrees|\bf\b|\bc\b", doc.text.lower()):
        return False
    return True


def assess(text: str) -> Triage:
    """Find the warning signs ``text`` reports and the urgency they call for."""
    nlp, matcher = tokenizer_and_matcher()
    doc = nlp(text[:5000])
    findings: list[Finding] = []
    seen: set[tuple[str, int]] = set()
    for match_id, start, end in sorted(matcher(doc), key=lambda m: (m[1], -m[2])):
        sign = nlp.vocab.strings[match_id]
        span = doc[start:end]
        if (sign, start) in seen or not is_symptom(sign, span, doc):
            continue
        seen.add((sign, start))
        reason = judge(sign, span, doc)
        findings.append(Finding(sign, span.text, reason == "reported", reason))
    findings = resolve_overlaps(findings)
    urgency = max((finding.urgency for finding in findings), key=URGENCY_ORDER.get, default=ROUTINE)
    return Triage(urgency, tuple(findings))


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """The emergency reading of the legs ("legs went numb and won't move") supersedes the urgent one."""
    reported = {finding.sign for finding in findings if finding.reported}
    if {"leg_weakness", "paralysis"} & reported:
        findings = [f for f in findings if not (f.sign == "weakness" and f.reported)] + [
            f for f in findings if f.sign == "weakness" and not f.reported
        ]
    return findings
