"""Keeps patient text out of the Rasa server's log at INFO and above.

Rasa's structured log events carry the patient's words: when a turn fails, the
REST channel logs the message, and the exception with every frame's local
variables. Put first in Rasa's structlog chain, `redact_patient_text` keeps only
the event's name, level and non-text values at INFO and above; exceptions are
rendered as plain tracebacks, without local variables. DEBUG is left as Rasa
writes it (off unless LOG_LEVEL=DEBUG).
"""
from __future__ import annotations

from typing import Any

import structlog

REDACTED = "[redacted]"
# Rasa's own fields that never hold what a patient wrote.
SAFE_KEYS = {"event", "event_info", "event_key", "level", "logger", "timestamp", "exc_info", "stack_info"}


def redact_patient_text(_: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    if method_name == "debug":
        return event_dict
    return {
        key: value if key in SAFE_KEYS or isinstance(value, (bool, int, float, type(None))) else REDACTED
        for key, value in event_dict.items()
    }


def keep_patient_text_out_of_logs() -> None:
    """Amend Rasa's structlog chain in place: the loggers it already made use the same list."""
    processors = structlog.get_config()["processors"]
    if redact_patient_text in processors:
        return
    processors.insert(0, redact_patient_text)
    # Rasa's renderers (dict_tracebacks, or rich in a terminal) print local variables;
    # an exception formatted as text beforehand leaves them nothing to add.
    renderer_at = next(
        (index for index, processor in enumerate(processors) if processor is structlog.processors.dict_tracebacks),
        len(processors) - 1,
    )
    processors.insert(renderer_at, structlog.processors.format_exc_info)
