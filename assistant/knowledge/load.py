"""Load the reviewed knowledge YAML (data/knowledge/) into the SQL database.

Validation happens before anything is written, and the write is one transaction,
so a bad file leaves the database in use unchanged.

    python -m assistant.knowledge.load [--database-url URL]
"""
from __future__ import annotations

import argparse
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant import gsm7
from assistant.knowledge.schema import (
    PROCEDURES,
    Answer,
    Base,
    Fact,
    Source,
    Topic,
    answer_sources,
)
from assistant.settings import CONTACT_FIELDS, KNOWLEDGE_DIR, Contacts, database_url, load_contacts

SMS_MAX_SEPTETS = 300
FACT_UNITS = {"minutes", "hours", "days", "percent", "people", "needles"}


class KnowledgeError(ValueError):
    """A knowledge file is malformed; the message names the file and the entry."""


@dataclass
class KnowledgeFiles:
    sources: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    facts: list[dict[str, Any]]


def read_yaml_list(path: Path, key: str) -> list[dict[str, Any]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise KnowledgeError(f"{path.name}: cannot be read as YAML ({error})") from None
    entries = document.get(key) if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise KnowledgeError(f"{path.name}: expected a top-level '{key}' list of entries")
    return entries


def read_knowledge(directory: Path = KNOWLEDGE_DIR) -> KnowledgeFiles:
    return KnowledgeFiles(
        sources=read_yaml_list(directory / "sources.yml", "sources"),
        topics=read_yaml_list(directory / "topics.yml", "topics"),
        facts=read_yaml_list(directory / "facts.yml", "facts"),
    )


def require(entry: dict[str, Any], field: str, where: str) -> Any:
    value = entry.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise KnowledgeError(f"{where}: '{field}' is missing")
    return value


def check_text(text: str, where: str) -> None:
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None and field not in CONTACT_FIELDS:
            raise KnowledgeError(
                f"{where}: unknown placeholder {{{field}}}; allowed: "
                + ", ".join(f"{{{name}}}" for name in CONTACT_FIELDS)
            )


def validate(files: KnowledgeFiles, contacts: Contacts) -> None:
    source_ids = set()
    for entry in files.sources:
        where = f"sources.yml: source {entry.get('id')!r}"
        for field in ("id", "file", "title", "publisher"):
            require(entry, field, where)
        if entry["id"] in source_ids:
            raise KnowledgeError(f"{where}: duplicate id")
        source_ids.add(entry["id"])

    topic_ids = set()
    for topic in files.topics:
        where = f"topics.yml: topic {topic.get('id')!r}"
        require(topic, "id", where)
        require(topic, "title", where)
        if topic["id"] in topic_ids:
            raise KnowledgeError(f"{where}: duplicate id")
        topic_ids.add(topic["id"])
        answers = topic.get("answers") or []
        procedures = [answer.get("procedure") for answer in answers]
        if "both" not in procedures:
            raise KnowledgeError(f"{where}: needs an answer for procedure 'both'")
        if topic.get("procedure_specific") and set(procedures) != set(PROCEDURES):
            raise KnowledgeError(f"{where}: procedure-specific topics need answers for {PROCEDURES}")
        if len(procedures) != len(set(procedures)):
            raise KnowledgeError(f"{where}: two answers for the same procedure")
        for answer in answers:
            answer_where = f"{where}, answer for {answer.get('procedure')!r}"
            if answer.get("procedure") not in PROCEDURES:
                raise KnowledgeError(f"{answer_where}: procedure must be one of {PROCEDURES}")
            cited = require(answer, "sources", answer_where)
            unknown = [source for source in cited if source not in source_ids]
            if unknown:
                raise KnowledgeError(f"{answer_where}: unknown source {unknown[0]!r}")
            for channel in ("web", "sms"):
                check_text(require(answer, channel, answer_where), f"{answer_where} ({channel})")
            sms = answer["sms"].format(**contacts.as_placeholders())
            try:
                length = gsm7.septet_length(sms)
            except ValueError as error:
                raise KnowledgeError(f"{answer_where} (sms): {error}") from None
            if length > SMS_MAX_SEPTETS:
                raise KnowledgeError(
                    f"{answer_where} (sms): {length} GSM-7 characters, at most {SMS_MAX_SEPTETS}"
                )

    fact_ids = set()
    for fact in files.facts:
        where = f"facts.yml: fact {fact.get('id')!r}"
        for field in ("id", "topic", "procedure", "label", "value_min", "unit", "source"):
            require(fact, field, where)
        if fact["id"] in fact_ids:
            raise KnowledgeError(f"{where}: duplicate id")
        fact_ids.add(fact["id"])
        if fact["topic"] not in topic_ids:
            raise KnowledgeError(f"{where}: unknown topic {fact['topic']!r}")
        if fact["source"] not in source_ids:
            raise KnowledgeError(f"{where}: unknown source {fact['source']!r}")
        if fact["procedure"] not in PROCEDURES:
            raise KnowledgeError(f"{where}: procedure must be one of {PROCEDURES}")
        if fact["unit"] not in FACT_UNITS:
            raise KnowledgeError(f"{where}: unit must be one of {sorted(FACT_UNITS)}")


def replace_contents(session: Session, files: KnowledgeFiles) -> None:
    for table in (answer_sources, Fact.__table__, Answer.__table__, Topic.__table__, Source.__table__):
        session.execute(delete(table))
    sources = {
        entry["id"]: Source(
            id=entry["id"], file=entry["file"], title=entry["title"], publisher=entry["publisher"]
        )
        for entry in files.sources
    }
    session.add_all(sources.values())
    for position, entry in enumerate(files.topics):
        topic = Topic(
            id=entry["id"],
            title=entry["title"],
            position=position,
            procedure_specific=bool(entry.get("procedure_specific")),
        )
        topic.answers = [
            Answer(
                procedure=answer["procedure"],
                web=answer["web"].strip(),
                sms=answer["sms"].strip(),
                sources=[sources[source_id] for source_id in answer["sources"]],
            )
            for answer in entry["answers"]
        ]
        session.add(topic)
    session.flush()
    session.add_all(
        Fact(
            id=entry["id"],
            topic_id=entry["topic"],
            procedure=entry["procedure"],
            label=entry["label"],
            value_min=entry["value_min"],
            value_max=entry.get("value_max"),
            unit=entry["unit"],
            qualifier=entry.get("qualifier", ""),
            source_id=entry["source"],
        )
        for entry in files.facts
    )


def load_knowledge(engine: Engine, directory: Path = KNOWLEDGE_DIR, contacts: Contacts | None = None) -> KnowledgeFiles:
    """Validate the YAML in ``directory`` and replace the knowledge tables in one transaction."""
    files = read_knowledge(directory)
    validate(files, contacts or load_contacts())
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        replace_contents(session, files)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=database_url())
    parser.add_argument("--knowledge-dir", type=Path, default=KNOWLEDGE_DIR)
    args = parser.parse_args(argv)
    if args.database_url.startswith("sqlite:///"):
        Path(args.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        files = load_knowledge(create_engine(args.database_url), args.knowledge_dir)
    except KnowledgeError as error:
        print(f"Knowledge base not loaded: {error}", file=sys.stderr)
        return 1
    answers = sum(len(topic["answers"]) for topic in files.topics)
    print(
        f"Knowledge base loaded: {len(files.sources)} sources, {len(files.topics)} topics, "
        f"{answers} answers, {len(files.facts)} facts."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
