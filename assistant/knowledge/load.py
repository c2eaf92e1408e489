"""Load the reviewed knowledge YAML (data/knowledge/) into the SQL database.

Validation happens before anything is written, and the write is one transaction,
so a bad file leaves the database in use unchanged. A leaflet whose text changed
since its review is not an error: the load says so, and marks every answer citing
it as needing review; the reviewed answers keep being served.

    python -m assistant.knowledge.load [--database-url URL]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import logging
import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, delete, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from assistant import gsm7
from assistant.knowledge.facts import limit_values
from assistant.knowledge.schema import Answer, Base, Fact, Source, Topic, answer_sources
from assistant.settings import CONTACT_FIELDS, KNOWLEDGE_DIR, Contacts, database_url, leaflets_dir, load_contacts
from assistant.vocabulary import ANSWER_PROCEDURES, BOTH, TOPICS

log = logging.getLogger(__name__)

SMS_MAX_SEPTETS = 300
FACT_UNITS = {"minutes", "hours", "days", "percent", "people", "needles"}
# An answer records the leaflet versions it was reviewed against by their SHA-256's first
# 12 hex digits, as git abbreviates commits: short enough to read, long enough to notice any edit.
VERSION_DIGITS = 12
SHA256 = re.compile(r"[0-9a-f]{64}")
VERSION = re.compile(rf"[0-9a-f]{{{VERSION_DIGITS}}}")


class KnowledgeError(ValueError):
    """A knowledge file is malformed; the message names the file and the entry."""


@dataclass
class KnowledgeFiles:
    sources: list[dict[str, Any]]
    topics: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    leaflets: dict[str, bytes]  # source id -> the leaflet's text as it is now

    def leaflet_text(self, source_id: str) -> str:
        return self.leaflets[source_id].decode("utf-8")

    def current_version(self, source_id: str) -> str:
        return hashlib.sha256(self.leaflets[source_id]).hexdigest()

    def changed_sources(self) -> list[dict[str, Any]]:
        """The sources whose leaflet text differs from the one last reviewed."""
        return [source for source in self.sources if self.current_version(source["id"]) != source["sha256"]]

    def stale_sources(self, answer: dict[str, Any]) -> list[str]:
        """The cited leaflets whose text changed since ``answer`` was reviewed against them."""
        versions = answer["review"]["versions"]
        return [source_id for source_id in answer["sources"]
                if not self.current_version(source_id).startswith(versions[source_id])]


def read_yaml_list(path: Path, key: str) -> list[dict[str, Any]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise KnowledgeError(f"{path.name}: cannot be read as YAML ({error})") from None
    entries = document.get(key) if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise KnowledgeError(f"{path.name}: expected a top-level '{key}' list of entries")
    return entries


def read_leaflets(directory: Path, sources: list[dict[str, Any]]) -> dict[str, bytes]:
    if not directory.is_dir():
        raise KnowledgeError(
            f"the leaflets' folder {directory} is missing: every answer is checked against the leaflets "
            "as they are now; set LEAFLETS_DIR to the folder that holds them"
        )
    leaflets = {}
    for entry in sources:
        where = f"sources.yml: source {entry.get('id')!r}"
        name = require(entry, "file", where)
        try:
            leaflets[str(entry.get("id"))] = (directory / str(name)).read_bytes()
        except OSError:
            raise KnowledgeError(f"{where}: leaflet {name} cannot be read in {directory}") from None
    return leaflets


def read_knowledge(directory: Path = KNOWLEDGE_DIR, leaflets: Path | None = None) -> KnowledgeFiles:
    """The knowledge YAML in ``directory``, and the leaflets' text as it is now in
    ``leaflets`` (settings.leaflets_dir() unless given)."""
    sources = read_yaml_list(directory / "sources.yml", "sources")
    return KnowledgeFiles(
        sources=sources,
        topics=read_yaml_list(directory / "topics.yml", "topics"),
        facts=read_yaml_list(directory / "facts.yml", "facts"),
        leaflets=read_leaflets(leaflets or leaflets_dir(), sources),
    )


def require(entry: dict[str, Any], field: str, where: str) -> Any:
    value = entry.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise KnowledgeError(f"{where}: '{field}' is missing")
    return value


def require_date(entry: dict[str, Any], field: str, where: str) -> datetime.date:
    value = require(entry, field, where)
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise KnowledgeError(f"{where}: '{field}' must be a date (YYYY-MM-DD), not {value!r}")
    return value


def check_text(text: str, where: str) -> None:
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None and field not in CONTACT_FIELDS:
            raise KnowledgeError(
                f"{where}: unknown placeholder {{{field}}}; allowed: "
                + ", ".join(f"{{{name}}}" for name in CONTACT_FIELDS)
            )


def validate_sources(files: KnowledgeFiles) -> set[str]:
    source_ids = set()
    for entry in files.sources:
        where = f"sources.yml: source {entry.get('id')!r}"
        for field in ("id", "file", "title", "publisher", "sha256"):
            require(entry, field, where)
        require_date(entry, "reviewed", where)
        if not SHA256.fullmatch(str(entry["sha256"])):
            raise KnowledgeError(f"{where}: 'sha256' must be 64 lower-case hex digits")
        if entry["id"] in source_ids:
            raise KnowledgeError(f"{where}: duplicate id")
        source_ids.add(entry["id"])
    return source_ids


def validate_review(answer: dict[str, Any], where: str) -> None:
    review = answer.get("review")
    if not isinstance(review, dict):
        raise KnowledgeError(f"{where}: 'review' is missing (reviewer, date, versions)")
    require(review, "reviewer", f"{where}, review")
    require_date(review, "date", f"{where}, review")
    versions = review.get("versions")
    if not isinstance(versions, dict) or set(versions) != set(answer["sources"]):
        raise KnowledgeError(f"{where}: review 'versions' must give a version for each cited source, and only those")
    for source_id, version in versions.items():
        if not VERSION.fullmatch(str(version)):
            raise KnowledgeError(
                f"{where}: review version of {source_id!r} must be the leaflet's SHA-256, first {VERSION_DIGITS} hex digits"
            )


def validate_answer(answer: dict[str, Any], where: str, source_ids: set[str], contacts: Contacts) -> None:
    if answer.get("procedure") not in ANSWER_PROCEDURES:
        raise KnowledgeError(f"{where}: procedure must be one of {ANSWER_PROCEDURES}")
    cited = require(answer, "sources", where)
    unknown = [source for source in cited if source not in source_ids]
    if unknown:
        raise KnowledgeError(f"{where}: unknown source {unknown[0]!r}")
    validate_review(answer, where)
    for channel in ("web", "sms"):
        check_text(require(answer, channel, where), f"{where} ({channel})")
    sms = answer["sms"].format(**contacts.as_placeholders())
    try:
        length = gsm7.septet_length(sms)
    except ValueError as error:
        raise KnowledgeError(f"{where} (sms): {error}") from None
    if length > SMS_MAX_SEPTETS:
        raise KnowledgeError(f"{where} (sms): {length} GSM-7 characters, at most {SMS_MAX_SEPTETS}")


def validate_topics(files: KnowledgeFiles, source_ids: set[str], contacts: Contacts) -> None:
    topic_ids = set()
    for topic in files.topics:
        where = f"topics.yml: topic {topic.get('id')!r}"
        require(topic, "id", where)
        require(topic, "title", where)
        if topic["id"] not in TOPICS:
            raise KnowledgeError(f"{where}: not a topic of assistant/vocabulary.py")
        if topic["id"] in topic_ids:
            raise KnowledgeError(f"{where}: duplicate id")
        topic_ids.add(topic["id"])
        answers = topic.get("answers") or []
        procedures = [answer.get("procedure") for answer in answers]
        if BOTH not in procedures:
            raise KnowledgeError(f"{where}: needs an answer for procedure '{BOTH}'")
        if topic.get("procedure_specific") and set(procedures) != set(ANSWER_PROCEDURES):
            raise KnowledgeError(f"{where}: procedure-specific topics need answers for {ANSWER_PROCEDURES}")
        if len(procedures) != len(set(procedures)):
            raise KnowledgeError(f"{where}: two answers for the same procedure")
        for answer in answers:
            validate_answer(answer, f"{where}, answer for {answer.get('procedure')!r}", source_ids, contacts)
    missing = [topic for topic in TOPICS if topic not in topic_ids]
    if missing:
        raise KnowledgeError(f"topics.yml: no entry for topic {missing[0]!r} (assistant/vocabulary.py)")


def validate_facts(files: KnowledgeFiles, source_ids: set[str]) -> None:
    fact_ids = set()
    for fact in files.facts:
        where = f"facts.yml: fact {fact.get('id')!r}"
        for field in ("id", "topic", "procedure", "label", "limit", "value", "unit", "leaflet_says", "source"):
            require(fact, field, where)
        if fact["id"] in fact_ids:
            raise KnowledgeError(f"{where}: duplicate id")
        fact_ids.add(fact["id"])
        if fact["topic"] not in TOPICS:
            raise KnowledgeError(f"{where}: unknown topic {fact['topic']!r}")
        if fact["source"] not in source_ids:
            raise KnowledgeError(f"{where}: unknown source {fact['source']!r}")
        if fact["procedure"] not in ANSWER_PROCEDURES:
            raise KnowledgeError(f"{where}: procedure must be one of {ANSWER_PROCEDURES}")
        if fact["unit"] not in FACT_UNITS:
            raise KnowledgeError(f"{where}: unit must be one of {sorted(FACT_UNITS)}")
        try:
            limit_values(fact["limit"], fact["value"])
        except ValueError as error:
            raise KnowledgeError(f"{where}: {error}") from None


def validate(files: KnowledgeFiles, contacts: Contacts) -> None:
    source_ids = validate_sources(files)
    validate_topics(files, source_ids, contacts)
    validate_facts(files, source_ids)


KNOWLEDGE_TABLES = (answer_sources, Fact.__table__, Answer.__table__, Topic.__table__, Source.__table__)


def create_tables(engine: Engine) -> None:
    """Create the tables; knowledge tables of an older schema are made again (their rows all come from the YAML).

    Runs only after the files validated, so a bad file never touches the database.
    """
    inspector = inspect(engine)
    outdated = [
        table for table in KNOWLEDGE_TABLES
        if inspector.has_table(table.name)
        and {column["name"] for column in inspector.get_columns(table.name)} != set(table.columns.keys())
    ]
    if outdated:
        log.warning("Knowledge tables of an older schema (%s) are made again", ", ".join(t.name for t in outdated))
        Base.metadata.drop_all(engine, tables=list(KNOWLEDGE_TABLES))
    Base.metadata.create_all(engine)


def replace_contents(session: Session, files: KnowledgeFiles) -> None:
    for table in KNOWLEDGE_TABLES:
        session.execute(delete(table))
    sources = {
        entry["id"]: Source(
            id=entry["id"], file=entry["file"], title=entry["title"], publisher=entry["publisher"],
            sha256=entry["sha256"], reviewed_on=entry["reviewed"],
        )
        for entry in files.sources
    }
    session.add_all(sources.values())
    for entry in files.topics:
        topic = Topic(
            id=entry["id"],
            title=entry["title"],
            position=TOPICS.index(entry["id"]),
            procedure_specific=bool(entry.get("procedure_specific")),
        )
        topic.answers = [
            Answer(
                procedure=answer["procedure"],
                web=answer["web"].strip(),
                sms=answer["sms"].strip(),
                reviewer=answer["review"]["reviewer"],
                reviewed_on=answer["review"]["date"],
                needs_review=bool(files.stale_sources(answer)),
                sources=[sources[source_id] for source_id in answer["sources"]],
            )
            for answer in entry["answers"]
        ]
        session.add(topic)
    session.flush()
    for entry in files.facts:
        value_min, value_max = limit_values(entry["limit"], entry["value"])
        session.add(Fact(
            id=entry["id"],
            topic_id=entry["topic"],
            procedure=entry["procedure"],
            label=entry["label"],
            limit_kind=entry["limit"],
            value_min=value_min,
            value_max=value_max,
            unit=entry["unit"],
            qualifier=entry.get("qualifier", ""),
            leaflet_says=entry["leaflet_says"],
            source_id=entry["source"],
        ))


def review_notices(files: KnowledgeFiles) -> list[str]:
    """One line per leaflet whose text changed since its review, naming the answers to review again."""
    notices = []
    for source in files.changed_sources():
        answers = [
            f"{topic['id']}/{answer['procedure']}"
            for topic in files.topics for answer in topic["answers"]
            if source["id"] in files.stale_sources(answer)
        ]
        notices.append(
            f"leaflet {source['file']} ({source['title']!r}) changed since its review on {source['reviewed']}; "
            f"{len(answers)} answers need review (still served as reviewed): {', '.join(answers) or 'none'}"
        )
    return notices


def load_knowledge(
    engine: Engine, directory: Path = KNOWLEDGE_DIR, contacts: Contacts | None = None, leaflets: Path | None = None,
) -> KnowledgeFiles:
    """Validate the YAML in ``directory`` and replace the knowledge tables in one transaction."""
    files = read_knowledge(directory, leaflets)
    validate(files, contacts or load_contacts())
    create_tables(engine)
    with Session(engine) as session, session.begin():
        replace_contents(session, files)
    for notice in review_notices(files):
        log.warning("Knowledge review: %s", notice)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=database_url())
    parser.add_argument("--knowledge-dir", type=Path, default=KNOWLEDGE_DIR)
    parser.add_argument("--leaflets-dir", type=Path, default=None, help="default: LEAFLETS_DIR or ../shared/sources")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(levelname)s %(message)s")  # the review notices, on stderr
    if args.database_url.startswith("sqlite:///"):
        Path(args.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        files = load_knowledge(create_engine(args.database_url), args.knowledge_dir, leaflets=args.leaflets_dir)
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
