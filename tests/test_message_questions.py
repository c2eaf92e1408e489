"""Finding what a long message asks (assistant/message_questions.py), with the trained intent model."""
from __future__ import annotations

import copy
import tarfile
from functools import partial

import joblib
import numpy as np
import pytest
import yaml

from assistant.intent_model import rank_intents, ready_for_prediction
from assistant.message_questions import QuestionSettings, asks, read_message, sentences
from assistant.sentence_encoder import MAX_TOKENS, basic_tokens, load_encoder
from assistant.settings import PROJECT_ROOT
from scripts.servers import latest_model

CLASSIFIER = "addons.intent_classifier.TfidfIntentClassifier"
TUNING = PROJECT_ROOT / "tests" / "data" / "tuning_questions.yml"


@pytest.fixture(scope="module")
def model():
    """The intent model of the newest trained Rasa model (`make test` trains it first)."""
    try:
        path = latest_model()
    except RuntimeError as error:
        pytest.fail(str(error))
    with tarfile.open(path) as archive:
        member = next(name for name in archive.getnames() if name.endswith("intent_model.joblib"))
        return joblib.load(archive.extractfile(member))


@pytest.fixture(scope="module")
def settings() -> QuestionSettings:
    """The settings in config.yml."""
    pipeline = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]
    component = next(entry for entry in pipeline if entry["name"] == CLASSIFIER)
    return QuestionSettings(component["question_context_weight"], component["question_min_confidence"])


@pytest.fixture
def read(model, settings):
    return lambda text: read_message(text, partial(rank_intents, model), settings)


def test_weights_laid_out_for_prediction_score_messages_exactly_as_before(model):
    texts = ["how long does kyphoplasty take?", "hw lng is recovry", "blorp fizzle wug",
             "My mum had vertebroplasty last week. Can she shower? And when can she drive?"]
    row_by_row = copy.deepcopy(model)
    row_by_row.named_steps["classifier"].coef_ = np.ascontiguousarray(row_by_row.named_steps["classifier"].coef_)
    laid_out = ready_for_prediction(copy.deepcopy(row_by_row))
    assert laid_out.named_steps["classifier"].coef_.flags["F_CONTIGUOUS"]
    assert np.array_equal(laid_out.predict_proba(texts), row_by_row.predict_proba(texts))


def asked(text: str) -> list[bool]:
    return [asks(sentence) for sentence in sentences(text)]


@pytest.mark.parametrize("text, expected", [
    ("My mum is 84. Is she too old for it?", [False, True]),
    ("booked for tmrw. does she need to stop eating before. wat signs shud we look out for", [False, True, True]),
    ("I was told about it at clinic. I want to know what happens during it.", [False, True]),
    ("Sorry for the long message. Anyway, my question is whether it hurts.", [False, True]),
    ("We saw the surgeon. And will he still need his brace", [False, True]),
    ("I’d like to know the risks. Thanks.", [True, False]),
    ("Any advice appreciated. Which is better for her?", [False, True]),
    ("Had it done last week. Cant sleep. Dont know what to do.", [False, False, False]),
    ("Can I ask you a question? Quick question. Hello?", [False, False, False]),
])
def test_question_sentences_and_requests_are_found_with_or_without_a_question_mark(text, expected):
    assert asked(text) == expected


def test_a_line_break_ends_a_question_written_without_punctuation():
    assert asked("how long does it take\nwill it hurt") == [True, True]


@pytest.mark.parametrize("text, expected", [
    ("How long does it take and is it painful?", ["How long does it take", "and is it painful?"]),
    ("how soon can he drive & does he still need the brace", ["how soon can he drive", "& does he still need the brace"]),
    ("Is she put to sleep or is she awake?", ["Is she put to sleep", "or is she awake?"]),
    ("Mum fell in May. How long does it take and will she need a brace?",
     ["Mum fell in May.", "How long does it take", "and will she need a brace?"]),
    # Not a question's opening, or not in a question: one sentence.
    ("What is the difference between vertebroplasty and kyphoplasty?",
     ["What is the difference between vertebroplasty and kyphoplasty?"]),
    ("My mother is 80 and is in pain, can she have it?", ["My mother is 80 and is in pain, can she have it?"]),
    ("She fell and how she hurt", ["She fell and how she hurt"]),
])
def test_two_questions_joined_by_and_are_two_questions(text, expected):
    assert [sentence.text for sentence in sentences(text)] == expected


def test_both_questions_of_one_sentence_are_recognised(read):
    reading = read("how long does kyphoplasty take and will it hurt")
    assert [question.intent for question in reading.questions] == ["ask_duration", "ask_pain"]


def test_a_single_sentence_is_classified_whole_exactly_as_before(model, settings):
    """Only messages of several sentences pay for more classifications."""
    texts = [question["text"] for question in yaml.safe_load(TUNING.read_text())["questions"]]
    single = [text for text in texts if len(sentences(text)) == 1]
    assert len(single) > 100
    classified = []

    def rank(batch):
        classified.append(list(batch))
        return rank_intents(model, batch)

    for text in single:
        reading = read_message(text, rank, settings)
        assert reading.ranking == rank_intents(model, [text])[0]
        assert [question.text for question in reading.questions] == [text]
    assert classified == [[text] for text in single]


