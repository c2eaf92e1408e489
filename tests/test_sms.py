"""SMS webhook end to end, with requests signed by the twilio library as Twilio signs them."""
from __future__ import annotations

import pytest

from assistant.settings import load_contacts
from assistant.sms import MORE_LIMIT
from tests.helpers import Phone, assert_sms


def test_unsigned_or_wrongly_signed_requests_get_403(assistant):
    phone = Phone(assistant)
    assert phone.post("how long does it take", signature="").status_code == 403
    assert phone.post("how long does it take", signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    forger = Phone(assistant, token="not-the-clinic-token")
    assert forger.post("how long does it take").status_code == 403
    assert assistant.is_up()


def test_question_and_follow_up(assistant):
    phone = Phone(assistant)
    first = phone.text("how long does kyphoplasty take?")
    assert_sms(first)
    assert "not medical advice" in first  # the first reply carries the disclaimer
    follow_up = phone.text("and vertebroplasty?")
    assert_sms(follow_up)
    assert "hour" in follow_up.lower()
    assert "not medical advice" not in follow_up


def test_more_sends_the_longer_answer_in_three_segments(assistant):
    phone = Phone(assistant)
    short = phone.text("what are the risks of vertebroplasty")
    longer = phone.text("MORE")
    assert_sms(longer, MORE_LIMIT)
    assert len(longer) > len(short) - 200
    assert "Source:" in longer


# Vague messages the model is unsure about (it may also decline some as out of scope).
VAGUE = ["is that normal", "my back", "is it ok"]


def test_numbered_suggestions_can_be_picked(assistant):
    phone = Phone(assistant)
    phone.text("hello")
    offers = [phone.text(message) for message in VAGUE]
    offer = next((reply for reply in offers if "Reply 1 for" in reply), None)
    assert offer, offers
    assert_sms(offer)
    picked = phone.text("1")
    assert_sms(picked)
    assert "Reply 1 for" not in picked
    assert picked != offer


def test_stop_start_and_help(assistant):
    phone = Phone(assistant)
    contacts = load_contacts()
    help_reply = phone.text("HELP")
    assert contacts.nurse_phone in help_reply and "STOP" in help_reply
    assert_sms(help_reply)
    assert "START" in phone.text("stop")
    assert phone.text("how long does it take?") is None
    assert phone.text("HELP") is None
    assert "on again" in phone.text("START")
    assert_sms(phone.text("how long does it take?"))


@pytest.mark.parametrize("word", ["STOPALL", "unsubscribe", "Cancel", "END", "quit"])
def test_every_stop_word_opts_out(assistant, word):
    phone = Phone(assistant)
    assert "START" in phone.text(word)
    assert phone.text("hello") is None


def test_a_red_flag_comes_first_in_the_sms(assistant):
    phone = Phone(assistant)
    reply = phone.text("had kyphoplasty yesterday and now I cant breathe properly")
    assert_sms(reply)
    assert reply.startswith("You mentioned trouble breathing")
    assert load_contacts().emergency_number in reply.splitlines()[0]


def test_long_and_empty_bodies_get_polite_replies(assistant):
    phone = Phone(assistant)
    assert_sms(phone.text("my back hurts and I have questions " * 46))  # about 1,600 characters
    empty = phone.text("")
    assert_sms(empty)
    assert "question" in empty.lower()
