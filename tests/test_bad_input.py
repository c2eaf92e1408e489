"""Bad input through REST: a polite reply every time, the server still up, nothing lost."""
import uuid

import pytest

BAD_INPUTS = {
    "empty": "",
    "whitespace": "   \n\t ",
    "ten thousand characters": "my back hurts " * 715,
    "emoji only": "\U0001F62D\U0001F62D\U0001F64F",
    "another language": "¿Cuánto tiempo dura la cifoplastia?",
    "html and script": "<img src=x onerror=alert(1)><script>alert('x')</script>",
    "sql-looking": "'; DROP TABLE answers; -- SELECT * FROM sources",
    "null byte": "hello\x00world",
}


@pytest.mark.parametrize("message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_polite_reply_and_server_still_up(assistant, message):
    sender = f"bad-{uuid.uuid4().hex[:8]}"
    messages = assistant.send(sender, message)
    texts = [m["text"] for m in messages if m.get("text")]
    assert texts, messages
    assert not any("Traceback" in text or "<script>" in text for text in texts)
    assert len([m for m in messages if "custom" in m]) == 1
    assert assistant.is_up()
    # The knowledge base is untouched and the conversation carries on.
    after = assistant.send(sender, "how long does vertebroplasty take?")
    custom = next(m["custom"] for m in after if "custom" in m)
    assert (custom["type"], custom["topic"]) == ("answer", "duration")
