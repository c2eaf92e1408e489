"""Read-only queries on the knowledge base: plain data in, plain data out."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from assistant.knowledge.facts import fact_text
from assistant.knowledge.schema import Answer, Fact, Topic
from assistant.vocabulary import BOTH, PROCEDURES


@dataclass(frozen=True)
class SourceRef:
    id: str
    title: str
    publisher: str


@dataclass(frozen=True)
class FactRow:
    label: str
    value_min: float | None  # None for an upper limit ("at most 15 minutes")
    value_max: float | None  # None for a lower limit or a single figure
    unit: str
    qualifier: str
    source_id: str
    limit: str  # a kind of assistant.knowledge.facts.LIMITS
    text: str  # the figure as it reads: "at most 15 minutes"
    leaflet_says: str  # the leaflet's own wording


@dataclass(frozen=True)
class Review:
    reviewer: str
    reviewed_on: datetime.date
    needs_review: bool  # a cited leaflet changed since; the reviewed text is still served


@dataclass(frozen=True)
class KnowledgeAnswer:
    topic: str
    topic_title: str
    procedure: str  # the procedure the answer text was written for
    web: str
    sms: str
    sources: tuple[SourceRef, ...]
    facts: tuple[FactRow, ...]
    review: Review


def answer_procedures(procedure: str | None) -> tuple[str, ...]:
    """Answer procedures to try, best first: the specific one, then the general one."""
    if procedure in PROCEDURES:
        return (procedure, BOTH)
    return (BOTH,)


def fact_procedures(procedure: str | None) -> tuple[str, ...]:
    """Whose figures to show: one procedure's and the general ones, or every leaflet's for a general question."""
    if procedure in PROCEDURES:
        return (procedure, BOTH)
    return (*PROCEDURES, BOTH)


def fact_row(fact: Fact) -> FactRow:
    return FactRow(
        label=fact.label, value_min=fact.value_min, value_max=fact.value_max, unit=fact.unit,
        qualifier=fact.qualifier, source_id=fact.source_id, limit=fact.limit_kind,
        text=fact_text(fact.limit_kind, fact.value_min, fact.value_max, fact.unit),
        leaflet_says=fact.leaflet_says,
    )


def find_answer(engine: Engine, topic: str, procedure: str | None) -> KnowledgeAnswer | None:
    """The answer on ``topic`` for ``procedure`` (None or "both" for the general answer)."""
    wanted = answer_procedures(procedure)
    with Session(engine) as session:
        rows = session.scalars(
            select(Answer)
            .where(Answer.topic_id == topic, Answer.procedure.in_(wanted))
            .options(selectinload(Answer.sources), selectinload(Answer.topic))
        ).all()
        if not rows:
            return None
        best = min(rows, key=lambda row: wanted.index(row.procedure))
        facts = session.scalars(
            select(Fact)
            .where(Fact.topic_id == topic, Fact.procedure.in_(fact_procedures(procedure)))
            .order_by(Fact.id)
        ).all()
        return KnowledgeAnswer(
            topic=topic,
            topic_title=best.topic.title,
            procedure=best.procedure,
            web=best.web,
            sms=best.sms,
            sources=tuple(SourceRef(s.id, s.title, s.publisher) for s in best.sources),
            facts=tuple(fact_row(fact) for fact in facts),
            review=Review(best.reviewer, best.reviewed_on, best.needs_review),
        )


def topic_titles(engine: Engine) -> dict[str, str]:
    """Topic id to its patient-facing title, in the knowledge base's order."""
    with Session(engine) as session:
        return dict(session.execute(select(Topic.id, Topic.title).order_by(Topic.position)).all())
