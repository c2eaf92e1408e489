"""Patient text as the channels receive it, made safe to process and store."""
from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 5000  # longer messages are cut: no leaflet question needs more
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Rasa reads a message that starts with "/" as an intent, its shortcut for buttons. The
# assistant's buttons send option numbers instead, so patient text is never an intent.
INTENT_SHORTCUT = re.compile(r"^\s*/+")


def clean_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` without control characters (NUL breaks PostgreSQL), lone surrogates or a
    leading "/", at most ``limit`` long."""
    text = text.encode("utf-8", errors="replace").decode("utf-8")  # a lone surrogate becomes "?"
    return INTENT_SHORTCUT.sub("", CONTROL_CHARS.sub(" ", text))[:limit]
