"""The intent classifier's model: TF-IDF word and character n-grams with logistic regression.

Measured on the held-out questions, it ranks the right topic first far more often
than DIET on the same sparse counts (see config.yml), because typos and SMS
shorthand share character n-grams with the words they stand for.
"""
from __future__ import annotations

from typing import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_union


def build_intent_model(
    word_ngrams: Sequence[int] = (1, 2), char_ngrams: Sequence[int] = (2, 5), c: float = 20.0
) -> Pipeline:
    features = make_union(
        TfidfVectorizer(ngram_range=tuple(word_ngrams), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngrams), sublinear_tf=True),
    )
    return Pipeline(
        [("features", features), ("classifier", LogisticRegression(C=c, max_iter=3000))]
    )


def rank_intents(model: Pipeline, texts: Sequence[str]) -> list[list[dict]]:
    """Each text's intents with their probabilities, most likely first."""
    probabilities = model.predict_proba([text.lower() for text in texts])
    names = model.classes_
    return [
        sorted(
            ({"name": str(name), "confidence": float(p)} for name, p in zip(names, row)),
            key=lambda entry: -entry["confidence"],
        )
        for row in probabilities
    ]
