"""One vocabulary: the domain, the rules, the NLU data and the knowledge base name the topics
declared in assistant/vocabulary.py, and nothing else does."""
from __future__ import annotations

import yaml
from rasa.shared.nlu.training_data.loading import load_data
from sqlalchemy import create_engine

from assistant.dialogue import CONVERSATION_TURN_TYPES
from assistant.knowledge.query import topic_titles
from assistant.reply_texts import CONVERSATION_INTENTS
from assistant.settings import PROJECT_ROOT
from assistant.vocabulary import TOPIC_INTENTS, TOPICS

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
RULES = yaml.safe_load((PROJECT_ROOT / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]


def topic_intents_among(intents) -> set[str]:
    return {intent for intent in intents if intent.startswith("ask_") and intent != "ask_more"}


def test_the_domain_declares_every_topic_intent_and_no_other():
    assert topic_intents_among(DOMAIN["intents"]) == set(TOPIC_INTENTS)


def test_the_rules_answer_every_domain_intent():
    answered = {step["intent"] for rule in RULES for step in rule["steps"]
                for step in (step.get("or") or [step]) if "intent" in step}
    assert answered == set(DOMAIN["intents"]) | {"nlu_fallback"}


def test_the_nlu_data_trains_every_topic_intent_and_no_other():
    trained = load_data(str(PROJECT_ROOT / "data" / "nlu")).intents
    assert topic_intents_among(trained) == set(TOPIC_INTENTS)


def test_the_knowledge_base_answers_every_topic_in_order(knowledge_db_url):
    assert list(topic_titles(create_engine(knowledge_db_url))) == list(TOPICS)


def test_every_conversational_intent_has_its_reply_text_and_turn_type():
    assert set(CONVERSATION_TURN_TYPES) == set(CONVERSATION_INTENTS)
    assert set(CONVERSATION_INTENTS) <= set(DOMAIN["intents"])
