"""The knowledge base: reviewed YAML loaded into SQL, complete, sourced and SMS-sized."""
from __future__ import annotations

import shutil
import string
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from assistant import gsm7
from assistant.knowledge.load import SMS_MAX_SEPTETS, KnowledgeError, load_knowledge, read_knowledge
from assistant.knowledge.query import find_answer, topic_titles
from assistant.knowledge.schema import Answer, Fact, Source, Topic
from assistant.reply_texts import fill_contacts
from assistant.settings import KNOWLEDGE_DIR, PROJECT_ROOT, Contacts, load_contacts
from assistant.vocabulary import TOPICS

CONTRACT_TOPICS = list(TOPICS)
LEAFLETS = PROJECT_ROOT.parent / "shared" / "sources"


def counts(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Source, Topic, Answer, Fact)
        }


def assert_complete(engine) -> None:
    files = read_knowledge()
    assert counts(engine) == {
        "sources": len(files.sources),
        "topics": len(CONTRACT_TOPICS),
        "answers": sum(len(topic["answers"]) for topic in files.topics),
        "facts": len(files.facts),
    }
    assert list(topic_titles(engine)) == CONTRACT_TOPICS


def test_loads_into_a_fresh_sqlite_file(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    load_knowledge(engine)
    assert_complete(engine)


def test_loads_into_postgresql_through_the_same_code(postgres_url):
    engine = create_engine(postgres_url)
    load_knowledge(engine)
    load_knowledge(engine)  # reloading replaces, never duplicates
    assert_complete(engine)
    answer = find_answer(engine, "duration", "kyphoplasty")
    assert answer is not None and answer.sources


def test_every_topic_answers_each_procedure(knowledge_db_url):
    engine = create_engine(knowledge_db_url)
    for topic in CONTRACT_TOPICS:
        for procedure in (None, "both", "vertebroplasty", "kyphoplasty"):
            answer = find_answer(engine, topic, procedure)
            assert answer is not None, (topic, procedure)
            assert answer.web.strip() and answer.sms.strip()


def test_procedure_specific_topics_differ_where_the_leaflets_do(knowledge_db_url):
    engine = create_engine(knowledge_db_url)
    for topic in ("overview", "procedure", "effectiveness"):
        kypho = find_answer(engine, topic, "kyphoplasty")
        vertebro = find_answer(engine, topic, "vertebroplasty")
        assert (kypho.procedure, vertebro.procedure) == ("kyphoplasty", "vertebroplasty")
        assert kypho.web != vertebro.web
    assert "balloon" in find_answer(engine, "procedure", "kyphoplasty").web.lower()


def test_every_answer_cites_existing_leaflets():
    files = read_knowledge()
    leaflet_files = {source["file"] for source in files.sources}
    assert len(leaflet_files) == 5
    if LEAFLETS.is_dir():
        assert leaflet_files == {path.name for path in LEAFLETS.glob("*.txt")}
    source_ids = {source["id"] for source in files.sources}
    for topic in files.topics:
        for answer in topic["answers"]:
            assert answer["sources"], topic["id"]
            assert set(answer["sources"]) <= source_ids, topic["id"]


def test_sms_answers_fit_300_gsm7_characters_with_real_contacts():
    contacts = load_contacts()
    for topic in read_knowledge().topics:
        for answer in topic["answers"]:
            sms = fill_contacts(answer["sms"], contacts)
            assert gsm7.is_gsm7(sms), (topic["id"], answer["procedure"])
            assert gsm7.septet_length(sms) <= SMS_MAX_SEPTETS, (topic["id"], answer["procedure"])


def test_answer_texts_carry_no_contact_details_of_their_own():
    contacts = load_contacts()
    for topic in read_knowledge().topics:
        for answer in topic["answers"]:
            for text in (answer["web"], answer["sms"]):
                for value in contacts.as_placeholders().values():
                    assert value not in text, topic["id"]
                fields = {field for _, field, _, _ in string.Formatter().parse(text) if field}
                assert fields <= set(contacts.as_placeholders())


def test_contacts_come_from_the_configuration_file(knowledge_db_url):
    answer = find_answer(create_engine(knowledge_db_url), "warning_signs", None)
    contacts = Contacts(clinic_name="Test Clinic", nurse_phone="555-0199", emergency_number="112")
    rendered = fill_contacts(answer.web, contacts)
    assert "112" in rendered and "{" not in rendered


def test_facts_carry_the_leaflets_figures(knowledge_db_url):
    answer = find_answer(create_engine(knowledge_db_url), "duration", None)
    figures = {(fact.value_min, fact.value_max, fact.source_id) for fact in answer.facts}
    assert (40, 120, "health_library") in figures


def copy_knowledge(tmp_path) -> Path:
    directory = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, directory)
    return directory


def contents(engine) -> dict[str, list[tuple]]:
    """Every answer (topic, procedure, texts, sources) and fact, as stored."""
    with Session(engine) as session:
        answers = [
            (answer.topic_id, answer.procedure, answer.web, answer.sms, sorted(s.id for s in answer.sources))
            for answer in session.scalars(select(Answer)).all()
        ]
        facts = [(fact.id, fact.source_id, fact.value_min) for fact in session.scalars(select(Fact)).all()]
    return {"answers": sorted(answers), "facts": sorted(facts)}


def new_postgres_database(postgres_url: str) -> str:
    """A database of its own on the test run's PostgreSQL server."""
    name = f"kb_{uuid.uuid4().hex[:12]}"
    with create_engine(postgres_url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    return str(make_url(postgres_url).set(database=name))


@pytest.mark.parametrize(
    "file, breakage, named",
    [
        ("topics.yml", lambda text: text.replace("sources: [", "sources: [no_such_leaflet, ", 1),
         r"topics\.yml: topic 'overview', answer for 'both': unknown source 'no_such_leaflet'"),
        ("facts.yml", lambda text: text.replace("source: health_library", "source: no_such_leaflet", 1),
         r"facts\.yml: fact 'duration_range_health_library': unknown source 'no_such_leaflet'"),
        ("topics.yml", lambda text: text + "\n  - id: [unclosed\n",
         r"(?s)topics\.yml: cannot be read as YAML .* line \d+"),
        ("sources.yml", lambda text: text.replace("sources:", "sources: {", 1),
         r"sources\.yml: cannot be read as YAML"),
        ("topics.yml", lambda text: text.replace("procedure: both", "procedure: neither", 1),
         r"topics\.yml: topic 'overview'"),
    ],
    ids=["unknown-source-in-answer", "unknown-source-in-fact", "malformed-yaml", "malformed-sources", "bad-procedure"],
)
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_bad_file_is_named_and_the_database_left_unchanged(tmp_path, request, database, file, breakage, named):
    url = (
        f"sqlite:///{tmp_path / 'kb.db'}" if database == "sqlite"
        else new_postgres_database(request.getfixturevalue("postgres_url"))
    )
    engine = create_engine(url)
    # The database in use holds an edited answer, so a partial reload would show.
    edited = copy_knowledge(tmp_path / "edited")
    topics = edited / "topics.yml"
    topics.write_text(topics.read_text().replace("Vertebroplasty and kyphoplasty treat", "Both procedures treat", 1))
    load_knowledge(engine, edited)
    before = contents(engine)
    assert any("Both procedures treat" in web for _, _, web, _, _ in before["answers"])

    broken = copy_knowledge(tmp_path / "broken")
    (broken / file).write_text(breakage((broken / file).read_text()))
    with pytest.raises(KnowledgeError, match=named):
        load_knowledge(engine, broken)
    assert contents(engine) == before
