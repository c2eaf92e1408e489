"""The sentence encoder behind the intent classifier (assistant/sentence_encoder.py)."""
from pathlib import Path

import numpy as np
import pytest

from assistant.sentence_encoder import GRAPH, MAX_TOKENS, basic_tokens, load_encoder
from assistant.settings import PROJECT_ROOT

ENCODER_DIR = PROJECT_ROOT / "build" / "minilm"
# 40 varied texts (empty, one letter, typos, SMS shorthand, accents, Japanese, emoji, a
# 2,800-token story cut at 256 tokens) and their embeddings by the NumPy forward pass
# the ONNX graph replaced (assistant/sentence_encoder.py at commit 83f2b56), which the
# intent classifier's settings and held-out figures were measured with.
REFERENCE = Path(__file__).parent / "data" / "sentence_encoder_reference.npz"
# fp32 graph, the same arithmetic in another order: measured 1.000000 (3e-7 at most).
MIN_COSINE = 0.9999


@pytest.fixture(scope="module")
def encoder():
    if not (ENCODER_DIR / GRAPH).exists():
        pytest.fail("The sentence encoder is missing: `make setup` builds it.")
    return load_encoder(str(ENCODER_DIR))


def test_embeddings_match_the_numpy_encoder_the_classifier_was_tuned_with(encoder):
    reference = np.load(REFERENCE)
    texts, expected = [str(text) for text in reference["texts"]], reference["embeddings"]
    alone = np.vstack([encoder.encode([text]) for text in texts])
    together = encoder.encode(texts)
    for embeddings in (alone, together):
        cosines = (embeddings * expected).sum(axis=1)
        worst = int(cosines.argmin())
        assert cosines[worst] >= MIN_COSINE, f"{texts[worst][:40]!r}: cosine {cosines[worst]:.6f}"


def test_basic_tokens_split_punctuation_and_drop_accents():
    assert basic_tokens("Héllo, Dr. Smith!! can't") == ["hello", ",", "dr", ".", "smith", "!", "!", "can", "'", "t"]


def test_unknown_and_very_long_texts_still_encode(encoder):
    assert encoder.tokenizer.encode("\u2603\u2603") == [encoder.tokenizer.ids[p] for p in ("[CLS]", "[UNK]", "[SEP]")]
    assert len(encoder.tokenizer.encode("my back hurts " * 500)) == MAX_TOKENS


def test_a_paraphrase_lies_closer_than_another_topic(encoder):
    asked, paraphrase, other = encoder.encode([
        "how long does the procedure take",
        "what is the duration of the operation",
        "will i be able to drive afterwards",
    ])
    assert asked @ paraphrase > asked @ other + 0.2


def test_embeddings_do_not_depend_on_their_batch(encoder):
    texts = ["does it hurt", "i had a kyphoplasty last week and wonder when i can lift my grandson again", "x"]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
