"""The knowledge base: reviewed YAML loaded into SQL, complete, sourced and SMS-sized."""
from __future__ import annotations

import logging
import re
import shutil
import string
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from assistant import gsm7
from assistant.escalations import list_escalations, record_escalation
from assistant.knowledge.load import SMS_MAX_SEPTETS, KnowledgeError, load_knowledge, read_knowledge
from assistant.knowledge.query import find_answer, topic_titles
from assistant.knowledge.schema import Answer, Fact, Source, Topic
from assistant.reply_texts import fill_contacts
from assistant.settings import KNOWLEDGE_DIR, Contacts, leaflets_dir, load_contacts
from assistant.vocabulary import TOPICS
from tests.helpers import edited_leaflets


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
        "topics": len(TOPICS),
        "answers": sum(len(topic["answers"]) for topic in files.topics),
        "facts": len(files.facts),
    }
    assert list(topic_titles(engine)) == list(TOPICS)


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
    for topic in TOPICS:
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
    assert leaflet_files == {path.name for path in leaflets_dir().glob("*.txt")}
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


def test_a_general_question_shows_every_leaflets_figure_and_a_specific_one_its_own(knowledge_db_url):
    engine = create_engine(knowledge_db_url)
    general = {(fact.text, fact.source_id) for fact in find_answer(engine, "duration", None).facts}
    assert general == {("40 to 120 minutes", "health_library"), ("less than 60 minutes", "hta_augmentation"),
                       ("about 60 minutes", "family_doctor")}
    kyphoplasty = {fact.source_id for fact in find_answer(engine, "duration", "kyphoplasty").facts}
    assert kyphoplasty == {"health_library", "hta_augmentation"}


@pytest.mark.parametrize("topic, procedure, source, text, value_min, value_max", [
    ("pain", None, "health_library", "at most 15 minutes", None, 15),
    ("duration", "kyphoplasty", "hta_augmentation", "less than 60 minutes", None, 60),
    ("effectiveness", "vertebroplasty", "family_doctor", "within 48 hours", None, 48),
    ("conditions", None, "family_doctor", "more than 40 million people", 40_000_000, None),
])
def test_leaflet_figures_are_stored_and_shown_as_the_limits_they_are(
        knowledge_db_url, topic, procedure, source, text, value_min, value_max):
    facts = [fact for fact in find_answer(create_engine(knowledge_db_url), topic, procedure).facts
             if fact.source_id == source]
    assert [(fact.text, fact.value_min, fact.value_max) for fact in facts] == [(text, value_min, value_max)]
    assert facts[0].leaflet_says


def test_the_preparation_figures_read_as_floor_and_ceiling(knowledge_db_url):
    facts = {fact.label: fact.text for fact in find_answer(create_engine(knowledge_db_url), "preparation", None).facts}
    assert facts == {"Stop eating before": "at least 6 hours", "Stop drinking fluids before": "about 3 to 6 hours",
                     "Stopping some medicines before": "up to 7 days"}


def test_the_warning_signs_sms_names_every_sign_the_leaflet_lists_and_the_clinics_emergency_policy():
    contacts = load_contacts()
    answer = find_topic_answer("warning_signs", "both")
    sms = fill_contacts(answer["sms"], contacts).lower()
    for sign in ("fever", "chills", "redness", "swelling", "worse pain", "bleeding", "fluid at the needle spot",
                 "back or rib pain", "cough", "numbness", "tingling", "weakness", "chest pain", "trouble breathing",
                 "sudden leg weakness"):
        assert sign in sms, sign
    assert "policy" in sms and f"call {contacts.emergency_number} now" in sms
    web = fill_contacts(answer["web"], contacts).lower()
    assert 'under "call your doctor"' in web and "policy" in web and f"call {contacts.emergency_number} now" in web


def test_the_risks_sms_names_the_serious_risks():
    sms = find_topic_answer("risks", "both")["sms"].lower()
    for risk in ("cement leaking", "infection", "bleeding", "nerve injury", "numbness", "tingling", "weakness",
                 "paralysis"):
        assert risk in sms, risk


def find_topic_answer(topic_id: str, procedure: str) -> dict:
    topic = next(topic for topic in read_knowledge().topics if topic["id"] == topic_id)
    return next(answer for answer in topic["answers"] if answer["procedure"] == procedure)


