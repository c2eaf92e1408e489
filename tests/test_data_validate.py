"""Rasa's own consistency check of NLU data, rules, stories and domain."""
import subprocess
import sys
from pathlib import Path

from assistant.settings import PROJECT_ROOT


def test_rasa_data_validate_passes():
    rasa = Path(sys.executable).parent / "rasa"
    result = subprocess.run(
        [str(rasa), "data", "validate", "--data", "data/nlu", "data/rules.yml", "data/stories.yml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
