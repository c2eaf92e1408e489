"""Build the English spaCy pipeline Rasa's SpacyNLP loads, from installed packages only.

A blank English tokenizer plus a lookup lemmatizer whose tables come from the
spacy-lookups-data package: no model download is needed or allowed.

    python scripts/build_spacy_pipeline.py OUTPUT_DIR
"""
import sys
from pathlib import Path

import spacy


def build(output: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.meta["name"] = "patient_questions"
    nlp.meta["description"] = "Blank English tokenizer with lookup lemmas (spacy-lookups-data)"
    output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
    print(f"spaCy pipeline written to {sys.argv[1]}")
