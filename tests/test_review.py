"""The knowledge review's checks (assistant/knowledge/review.py): they pass on the knowledge
base, and each fails on the fault it is there for."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from assistant.knowledge.load import SMS_MAX_SEPTETS, read_knowledge, validate
from assistant.knowledge.review import (
    COPIED_RUN, COPIED_RUN_WORDS, GRADE_OVER_MAX, MAX_GRADE, SMS_TOO_LONG, SOURCE_CHANGED, UNSUPPORTED_FIGURE,
    figures, review_knowledge, words,
)
from assistant.settings import KNOWLEDGE_DIR, load_contacts
from tests.helpers import edited_leaflets


def review_of(directory: Path = KNOWLEDGE_DIR, leaflets: Path | None = None):
    files = read_knowledge(directory, leaflets)
    validate(files, load_contacts())
    return review_knowledge(files, load_contacts())


def edited_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    directory = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, directory)
    path = directory / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return directory


def leaflet_words_from(source_id: str, start: tuple[str, ...]) -> list[str]:
    """The leaflet's words from the first place they begin with ``start``: read from the
    leaflet, so that no run of its wording is written into this project."""
    leaflet = words(read_knowledge(KNOWLEDGE_DIR).leaflet_text(source_id))
    first = next(index for index in range(len(leaflet)) if tuple(leaflet[index:index + len(start)]) == start)
    return leaflet[first:first + COPIED_RUN_WORDS]


def two_sentences_from(source_id: str, start: str) -> str:
    """The leaflet's sentence that begins with ``start`` and the one after it, as it writes them."""
    text = " ".join(read_knowledge(KNOWLEDGE_DIR).leaflet_text(source_id).replace("•", " ").split())
    first = text.lower().index(start)
    breaks = [match.end() for match in re.finditer(r"[.?!]", text[first:])]
    return text[first:first + breaks[1]]


def flags_of(review, kind: str) -> list[str]:
    return [str(flag) for flag in review.flags if flag.kind == kind]


def test_no_answer_or_fact_has_a_figure_outside_its_leaflets_a_copied_run_or_an_sms_over_its_limit():
    review = review_of()
    assert [str(flag) for flag in review.flags if flag.blocking] == []
    assert all(answer.sms_septets <= SMS_MAX_SEPTETS for answer in review.answers)
    # The figures are checked, not skipped: the answers give dozens, each stated by a cited leaflet.
    checked = [supported for answer in review.answers for found in answer.figures.values() for _, supported in found]
    assert len(checked) > 40 and all(checked)


def test_every_answer_reads_at_grade_8_or_under():
    review = review_of()
    assert flags_of(review, GRADE_OVER_MAX) == []
    assert all(grade <= MAX_GRADE for answer in review.answers for grade in answer.grades.values())


def test_every_answer_was_reviewed_against_the_leaflets_as_they_are():
    review = review_of()
    assert review.changed_sources == [] and flags_of(review, SOURCE_CHANGED) == []


def test_a_figure_that_no_cited_leaflet_states_fails_the_check(tmp_path):
    # 8 hours is in no leaflet; 95% is, but not in the one the preparation answer cites.
    directory = edited_copy(tmp_path, "topics.yml", "No food for at least 6 hours before.",
                            "No food for at least 8 hours before. 95% of people do.")
    flags = flags_of(review_of(directory), UNSUPPORTED_FIGURE)
    assert len(flags) == 2
    assert "preparation/both (web)" in flags[0] and "'8 hours'" in flags[0] and "'95%'" in flags[1]


