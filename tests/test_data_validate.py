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


def test_endpoints_point_at_the_configured_action_port(monkeypatch):
    from rasa.core.utils import read_endpoints_from_path

    monkeypatch.setenv("ACTION_PORT", "5077")
    endpoints = read_endpoints_from_path(PROJECT_ROOT / "endpoints.yml")
    assert endpoints.action.url == "http://localhost:5077/webhook"
