"""The Rasa server's memory follows its load: long messages leave no lasting growth."""
from __future__ import annotations

import json
import subprocess
import sys

from assistant.settings import PROJECT_ROOT

# In a process of its own, as the Rasa server runs: the allocator's setting, then the encoder.
ENCODE_LONG_MESSAGES = """
import json
from pathlib import Path
from assistant.memory import return_large_buffers
from assistant.sentence_encoder import load_encoder

def resident_mb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024

return_large_buffers()
encoder = load_encoder("build/minilm")
encoder.encode(["how long does it take?"])
before = resident_mb()
story = "My mother had a vertebroplasty last week and she is still in a lot of pain at night. " * 12
for _ in range(3):
    encoder.encode([story] * 16)
    encoder.encode(["hi", "thanks"])
print(json.dumps({"before": before, "after": resident_mb()}))
"""


def test_long_messages_leave_the_encoder_no_lasting_memory():
    run = subprocess.run([sys.executable, "-c", ENCODE_LONG_MESSAGES], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    resident = json.loads(run.stdout.strip().splitlines()[-1])
    # Held for good, they were 300 MB (onnxruntime's arena) or 160 MB (glibc's moving threshold).
    assert resident["after"] - resident["before"] < 40, resident
