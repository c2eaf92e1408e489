"""SQL tables of the knowledge base (SQLAlchemy 1.4 ORM, any SQLAlchemy database)."""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from assistant.db import Base

answer_sources = Table(
    "answer_sources",
    Base.metadata,
    Column("answer_id", ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True),
    Column("source_id", ForeignKey("sources.id"), primary_key=True),
)


class Source(Base):
    __tablename__ = "sources"

    id = Column(String(64), primary_key=True)
    file = Column(String(255), nullable=False)
    title = Column(String(255), nullable=False)
    publisher = Column(String(255), nullable=False)
    sha256 = Column(String(64), nullable=False)  # of the leaflet text as last reviewed
    reviewed_on = Column(Date, nullable=False)


class Topic(Base):
    __tablename__ = "topics"

    id = Column(String(64), primary_key=True)
    title = Column(String(120), nullable=False)
    position = Column(Integer, nullable=False)
    procedure_specific = Column(Boolean, nullable=False, default=False)

    answers = relationship("Answer", back_populates="topic", cascade="all, delete-orphan")
    facts = relationship("Fact", back_populates="topic", cascade="all, delete-orphan")


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("topic_id", "procedure"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    topic_id = Column(ForeignKey("topics.id"), nullable=False)
    procedure = Column(String(20), nullable=False)
    web = Column(Text, nullable=False)
    sms = Column(String(400), nullable=False)
    reviewer = Column(String(255), nullable=False)
    reviewed_on = Column(Date, nullable=False)
    # A cited leaflet changed since this answer was reviewed: still served, flagged for review.
    needs_review = Column(Boolean, nullable=False, default=False)

    topic = relationship("Topic", back_populates="answers")
    sources = relationship("Source", secondary=answer_sources, order_by="Source.id")


class Fact(Base):
    __tablename__ = "facts"

    id = Column(String(120), primary_key=True)
    topic_id = Column(ForeignKey("topics.id"), nullable=False)
    procedure = Column(String(20), nullable=False)
    label = Column(String(255), nullable=False)
    # What the figure is: one of assistant.knowledge.facts.LIMITS ("at_most" has only value_max).
    limit_kind = Column(String(20), nullable=False)
    value_min = Column(Float)
    value_max = Column(Float)
    unit = Column(String(32), nullable=False)
    qualifier = Column(String(255), nullable=False, default="")
    leaflet_says = Column(String(255), nullable=False)
    source_id = Column(ForeignKey("sources.id"), nullable=False)

    topic = relationship("Topic", back_populates="facts")
    source = relationship("Source")