def test_a_changed_leaflet_is_reported_and_its_answers_marked_while_the_reviewed_text_is_served(tmp_path, caplog):
    leaflets = edited_leaflets(tmp_path, "002_19d1242328a8c7c4.txt", "40 minutes to 2 hours", "30 minutes to 2 hours")
    engine = create_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    with caplog.at_level(logging.WARNING):
        load_knowledge(engine, leaflets=leaflets)
    [notice] = [record.getMessage() for record in caplog.records if "changed since its review" in record.getMessage()]
    assert "002_19d1242328a8c7c4.txt" in notice and "duration/both" in notice
    duration = find_answer(engine, "duration", None)
    assert duration.review.needs_review
    assert "40 minutes to 2 hours" in duration.web  # the reviewed text, until a reviewer signs the new one
    assert not find_answer(engine, "questions_for_doctor", None).review.needs_review  # cites another leaflet
    assert notice.count("/") == sum(
        "health_library" in answer["sources"] for topic in read_knowledge().topics for answer in topic["answers"]
    )


def test_without_the_leaflets_nothing_is_loaded_and_the_error_says_where_they_were_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAFLETS_DIR", str(tmp_path / "nowhere"))
    engine = create_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    with pytest.raises(KnowledgeError, match=r"the leaflets' folder .*nowhere is missing.*LEAFLETS_DIR"):
        load_knowledge(engine)
    assert "sources" not in sqlalchemy_inspect(engine).get_table_names()


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
        ("topics.yml", lambda text: text.replace("- id: overview", "- id: overveiw", 1),
         r"topics\.yml: topic 'overveiw': not a topic of assistant/vocabulary\.py"),
        ("topics.yml", lambda text: text[:text.index("  - id: questions_for_doctor")],
         r"topics\.yml: no entry for topic 'questions_for_doctor'"),
        ("facts.yml", lambda text: text.replace("limit: at_most\n    value: 15", "limit: at_most\n    value: [10, 15]", 1),
         r"facts\.yml: fact 'ice_pack_health_library': a 'at_most' limit takes one figure"),
        ("topics.yml", lambda text: re.sub(r"versions: \{pain_article: \w+, ", "versions: {", text, count=1),
         r"topics\.yml: topic 'overview', answer for 'both': review 'versions' must give a version for each cited source"),
        ("sources.yml", lambda text: text.replace("reviewed: 2026-12-01", "reviewed: last week", 1),
         r"sources\.yml: source 'pain_article': 'reviewed' must be a date"),
        ("sources.yml", lambda text: text.replace("file: 000_50bb5ebd3dd113eb.txt", "file: 000_missing.txt", 1),
         r"sources\.yml: source 'pain_article': leaflet 000_missing\.txt cannot be read"),
    ],
    ids=["unknown-source-in-answer", "unknown-source-in-fact", "malformed-yaml", "malformed-sources", "bad-procedure",
         "topic-not-in-vocabulary", "topic-missing", "range-for-an-upper-limit", "review-without-a-version",
         "review-date-not-a-date", "leaflet-missing"],
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


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_database_loaded_before_the_review_fields_is_upgraded_and_its_escalations_kept(tmp_path, request, database):
    url = (
        f"sqlite:///{tmp_path / 'kb.db'}" if database == "sqlite"
        else new_postgres_database(request.getfixturevalue("postgres_url"))
    )
    engine = create_engine(url)
    with engine.begin() as connection:  # the sources table as it was before leaflets had a SHA-256
        connection.exec_driver_sql("CREATE TABLE sources (id VARCHAR(64) PRIMARY KEY, file VARCHAR(255) NOT NULL, "
                                   "title VARCHAR(255) NOT NULL, publisher VARCHAR(255) NOT NULL)")
        connection.exec_driver_sql("INSERT INTO sources VALUES ('old', 'old.txt', 'Old', 'Old')")
    escalation = record_escalation(engine, sender_id="patient-1", channel="rest", urgency="urgent",
                                   signs=["fever"], matched_words=["fever"])
    load_knowledge(engine)
    assert_complete(engine)
    assert [row["id"] for row in list_escalations(engine)] == [escalation]
