"""Each channel's rendering of a reply (assistant/render.py): pure functions on plain data."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine

from assistant import gsm7
from assistant.knowledge.query import find_answer, topic_titles
from assistant.render import (
    MORE_HINT,
    SMS_MESSAGE_LIMIT,
    render_rest,
    render_sms,
    render_transcript,
    render_widget,
    segments,
    to_gsm7,
)
from assistant.reply import ALSO_ASKED, Advice, Answer, Notice, Option, Reply, Source
from assistant.reply_texts import load_reply_texts
from assistant.turn import TurnInput, respond
from assistant.vocabulary import ANSWER_PROCEDURES, EMERGENCY, TOPICS, URGENT
from tests.helpers import assert_sms

TEXTS = load_reply_texts()
ANSWER = Answer("pain", "Pain", "both", "It can hurt.\n\n- Ice helps\n- Rest helps", "Ice and rest help.",
                (Source("health_library", "Health library"), Source("bay_state_pain", "Bay State")))
ADVICE = Advice(URGENT, ("fever",), "You mentioned a fever. Call your doctor today.")
DISCLAIMER = Notice("disclaimer", TEXTS.notices["disclaimer"])
FULL = Reply(kind="triage", procedure="kyphoplasty", advice=ADVICE, answer=ANSWER,
             options=(Option("risks", "Risks"),), options_reason=ALSO_ASKED, options_prompt="You also asked about:",
             notices=(DISCLAIMER,))


def test_a_reply_survives_the_trip_between_the_servers_as_data():
    assert Reply.from_dict(FULL.as_dict()) == FULL


def test_the_rest_contract_is_derived_from_the_reply():
    messages = render_rest(FULL)
    assert [m.get("text") for m in messages[:2]] == [ADVICE.text, ANSWER.text + "\n\nSource: Health library; Bay State"]
    assert messages[2]["buttons"] == [{"title": "Risks", "payload": "1"}]
    assert messages[-1] == {"custom": {"type": "triage", "topic": "pain", "procedure": "kyphoplasty", "urgency": "urgent",
                                       "sources": ["health_library", "bay_state_pain"], "also_asked": ["risks"]}}
    plain = Reply(kind="smalltalk", message="Hello!")
    assert render_rest(plain)[-1]["custom"] == {"type": "smalltalk", "topic": None, "procedure": None,
                                                  "urgency": "routine", "sources": []}


def test_the_widget_gets_each_part_with_its_role_and_leaves_out_a_disclaimer_already_shown():
    messages = render_widget(FULL)
    assert [m["metadata"]["role"] for m in messages] == ["advice", "answer", "options", "disclaimer"]
    assert messages[0]["metadata"]["urgency"] == "urgent"
    answer = messages[1]["metadata"]
    assert answer["body"] == ANSWER.text and answer["sources"] == ["Health library", "Bay State"]
    assert "Source: Health library" in messages[1]["text"]  # for clients that show the text only
    assert messages[2]["quick_replies"] == [{"content_type": "text", "title": "Risks", "payload": "1"}]
    assert all("custom" not in m for m in messages)
    assert [m["metadata"]["role"] for m in render_widget(FULL, disclaimer_shown=True)] == ["advice", "answer", "options"]


def test_widget_messages_keep_only_what_rasa_webchat_shows_outside_their_metadata():
    # rasa-webchat 1.0.1 shows a message only if its keys, `metadata` aside, are exactly
    # {text} or {text, quick_replies}; with any other key it shows nothing at all.
    for message in render_widget(FULL):
        shown = set(message) - {"metadata"}
        assert shown in ({"text"}, {"text", "quick_replies"}), message
        assert message["text"].strip()


def test_sms_sends_advice_alone_then_the_short_answer_then_the_disclaimer_alone():
    messages = render_sms(FULL)
    assert messages == [
        ADVICE.text,
        f"Ice and rest help. {MORE_HINT} You also asked about: Reply 1 for Risks.",
        to_gsm7(DISCLAIMER.text),
    ]
    expanded = render_sms(Reply(kind="answer", answer=Answer(**{**ANSWER.__dict__, "expanded": True})))
    assert expanded == ["It can hurt. Ice helps. Rest helps. Source: Health library; Bay State."]


def test_sms_splits_a_long_text_between_sentences_never_inside_one():
    sentence = "This sentence is one of many in a long answer about recovery."
    long_answer = Answer(**{**ANSWER.__dict__, "text": " ".join([sentence] * 30), "expanded": True})
    messages = render_sms(Reply(kind="answer", answer=long_answer))
    assert len(messages) > 1
    for message in messages:
        assert_sms(message)
        assert all(part.strip() == sentence for part in re.split(r"(?<=\.) ", message) if "Source" not in part)


def test_segments_are_counted_as_carriers_bill_them():
    assert [segments("a" * length) for length in (1, 160, 161, 306, 307, 459)] == [1, 1, 2, 2, 3, 3]
    assert segments("[" * 80) == 1 and segments("[" * 81) == 2  # an extended character costs two septets


def test_a_paragraph_after_a_list_is_not_shown_inside_its_last_item():
    answer = Answer(**{**ANSWER.__dict__, "text": "Call if:\n- fever\n- chills\nIn an emergency, call 911."})
    [part] = [m for m in render_rest(Reply(kind="answer", answer=answer)) if "text" in m]
    assert part["text"].startswith("Call if:\n- fever\n- chills\n\nIn an emergency, call 911.")


def test_the_transcript_keeps_every_part_in_order():
    transcript = render_transcript(FULL)
    assert transcript.index(ADVICE.text) < transcript.index("It can hurt.") < transcript.index("1. Risks")
    assert transcript.endswith(DISCLAIMER.text)


# ---------------------------------------------------------------- every SMS the knowledge base can give

# The call-your-doctor signs the leaflets list, as the warning-signs answer must name them.
CALL_YOUR_DOCTOR_SIGNS = {
    "fever": r"fever", "chills": r"chill", "redness": r"red", "swelling": r"swell", "bleeding": r"bleed",
    "fluid from the needle spot": r"fluid|discharge|drain", "worse pain": r"worse|more pain|increas",
    "severe back or rib pain": r"back|rib", "cough": r"cough", "trouble breathing": r"breath",
    "chest pain": r"chest", "numbness": r"numb", "tingling": r"tingl", "weakness": r"weak",
}
# The serious complications the leaflets list, as the risks answer must name them.
SERIOUS_RISKS = {
    "cement leakage": r"cement (leak|can leak|may leak)|leak", "infection": r"infect", "bleeding": r"bleed",
    "nerve injury": r"nerve|numb|tingl|weak", "paralysis": r"paraly",
}


class Knowledge:
    def __init__(self, engine):
        self.engine = engine

    def answer(self, topic, procedure):
        return find_answer(self.engine, topic, procedure)

    def titles(self):
        return topic_titles(self.engine)


def every_sms_reply(knowledge_db_url):
    knowledge = Knowledge(create_engine(knowledge_db_url))
    for topic in TOPICS:
        for procedure in (None, *ANSWER_PROCEDURES):
            for first_reply in (True, False):
                for urgency in (None, URGENT, EMERGENCY):
                    triage = {"urgency": urgency, "signs": ["fever", "chest_pain"],
                              "labels": ["a fever", "chest pain"], "question_intent": f"ask_{topic}"} if urgency else {}
                    for more in (False, True):
                        turn = TurnInput(
                            text="MORE" if more else "(a question)",
                            intent="ask_more" if more else f"ask_{topic}",
                            triage={} if more else triage,
                            procedures_named=[procedure] if procedure in ("vertebroplasty", "kyphoplasty") else [],
                            topic=topic, procedure=procedure, first_reply=first_reply,
                        )
                        reply = respond(turn, knowledge, TEXTS).reply
                        yield (topic, procedure, first_reply, urgency if not more else None, more), reply


def test_no_sms_reply_drops_advice_signs_or_risks_or_cuts_a_sentence(knowledge_db_url, report):
    checked = segments_total = 0
    for case, reply in every_sms_reply(knowledge_db_url):
        topic = case[0]
        messages = render_sms(reply)
        whole = " ".join(messages)
        for message in messages:
            assert_sms(message)
            segments_total += segments(message)
        if reply.advice:
            assert messages[0] == to_gsm7(reply.advice.text), case  # whole, and first
        assert reply.answer is not None, case
        short = to_gsm7(reply.answer.short)
        if not reply.answer.expanded:
            assert short in whole, case  # the short answer whole, never reassurance cut down to nothing
            assert len(short) >= 80 and len(set(re.findall(r"[a-z]{5,}", short.lower()))) >= 8, (case, short)
            words = short.lower()
            if topic == "warning_signs":
                missing = [sign for sign, pattern in CALL_YOUR_DOCTOR_SIGNS.items() if not re.search(pattern, words)]
                assert not missing, (case, missing, short)
            if topic == "risks":
                missing = [risk for risk, pattern in SERIOUS_RISKS.items() if not re.search(pattern, words)]
                assert not missing, (case, missing, short)
        checked += 1
    assert checked == len(TOPICS) * 4 * 2 * 3 * 2
    report(f"SMS replies checked: {checked}, {segments_total / checked:.2f} segments each on average")


@pytest.mark.parametrize("topic", TOPICS)
def test_every_short_answer_fits_beside_the_more_hint_and_options(knowledge_db_url, topic):
    knowledge = Knowledge(create_engine(knowledge_db_url))
    for procedure in ANSWER_PROCEDURES:
        short = to_gsm7(TEXTS.contacts and respond(
            TurnInput(text="q", intent=f"ask_{topic}", procedures_named=[procedure] if procedure != "both" else []),
            knowledge, TEXTS).reply.answer.short)
        room = SMS_MESSAGE_LIMIT - len(MORE_HINT) - len(" You also asked about: Reply 1 for What these procedures are.")
        assert gsm7.septet_length(short) <= room, (topic, procedure, gsm7.septet_length(short))
