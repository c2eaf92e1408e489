"""Topic and procedure decisions, plain data in and out."""
from assistant.dialogue import (
    ASK_MORE,
    CHOOSE_OPTION,
    closest_topics,
    is_first_reply,
    keyword_intent,
    mentioned_procedures,
    resolve_procedure,
    resolve_topic,
)
from assistant.turn import describe_signs


def test_a_topic_question_names_its_topic():
    assert resolve_topic("ask_duration", previous_topic="pain") == "duration"


def test_a_procedure_follow_up_keeps_the_previous_topic():
    assert resolve_topic("inform_procedure", previous_topic="duration") == "duration"


def test_a_procedure_named_alone_at_the_start_asks_what_it_is():
    assert resolve_topic("inform_procedure", previous_topic=None) == "overview"


def test_conversational_intents_have_no_topic():
    assert resolve_topic("greet", previous_topic="duration") is None


def test_the_procedure_named_now_wins_over_the_one_in_context():
    assert resolve_procedure(["kyphoplasty"], previous="vertebroplasty") == "kyphoplasty"


def test_the_procedure_in_context_carries_over():
    assert resolve_procedure([], previous="kyphoplasty") == "kyphoplasty"
    assert resolve_procedure([], previous=None) is None


def test_naming_both_procedures_asks_about_both():
    assert resolve_procedure(["vertebroplasty", "kyphoplasty"], previous=None) == "both"
    assert resolve_procedure(["kyphoplasty", "kyphoplasty"], previous=None) == "kyphoplasty"


def test_closest_topics_skip_non_topic_intents():
    ranking = [
        {"name": "nlu_fallback"}, {"name": "ask_pain"}, {"name": "greet"},
        {"name": "ask_recovery"}, {"name": "ask_risks"},
    ]
    assert closest_topics(ranking) == ["pain", "recovery"]


def test_more_and_a_lone_option_number_are_dialogue_keywords_and_nothing_else_is():
    assert [keyword_intent(text) for text in ("MORE", " more. ", "1", "2 ")] == [ASK_MORE, ASK_MORE, CHOOSE_OPTION, CHOOSE_OPTION]
    assert [keyword_intent(text) for text in ("more pain?", "0", "12", "1 week", "/ask_risks")] == [None] * 5


def test_procedure_entities_are_made_canonical():
    parse = {"entities": [
        {"entity": "procedure", "value": "balloon"},
        {"entity": "procedure", "value": "kyphoplasty"},
        {"entity": "procedure", "value": "one"},
    ]}
    assert mentioned_procedures(parse) == ["kyphoplasty"]


def test_the_first_reply_is_the_one_after_session_start():
    assert is_first_reply([{"event": "session_started"}, {"event": "user"}])
    assert is_first_reply([{"event": "session_started"}, {"event": "user"}, {"event": "bot"}])
    assert not is_first_reply(
        [{"event": "user"}, {"event": "bot"}, {"event": "user"}, {"event": "bot"}]
    )


def test_signs_are_named_in_a_sentence():
    assert describe_signs(["a fever"]) == "a fever"
    assert describe_signs(["redness", "swelling", "a fever"]) == "redness, swelling and a fever"
