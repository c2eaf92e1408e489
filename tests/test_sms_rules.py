"""SMS composition on its own: keywords, choices, fitting a turn into one message."""
from assistant import gsm7
from assistant.sms import MORE_HINT, REPLY_LIMIT, Turn, choice, compose_reply, keyword, split_turn, to_gsm7

DISCLAIMER = "General information, not medical advice. In an emergency, call 911."


def test_keywords_are_whole_messages_in_any_case():
    assert keyword(" stop ") == "stop" and keyword("Unsubscribe") == "stop"
    assert keyword("START") == "start" and keyword("help") == "help" and keyword("More") == "more"
    assert keyword("please stop the pain") is None


def test_choices_are_single_digits():
    assert choice("1") == 1 and choice(" 2 ") == 2
    assert choice("12") is None and choice("1 hour?") is None


def test_unicode_punctuation_becomes_gsm7():
    text = to_gsm7("It\u2019s \u201cfine\u201d \u2013 really\u2026 \U0001F600")
    assert text == "It's \"fine\" - really... "
    assert gsm7.is_gsm7(text)


def test_advice_first_and_the_answer_cut_to_fit_with_more():
    turn = Turn(
        advice="You mentioned a fever. Please call your doctor today.",
        body=["This is a sentence of the answer. " * 20],
        options=[],
        disclaimer=True,
    )
    reply = compose_reply(turn, DISCLAIMER)
    assert reply.startswith("You mentioned a fever.")
    assert MORE_HINT in reply and DISCLAIMER in reply
    assert gsm7.septet_length(reply) <= REPLY_LIMIT


def test_suggestions_become_numbered_options():
    messages = [{"text": "Not sure.", "buttons": [{"title": "Pain", "payload": "/ask_pain"},
                                                  {"title": "Recovery", "payload": "/ask_recovery"}]}]
    reply = compose_reply(split_turn(messages, DISCLAIMER), DISCLAIMER)
    assert reply == "Not sure.\nReply 1 for Pain, 2 for Recovery."


def test_triage_turns_put_the_advice_first_and_drop_source_lines():
    messages = [
        {"text": "You mentioned chest pain. Call 911 now."},
        {"custom": {"type": "triage", "urgency": "emergency"}},
        {"text": "The answer."},
        {"text": "Source: A leaflet"},
    ]
    turn = split_turn(messages, DISCLAIMER)
    assert turn.advice == "You mentioned chest pain. Call 911 now."
    assert turn.body == ["The answer."]
