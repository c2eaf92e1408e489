"""Forgetting a patient on request: when a message really asks to delete their data."""
from __future__ import annotations

import re

DELETE_INTENT = "delete_my_data"  # only kept when is_deletion_request agrees (addons/privacy.py)
# The action that deletes the sender's escalations; addons/tracker_store.py then
# drops the conversation instead of saving it.
FORGET_ACTION = "action_forget_me"

# Deleting by mistake loses the conversation, so the classifier must be sure...
MIN_CONFIDENCE = 0.5
# ...and the message must ask to delete something that is theirs to delete: their
# data or this conversation ("can you remove the pain?" is not such a request).
DELETE_VERB = re.compile(
    r"\b(delete|del|erase|remove|rmv|wipe|clear|forget|4get|purge|destroy|get rid of)\b", re.IGNORECASE
)
PERSONAL_DATA = re.compile(
    r"\b(data|info|information|details|conversations?|convo|chats?|messages?|msgs?|texts"
    r"|history|transcripts?|records?|every ?thing|what i (said|wrote|typed|sent|told you)"
    r"|(forget|4get) (about )?me)\b",
    re.IGNORECASE,
)


def is_deletion_request(text: str, confidence: float) -> bool:
    """True when ``text``, classified as a deletion request with ``confidence``, clearly is one."""
    if confidence < MIN_CONFIDENCE:
        return False
    return bool(DELETE_VERB.search(text)) and bool(PERSONAL_DATA.search(text))
