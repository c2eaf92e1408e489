"""Read-only queries on the knowledge base: plain data in, plain data out."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant.knowledge.facts import fact_text
from assistant.knowledge.schema import Answer, Fact, Source, Topic, answer_sources
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


def find_answer(engine: Engine, topic: str, procedure: str | None, with_facts: bool = True) -> KnowledgeAnswer | None:
    """The answer on ``topic`` for ``procedure`` (None or "both" for the general answer),
    with the leaflets' figures on it unless ``with_facts`` is False (the patients' replies
    show the text; the nurse line, the figures too).

    Plain queries rather than the ORM's four, and the figures only when asked: every
    patient turn makes one call, 4.0-5.7 -> 2.4-2.6 ms on SQLite (same run, busy machine)."""
    wanted = answer_procedures(procedure)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Answer.id, Answer.procedure, Answer.web, Answer.sms, Answer.reviewer, Answer.reviewed_on,
                   Answer.needs_review, Topic.title)
            .join(Topic, Topic.id == Answer.topic_id)
            .where(Answer.topic_id == topic, Answer.procedure.in_(wanted))
        ).all()
        if not rows:
            return None
        best = min(rows, key=lambda row: wanted.index(row.procedure))
        sources = connection.execute(
            select(Source.id, Source.title, Source.publisher)
            .join(answer_sources, answer_sources.c.source_id == Source.id)
            .where(answer_sources.c.answer_id == best.id)
            .order_by(Source.id)
        ).all()
    facts = find_facts(engine, topic, procedure) if with_facts else ()
    return KnowledgeAnswer(
        topic=topic,
        topic_title=best.title,
        procedure=best.procedure,
        web=best.web,
        sms=best.sms,
        sources=tuple(SourceRef(*source) for source in sources),
        facts=facts,
        review=Review(best.reviewer, best.reviewed_on, best.needs_review),
    )


def find_facts(engine: Engine, topic: str, procedure: str | None) -> tuple[FactRow, ...]:
    """The leaflets' figures on ``topic``: one procedure's and the general ones, or all of them."""
    with Session(engine) as session:
        facts = session.scalars(
            select(Fact)
            .where(Fact.topic_id == topic, Fact.procedure.in_(fact_procedures(procedure)))
            .order_by(Fact.id)
        ).all()
        return tuple(fact_row(fact) for fact in facts)


def topic_titles(engine: Engine) -> dict[str, str]:
    """Topic id to its patient-facing title, in the knowledge base's order."""
    with Session(engine) as session:
        return dict(session.execute(select(Topic.id, Topic.title).order_by(Topic.position)).all())
