"""The assistant's one vocabulary: topic ids, procedures, urgencies and turn types.

Declared here once; the domain, the rules, the NLU data, the knowledge base and the
tests are checked against these (tests/test_vocabulary.py), never the reverse.
"""
from __future__ import annotations

# The questions the knowledge base answers, in the order the nurse console lists them.
TOPICS = (
    "overview", "difference", "conditions", "candidacy", "preparation", "anesthesia", "procedure",
    "duration", "pain", "effectiveness", "risks", "hospital_stay", "recovery", "warning_signs",
    "cement", "multiple_fractures", "alternatives", "prevention", "questions_for_doctor",
)
# A topic's intent is its id after this prefix: ask_risks.
TOPIC_INTENT_PREFIX = "ask_"

# The two procedures a patient can name; "both" is the general answer for either.
PROCEDURES = ("vertebroplasty", "kyphoplasty")
BOTH = "both"
ANSWER_PROCEDURES = (*PROCEDURES, BOTH)

EMERGENCY, URGENT, ROUTINE = "emergency", "urgent", "routine"
URGENCIES = (EMERGENCY, URGENT, ROUTINE)  # most urgent first
URGENCY_RANK = {urgency: rank for rank, urgency in enumerate(URGENCIES)}

# What a turn was, as the REST contract's `custom.type` reports it.
TURN_TYPES = ("answer", "triage", "handoff", "fallback", "smalltalk")


def topic_intent(topic: str) -> str:
    return f"{TOPIC_INTENT_PREFIX}{topic}"


TOPIC_INTENTS = tuple(topic_intent(topic) for topic in TOPICS)