def test_a_message_of_several_sentences_is_classified_in_one_batch_with_its_questions(model, settings):
    classified = []

    def rank(batch):
        classified.append(list(batch))
        return rank_intents(model, batch)

    text = "My dad fractured a vertebra. The clinic offered kyphoplasty. How long does it take? Will it hurt?"
    read_message(text, rank, settings)
    assert classified == [[text, "How long does it take?", "Will it hurt?"]]


def test_a_story_longer_than_the_encoder_reads_is_answered_by_its_question(read):
    story = (
        "My mother is 86 and has had osteoporosis for years. In the spring she fell in the garden and broke a "
        "vertebra, and the pain was so bad she could not get out of bed for a week. The GP gave her strong "
        "painkillers, which made her sick and confused, and then a second fracture showed up on the next scan. "
        "The bone clinic started her on a weekly tablet and calcium, and sent her to physiotherapy, but the "
        "exercises hurt too much. The spinal team has now said she could have vertebroplasty for both fractures, "
        "and the consultant explained the cement and the x-ray and the small risk of leaking. My sister and I "
        "share her care between us, she lives on her own, and she is worried about being away from home and "
        "about the cat. She has heart failure as well and takes water tablets and a blood thinner, so every "
        "hospital visit is a big event for her and for us. Last time she was admitted, for a chest infection two "
        "winters ago, she became very muddled on the ward at night and it took her weeks to get back to herself "
        "once she was home. We would like to plan ahead this time, arrange for someone to feed the cat and let "
        "her neighbours know."
    )
    question = "How many nights will she have to stay in hospital afterwards?"
    tokenizer = load_encoder(str(PROJECT_ROOT / "build" / "minilm")).tokenizer
    assert len([piece for word in basic_tokens(story) for piece in tokenizer.pieces(word)]) > MAX_TOKENS
    reading = read(f"{story} {question}")
    assert reading.ranking[0]["name"] == "ask_hospital_stay"
    assert [question.text for question in reading.questions] == [question]


def test_the_first_question_is_the_main_one_and_the_others_follow_in_message_order(read):
    reading = read("does kyphoplasty hurt? will i have to stay in hospital? what are the chances it doesnt work")
    assert reading.ranking[0]["name"] == "ask_pain"
    assert [question.intent for question in reading.questions] == ["ask_pain", "ask_hospital_stay", "ask_effectiveness"]
    assert [question.text for question in reading.questions] == [
        "does kyphoplasty hurt?", "will i have to stay in hospital?", "what are the chances it doesnt work",
    ]


def test_two_questions_on_separate_lines_are_both_recognised(read):
    # Whole, the message reads as a pain question only.
    reading = read("how long does it take\nwill it hurt")
    assert [question.intent for question in reading.questions] == ["ask_duration", "ask_pain"]


def test_a_request_is_the_main_question_and_the_question_after_it_is_offered(read):
    reading = read(
        "I was told about kyphoplasty at clinic today but it was all very quick. I want to know what actually "
        "happens during it. Also is she awake for it or put to sleep?"
    )
    assert [question.intent for question in reading.questions] == ["ask_procedure", "ask_anesthesia"]


def test_asking_to_ask_is_not_the_main_question(read):
    reading = read("Can I ask you a question? How long does it take?")
    assert [(question.intent, question.text) for question in reading.questions] == [
        ("ask_duration", "How long does it take?"),
    ]


def test_the_same_question_asked_twice_is_listed_once(read):
    reading = read("What other options are there? Is it worth trying those first?")
    assert [question.intent for question in reading.questions] == ["ask_alternatives"]


def test_a_question_the_leaflets_cannot_answer_is_not_offered_beside_the_main_one(read, model):
    second = "Who won the football last night?"
    assert rank_intents(model, [second])[0][0]["name"] == "out_of_scope"
    reading = read(f"How long does the procedure take? {second}")
    assert [question.intent for question in reading.questions] == ["ask_duration"]


def test_confidences_are_probabilities_with_the_main_question_first(read):
    reading = read("Is the cement safe to leave in for good? What are the main risks?")
    assert reading.questions[0].confidence == reading.ranking[0]["confidence"]
    assert abs(sum(entry["confidence"] for entry in reading.ranking) - 1) < 1e-6
    assert all(0 < question.confidence <= 1 for question in reading.questions)


def test_no_sentence_and_no_intent_is_listed_twice(read):
    messages = yaml.safe_load((PROJECT_ROOT / "tests" / "data" / "long_message_dev.yml").read_text())["messages"]
    for message in messages:
        questions = read(message["text"]).questions
        assert len({question.text for question in questions}) == len(questions), message["text"]
        assert len({question.intent for question in questions}) == len(questions), message["text"]
