"""What the nurse line sees of triage: reported signs from the clinic's policy, and pertinent negatives."""
from __future__ import annotations

from sqlalchemy import create_engine

from assistant import nurse
from assistant.settings import load_contacts
from assistant.triage import assess, warning_sign


def nurse_view(text: str, knowledge_db_url: str) -> dict:
    parse_data = {"text": text, "triage": assess(text).as_dict(), "entities": [],
                  "intent_ranking": [{"name": "ask_recovery", "confidence": 0.9}]}
    return nurse.assess(parse_data, create_engine(knowledge_db_url), load_contacts())


def test_the_nurse_sees_a_denied_sign_and_the_words_that_denied_it(knowledge_db_url):
    result = nurse_view("caller says no fever, but her back is red since the kyphoplasty", knowledge_db_url)
    assert result["urgency"] == warning_sign("redness").urgency
    assert [sign["sign"] for sign in result["signs"]] == ["redness"]
    assert [(item["label"], item["reason"], item["context"]) for item in result["discounted"]] == [
        (warning_sign("fever").label, "denied", "no fever")
    ]


def test_the_nurse_sees_background_as_background_not_as_a_sign(knowledge_db_url):
    result = nurse_view(
        "her daughter is signing the consent, her back is in agony since the fracture", knowledge_db_url
    )
    assert result["urgency"] == "routine" and result["signs"] == []
    assert [item["reason"] for item in result["discounted"]] == ["background"]
