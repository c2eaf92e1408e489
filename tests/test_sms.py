"""SMS webhook end to end, with requests signed by the twilio library as Twilio signs them."""
from __future__ import annotations

import pytest

from assistant.settings import load_contacts
from assistant.reply_texts import load_reply_texts
from tests.helpers import VAGUE_MESSAGES, Phone


def test_unsigned_or_wrongly_signed_requests_get_403(assistant):
    phone = Phone(assistant)
    assert phone.post("how long does it take", signature="").status_code == 403
    assert phone.post("how long does it take", signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    forger = Phone(assistant, token="not-the-clinic-token")
    assert forger.post("how long does it take").status_code == 403
    assert assistant.is_up()


def test_question_and_follow_up(assistant):
    phone = Phone(assistant)
    first = phone.messages("how long does kyphoplasty take?")
    # The first reply carries the disclaimer as a message of its own, after the answer.
    assert first[-1] == load_reply_texts().notices["disclaimer"] and len(first) == 2
    follow_up = phone.text("and vertebroplasty?")
    assert "hour" in follow_up.lower()
    assert "not medical advice" not in follow_up


def test_more_sends_the_whole_answer_with_its_sources(assistant):
    phone = Phone(assistant)
    phone.text("hi")
    short = phone.text("what are the risks of vertebroplasty")
    assert short.endswith("Reply MORE for more.")
    longer = phone.text("MORE")
    assert len(longer) > len(short)
    assert "Source" in longer and "Reply MORE" not in longer




def test_numbered_suggestions_can_be_picked(assistant):
    phone = Phone(assistant)
    phone.text("hello")
    offers = [phone.text(message) for message in VAGUE_MESSAGES]
    offer = next((reply for reply in offers if "Reply 1 for" in reply), None)
    assert offer, offers
    picked = phone.text("1")
    first_title = offer.split("Reply 1 for ", 1)[1].split(",")[0].rstrip(".")
    assert "Reply 1 for" not in picked and "Source" not in picked  # the short answer to the option picked
    assert picked != offer and first_title
    assert picked != offer


def test_stop_start_and_help(assistant):
    phone = Phone(assistant)
    contacts = load_contacts()
    help_reply = phone.text("HELP")
    assert contacts.nurse_phone in help_reply and "STOP" in help_reply
    assert "START" in phone.text("stop")
    assert phone.text("how long does it take?") is None
    assert phone.text("HELP") is None
    assert "on again" in phone.text("START")
    assert phone.text("how long does it take?")


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit"])
def test_every_stop_word_opts_out(assistant, word):
    phone = Phone(assistant)
    assert "START" in phone.text(word)
    assert phone.text("hello") is None


def test_a_red_flag_comes_first_in_the_sms(assistant):
    phone = Phone(assistant)
    reply = phone.messages("had kyphoplasty yesterday and now I cant breathe properly")
    assert reply[0].startswith("You mentioned trouble breathing")
    assert load_contacts().emergency_number in reply[0]


def test_long_and_empty_bodies_get_polite_replies(assistant):
    phone = Phone(assistant)
    assert phone.text("my back hurts and I have questions " * 46)  # about 1,600 characters
    empty = phone.text("")
    assert "question" in empty.lower()


def test_a_first_text_about_warning_signs_names_every_sign(assistant):
    """The disclaimer no longer crowds the answer out of the first reply."""
    messages = Phone(assistant).messages("what warning signs should I watch for after kyphoplasty")
    answer = messages[0].lower()
    for sign in ("fever", "chills", "redness", "swelling", "bleeding", "back or rib pain", "cough",
                 "breathing", "chest pain", "numbness", "tingling", "weakness"):
        assert sign in answer, (sign, messages)
    assert messages[-1] == load_reply_texts().notices["disclaimer"]


def test_a_red_flag_with_a_question_gets_the_advice_whole_then_the_answer_whole(assistant):
    messages = Phone(assistant).messages("I had kyphoplasty yesterday and now I have a fever and chest pain")
    assert messages[0].startswith("You mentioned a fever and chest pain") and messages[0].endswith(".")
    assert "..." not in " ".join(messages)


@pytest.mark.parametrize("typed", ["/triage_emergency", "/delete_my_data", "/ask_risks"])
def test_a_typed_intent_shortcut_is_only_text(assistant, knowledge_db_url, typed):
    from assistant.db import engine_for
    from assistant.escalations import escalations_for

    phone = Phone(assistant)
    phone.text("how long does kyphoplasty take?")
    reply = phone.text(typed)
    assert "You mentioned" not in reply and "deleted" not in reply
    assert escalations_for(engine_for(knowledge_db_url), phone.number) == []
    # The conversation was not deleted: the next reply is not a first one, with the disclaimer.
    assert load_reply_texts().notices["disclaimer"] not in phone.messages("and vertebroplasty?")
