"""One turn, one reply: the structured value a turn produces, built once by the core.

Each part has a role: the triage advice, the knowledge answer, a conversational
message, the options offered, and notices. Channels render it with the pure functions
in assistant/render.py; none of them finds a part by its wording or its position.
It crosses from the action server to the Rasa server as plain data (``as_dict``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from assistant.vocabulary import ROUTINE, TURN_TYPES, URGENCIES

# Why options are offered: the closest topics to an unclear message, or the other
# questions a message asked beside the one answered.
SUGGESTIONS, ALSO_ASKED = "suggestions", "also_asked"
NOTICE_KINDS = ("disclaimer", "rate_limited", "answer_unavailable", "data_deleted", "data_partly_deleted")


@dataclass(frozen=True)
class Advice:
    """What to do about the warning signs a message reported: always shown first, never cut."""

    urgency: str
    signs: tuple[str, ...]  # sign ids, e.g. ("fever",)
    text: str


@dataclass(frozen=True)
class Source:
    id: str
    title: str


@dataclass(frozen=True)
class Answer:
    """A knowledge-base answer, in full and in its short (SMS) form."""

    topic: str
    title: str  # the topic's title
    procedure: str  # the procedure the answer was written for, or "both"
    text: str
    short: str
    sources: tuple[Source, ...]
    expanded: bool = False  # the patient asked for more: show the full text where a short one would do


@dataclass(frozen=True)
class Option:
    """A topic offered to the patient, answered when they pick it (a button, or its number)."""

    topic: str
    title: str


@dataclass(frozen=True)
class Notice:
    kind: str  # one of NOTICE_KINDS
    text: str


@dataclass(frozen=True)
class Reply:
    kind: str  # one of TURN_TYPES
    procedure: str | None = None  # the procedure in context after this turn
    advice: Advice | None = None
    answer: Answer | None = None
    message: str | None = None  # a conversational reply: greeting, handoff, "not sure"...
    options: tuple[Option, ...] = ()
    options_reason: str = SUGGESTIONS
    # Introduces the options as a message of their own ("You also asked about:"); without
    # one, the options belong to `message` ("Did you mean one of these?").
    options_prompt: str | None = None
    notices: tuple[Notice, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.kind not in TURN_TYPES:
            raise ValueError(f"unknown turn type {self.kind!r}")
        if self.advice and self.advice.urgency not in URGENCIES:
            raise ValueError(f"unknown urgency {self.advice.urgency!r}")
        for notice in self.notices:
            if notice.kind not in NOTICE_KINDS:
                raise ValueError(f"unknown notice {notice.kind!r}")

    @property
    def urgency(self) -> str:
        return self.advice.urgency if self.advice else ROUTINE

    def notice(self, kind: str) -> Notice | None:
        return next((notice for notice in self.notices if notice.kind == kind), None)

    @property
    def also_asked(self) -> list[str]:
        return [option.topic for option in self.options] if self.options_reason == ALSO_ASKED else []

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Reply":
        """The reply ``as_dict`` gave; a ValueError or TypeError if ``data`` is not one."""
        advice, answer = data.get("advice"), data.get("answer")
        return cls(
            kind=data["kind"],
            procedure=data.get("procedure"),
            advice=None if advice is None else Advice(
                advice["urgency"], tuple(advice["signs"]), advice["text"]
            ),
            answer=None if answer is None else Answer(**{
                **answer, "sources": tuple(Source(**source) for source in answer["sources"])
            }),
            message=data.get("message"),
            options=tuple(Option(**option) for option in data.get("options") or ()),
            options_reason=data.get("options_reason", SUGGESTIONS),
            options_prompt=data.get("options_prompt"),
            notices=tuple(Notice(**notice) for notice in data.get("notices") or ()),
        )


def turn_summary(reply: Reply) -> dict[str, Any]:
    """The REST contract's `custom` object: what the turn was, derived from the reply.

    Outside integrations read it: its five fields keep their shape and meaning, and
    `also_asked` is there only when the message asked other questions too.
    """
    summary: dict[str, Any] = {
        "type": reply.kind,
        "topic": reply.answer.topic if reply.answer else None,
        "procedure": reply.procedure,
        "urgency": reply.urgency,
        "sources": [source.id for source in reply.answer.sources] if reply.answer else [],
    }
    if reply.also_asked:
        summary["also_asked"] = reply.also_asked
    return summary
