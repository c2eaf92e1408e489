"""make review: the knowledge base's review page, for a clinician to read in a browser.

For every answer, side by side: the web and SMS texts as patients read them, and the
leaflet sentences each web sentence rests on, found among the leaflets the answer
cites by BM25 keyword search and MiniLM sentence embeddings together (reciprocal-rank
fusion); figures are highlighted where answer and leaflet agree. With the reading
grade, the SMS fit and every flag of assistant/knowledge/review.py.

    python scripts/review.py [--out reports/knowledge-review.html]
"""
from __future__ import annotations

import argparse
import datetime
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from rank_bm25 import BM25Okapi

from assistant.knowledge.load import SMS_MAX_SEPTETS, KnowledgeError, KnowledgeFiles, read_knowledge, validate
from assistant.knowledge.facts import fact_text, limit_values
from assistant.knowledge.review import (
    BLOCKING, FLAG_LABELS, MAX_GRADE, AnswerReview, Figure, Review, figures, review_knowledge, supports, words,
)
from assistant.sentence_encoder import load_encoder
from assistant.settings import KNOWLEDGE_DIR, PROJECT_ROOT, load_contacts

DEFAULT_OUT = PROJECT_ROOT / "reports" / "knowledge-review.html"
ENCODER = PROJECT_ROOT / "build" / "minilm"
TEMPLATE = "review_page.html.j2"
RRF_K = 60  # reciprocal-rank fusion's usual constant (Cormack et al. 2009)
MIN_SENTENCE_WORDS = 4  # shorter leaflet lines are headings and page debris
# Below this cosine the best leaflet sentence is shown as a weak match: on the knowledge base of
# 2026-12-01, framing sentences ("The leaflets differ on getting up:") scored 0.13-0.29 and
# paraphrases of a leaflet sentence 0.32-0.95 (median 0.70).
WEAK_SIMILARITY = 0.3
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")


@dataclass
class LeafletSentence:
    source_id: str
    text: str
    figures: list[Figure]


@dataclass
class Support:
    answer_sentence: Markup
    leaflet_sentence: Markup
    source_id: str
    similarity: float  # cosine of the two sentence embeddings

    @property
    def weak(self) -> bool:
        return self.similarity < WEAK_SIMILARITY


def sentences(text: str) -> list[str]:
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip().lstrip("•").strip().removeprefix("- ")
        found.extend(part.strip() for part in SENTENCE_END.split(line) if part.strip())
    return found


def highlight(text: str, spans: list[tuple[int, int, str]]) -> Markup:
    """``text`` escaped, with each (start, end, css class) span in a <mark>."""
    parts, position = [], 0
    for start, end, css in sorted(spans):
        if start < position:
            continue
        parts += [escape(text[position:start]), Markup(f'<mark class="{css}">'), escape(text[start:end]), Markup("</mark>")]
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def figure_spans(text: str, stated: list[Figure]) -> list[tuple[int, int, str]]:
    """Spans of the figures in ``text``: "match" where ``stated`` has them, "unsupported" where not."""
    return [(figure.start, figure.end, "match" if supports(stated, figure) else "unsupported") for figure in figures(text)]


class Embeddings:
    """MiniLM sentence embeddings, each sentence encoded once per process.

    Encoding the leaflets' 312 sentences took 28-41 s on 2 cores at a load average of 13-16;
    a page built again after an edit (the tests build two) encodes only the changed sentences.
    """

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = sorted({text for text in texts if text not in self.vectors})
        if missing:
            self.vectors.update(zip(missing, load_encoder(str(ENCODER)).encode(missing)))
        return np.array([self.vectors[text] for text in texts])


embed = Embeddings()


class SupportFinder:
    """The leaflet sentence each answer sentence rests on, among the leaflets it cites."""

    def __init__(self, files: KnowledgeFiles) -> None:
        self.sentences = [
            LeafletSentence(source["id"], sentence, figures(sentence))
            for source in files.sources
            for sentence in sentences(files.leaflet_text(source["id"]))
            if len(words(sentence)) >= MIN_SENTENCE_WORDS
        ]
        self.bm25 = BM25Okapi([words(sentence.text) for sentence in self.sentences])
        self.embeddings = embed([sentence.text for sentence in self.sentences])

    def supports(self, answer: AnswerReview, stated: list[Figure]) -> list[Support]:
        """Per web sentence, the best leaflet sentence; figures marked against ``stated``, the cited leaflets' figures."""
        cited = np.array([sentence.source_id in answer.sources for sentence in self.sentences])
        ours = sentences(answer.web)
        similarities = embed(ours) @ self.embeddings.T
        found: list[Support] = []
        for text, similarity in zip(ours, similarities):
            keyword = self.bm25.get_scores(words(text))
            fused = np.zeros(len(self.sentences))
            for scores in (keyword, similarity):
                ranks = np.empty(len(scores))
                ranks[np.argsort(-scores)] = np.arange(len(scores))
                fused += 1.0 / (RRF_K + ranks)
            best = int(np.argmax(np.where(cited, fused, -1.0)))
            leaflet = self.sentences[best]
            found.append(Support(
                answer_sentence=highlight(text, figure_spans(text, stated)),
                leaflet_sentence=highlight(leaflet.text, [
                    (start, end, "match") for start, end, css in figure_spans(leaflet.text, figures(text)) if css == "match"
                ]),
                source_id=leaflet.source_id,
                similarity=float(similarity[best]),
            ))
        return found


def render_page(files: KnowledgeFiles, review: Review, today: datetime.date | None = None) -> str:
    """The review page's HTML for ``review``, the checks of ``files``."""
    finder = SupportFinder(files)
    titles = {source["id"]: source["title"] for source in files.sources}
    changed = {source["id"] for source in review.changed_sources}
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["j2"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    cited_figures = {
        answer.key: [figure for source_id in answer.sources for figure in review.leaflet_figures[source_id]]
        for answer in review.answers
    }
    return environment.get_template(TEMPLATE).render(
        today=today or datetime.date.today(),
        review=review,
        flags=review.flags,
        blocking=BLOCKING,
        labels=FLAG_LABELS,
        max_grade=MAX_GRADE,
        sms_max=SMS_MAX_SEPTETS,
        titles=titles,
        sources=[
            {**source, "current": files.current_version(source["id"]), "changed": source["id"] in changed}
            for source in files.sources
        ],
        answers=[
            {
                "review": answer,
                "web": highlight(answer.web, figure_spans(answer.web, cited_figures[answer.key])),
                "sms": highlight(answer.sms, figure_spans(answer.sms, cited_figures[answer.key])),
                "supports": finder.supports(answer, cited_figures[answer.key]),
            }
            for answer in review.answers
        ],
        facts=[
            {"item": item, "text": fact_text(item.fact["limit"], *limit_values(item.fact["limit"], item.fact["value"]),
                                             item.fact["unit"])}
            for item in review.facts
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--knowledge-dir", type=Path, default=KNOWLEDGE_DIR)
    parser.add_argument("--leaflets-dir", type=Path, default=None, help="default: LEAFLETS_DIR or ../shared/sources")
    args = parser.parse_args(argv)
    contacts = load_contacts()
    try:
        files = read_knowledge(args.knowledge_dir, args.leaflets_dir)
        validate(files, contacts)
    except KnowledgeError as error:
        print(f"Knowledge files not valid: {error}", file=sys.stderr)
        return 1
    review = review_knowledge(files, contacts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_page(files, review), encoding="utf-8")
    print(f"Review page: {args.out} ({len(review.flags)} flags)")
    for flag in review.flags:
        print(f"  {flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
