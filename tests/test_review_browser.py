"""The knowledge review page (make review) in a real browser: Debian's Chromium driven by Playwright.

The page is built from the real knowledge base, and from a copy with a changed leaflet
and a faulty answer; screenshots go to test-output/screenshots/knowledge-review-*.png.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from assistant.knowledge.load import read_knowledge, validate
from assistant.knowledge.review import review_knowledge
from assistant.settings import KNOWLEDGE_DIR, PROJECT_ROOT, load_contacts
from scripts.review import render_page
from tests.helpers import edited_leaflets

SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"


def write_page(directory: Path, out: Path, leaflets: Path | None = None) -> Path:
    contacts = load_contacts()
    files = read_knowledge(directory, leaflets)
    validate(files, contacts)
    out.write_text(render_page(files, review_knowledge(files, contacts)), encoding="utf-8")
    return out


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def test_the_review_page_shows_every_answer_beside_its_leaflet_sentences_and_no_flag(page: Page, tmp_path):
    files = read_knowledge()
    answers = sum(len(topic["answers"]) for topic in files.topics)
    page.goto(write_page(KNOWLEDGE_DIR, tmp_path / "review.html").as_uri())
    expect(page.locator("#flag-count")).to_have_text("No flags")
    expect(page.locator(".flag")).to_have_count(0)
    expect(page.locator("article.answer")).to_have_count(answers)
    # Every answer has its web and SMS text and, beside them, a leaflet sentence for each of its web sentences.
    for article in page.locator("article.answer").all():
        expect(article.locator(".web")).not_to_be_empty()
        expect(article.locator(".sms")).not_to_be_empty()
        expect(article.locator("ol.supports li")).not_to_have_count(0)
    # The duration answer's figures are highlighted in the leaflet sentences that state them.
    duration = page.locator("#duration-both")
    stated = duration.locator("ol.supports li", has_text='"Vertebroplasty and Kyphoplasty" says 40 minutes to 2 hours')
    expect(stated.locator(".leaflet mark.match")).to_have_text(["40 minutes", "2 hours"])
    expect(stated.locator("cite")).to_contain_text('"Vertebroplasty and Kyphoplasty"')
    expect(page.locator("article mark.unsupported")).to_have_count(0)
    expect(page.locator("#sources tr[data-source]")).to_have_count(len(files.sources))
    expect(page.locator("#facts", has_text="at most 15 minutes")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "knowledge-review.png"))
    duration.scroll_into_view_if_needed()
    duration.screenshot(path=str(SCREENSHOTS / "knowledge-review-answer.png"))
    assert page.errors == []


def test_a_changed_leaflet_and_a_faulty_answer_are_flagged_on_the_page(page: Page, tmp_path):
    directory = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, directory)
    leaflets = edited_leaflets(tmp_path, "003_e12edd75e478d5b3.txt", "about one hour for each bone",
                               "about two hours for each bone")
    topics = directory / "topics.yml"
    topics.write_text(topics.read_text().replace("No food for at least 6 hours before.", "No food for at least 9 hours before.", 1))
    page.goto(write_page(directory, tmp_path / "review.html", leaflets).as_uri())
    expect(page.locator("#flag-count")).not_to_have_text("No flags")
    expect(page.locator('#sources tr[data-source="family_doctor"]')).to_contain_text("changed")
    expect(page.locator("#duration-both")).to_contain_text("Needs review")
    expect(page.locator('#flags [data-kind="source_changed"]')).not_to_have_count(0)
    preparation = page.locator("#preparation-both")
    expect(preparation.locator('[data-kind="unsupported_figure"]')).to_contain_text("9 hours")
    expect(preparation.locator(".web mark.unsupported")).to_have_text("9 hours")
    # The fact resting on the old wording no longer finds it in its leaflet.
    expect(page.locator("#facts", has_text="family_doctor does not say 'about one hour for each bone'")).to_have_count(1)
    page.locator("#flags").screenshot(path=str(SCREENSHOTS / "knowledge-review-flags.png"))
