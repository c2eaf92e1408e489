"""Read-only queries on the knowledge base: plain data in, plain data out."""
from __future__ import annotations

from dataclasses import dataclass
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from assistant.knowledge.schema import Answer, Fact, Topic


@dataclass(frozen=True)
class SourceRef:
    id: str
    title: str
    publisher: str


@dataclass(frozen=True)
class FactRow:
    label: str
    value_min: float
    value_max: float | None
    unit: str
    qualifier: str
    source_id: str


@dataclass(frozen=True)
class KnowledgeAnswer:
    topic: str
    topic_title: str
    procedure: str  # the procedure the answer text was written for
    web: str
    sms: str
    sources: tuple[SourceRef, ...]
    facts: tuple[FactRow, ...]


def answer_procedures(procedure: str | None) -> tuple[str, ...]:
    """Answer procedures to try, best first: the specific one, then the general one."""
    if procedure in ("vertebroplasty", "kyphoplasty"):
        return (procedure, "both")
    return ("both",)


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
            .where(Fact.topic_id == topic, Fact.procedure.in_(wanted))
            .order_by(Fact.id)
        ).all()
        return KnowledgeAnswer(
            topic=topic,
            topic_title=best.topic.title,
            procedure=best.procedure,
            web=best.web,
            sms=best.sms,
            sources=tuple(SourceRef(s.id, s.title, s.publisher) for s in best.sources),
            facts=tuple(
                FactRow(f.label, f.value_min, f.value_max, f.unit, f.qualifier, f.source_id)
                for f in facts
            ),
        )


def topic_titles(engine: Engine) -> dict[str, str]:
    """Topic id to its patient-facing title, in the knowledge base's order."""
    with Session(engine) as session:
        return dict(session.execute(select(Topic.id, Topic.title).order_by(Topic.position)).all())