@pytest.mark.parametrize("figure, in_leaflet", [
    ("for one week", True),  # "up to one week before"
    ("for 7 days", True),  # the same figure in days
    ("for 6 days", False),
    ("within 3 to 6 hours", True),
    ("for about an hour", True),  # "another hour or so"
    ("for 15 hours", False),  # the leaflet's 15 is minutes
])
def test_a_figure_is_stated_when_a_cited_leaflet_gives_the_same_amount(tmp_path, figure, in_leaflet):
    directory = edited_copy(tmp_path, "topics.yml", "Your doctor will tell you exactly what to do.",
                            f"Wait {figure}. Your doctor will tell you exactly what to do.")
    assert bool(flags_of(review_of(directory), UNSUPPORTED_FIGURE)) is not in_leaflet


def test_number_words_count_as_figures_only_with_a_unit():
    assert [(f.value, f.unit) for f in figures("one or two needles, 1-2 days, 95%, 40 million people")] == [
        (1, "needle"), (2, "needle"), (1 * 24 * 60, "minutes"), (2 * 24 * 60, "minutes"), (95, "percent"),
        (40_000_000, "people"),
    ]
    assert figures("One leaflet says one or more bones") == []


def test_a_run_of_eight_words_copied_from_a_leaflet_fails_the_check_and_seven_do_not(tmp_path):
    leaflet_words = leaflet_words_from("hta_augmentation", ("the", "cement", "hardens"))
    copied = " ".join(leaflet_words[:COPIED_RUN_WORDS])
    shorter = " ".join(leaflet_words[1:COPIED_RUN_WORDS])
    flagged = flags_of(review_of(edited_copy(tmp_path / "8", "topics.yml", "It makes the bone stronger.", copied + ".")),
                       COPIED_RUN)
    assert flagged == [f"cement/both (sms): 8+ words copied from a leaflet: {copied.lower().replace(',', '')!r} "
                       "(from hta_augmentation)"]
    assert flags_of(review_of(edited_copy(tmp_path / "7", "topics.yml", "It makes the bone stronger.", shorter + ".")),
                    COPIED_RUN) == []


def test_a_run_copied_across_a_sentence_break_is_still_a_copy(tmp_path):
    copied = two_sentences_from("family_doctor", "how long will")
    directory = edited_copy(tmp_path, "topics.yml", "Also talk\n          about the risks.", f"Also ask: {copied}")
    assert " ".join(words(copied)[:9]) in " ".join(flags_of(review_of(directory), COPIED_RUN))


def test_an_sms_over_its_limit_and_a_hard_answer_are_flagged(tmp_path):
    directory = edited_copy(
        tmp_path, "topics.yml", "Ask your doctor what fits you.",
        "Ask your doctor what fits you. Physicians occasionally recommend individualized rehabilitation "
        "considering comorbidities, medication interactions and osteoporotic vulnerability.",
    )
    files = read_knowledge(directory)  # the loader would refuse this SMS; the review still measures it
    review = review_knowledge(files, load_contacts())
    assert flags_of(review, SMS_TOO_LONG)[0].startswith("alternatives/both (sms)")
    assert any(flag.startswith("alternatives/both (sms)") for flag in flags_of(review, GRADE_OVER_MAX))
    assert {flag.kind for flag in review.flags if flag.blocking} == {SMS_TOO_LONG}


def test_a_changed_leaflet_flags_the_answers_that_cite_it_without_failing_the_build(tmp_path):
    leaflets = edited_leaflets(tmp_path, "004_7e43570064e6fe42.txt", "about 75 percent", "about 70 percent")
    review = review_of(leaflets=leaflets)
    stale = {answer.key for answer in review.answers if answer.stale_sources}
    citing = {f"{topic['id']}/{answer['procedure']}" for topic in read_knowledge().topics for answer in topic["answers"]
              if "bay_state_pain" in answer["sources"]}
    assert stale == citing and len(flags_of(review, SOURCE_CHANGED)) == len(citing)
    assert [source["id"] for source in review.changed_sources] == ["bay_state_pain"]
    # The 75% answers and the fact now rest on a figure the leaflet no longer states.
    assert any("mobility_bay_state_pain" in flag for flag in flags_of(review, UNSUPPORTED_FIGURE))
