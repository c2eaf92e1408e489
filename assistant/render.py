"""Each channel's rendering of a turn's reply: pure functions, one per channel.

A channel shows the parts by their role (assistant/reply.py): the advice always first
and whole, then the answer or message, the options, the notices, and the disclaimer.
"""
from __future__ import annotations

import re
from typing import Any

from assistant import gsm7
from assistant.reply import Answer, Reply, turn_summary

SMS_MESSAGE_SEGMENTS = 3  # at most this many segments in one text message
SMS_SEGMENT_SEPTETS, SMS_CONCATENATED_SEPTETS = 160, 153
SMS_MESSAGE_LIMIT = SMS_MESSAGE_SEGMENTS * SMS_CONCATENATED_SEPTETS
MORE_HINT = "Reply MORE for more."
SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")
ASCII_FOR = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u00a0": " ", "\u2022": "-",
}


def sources_line(answer: Answer) -> str:
    return "Source: " + "; ".join(source.title for source in answer.sources)


def is_list_item(line: str) -> bool:
    return line.lstrip().startswith(("- ", "* "))


def web_text(text: str) -> str:
    """The answer as Markdown web clients read it: a blank line closes a list, so the paragraph
    after it is not shown inside its last item (rasa-webchat renders Markdown)."""
    lines: list[str] = []
    for line in text.splitlines():
        if lines and line.strip() and is_list_item(lines[-1]) and not is_list_item(line):
            lines.append("")
        lines.append(line)
    return "\n".join(lines)


def option_payload(number: int) -> str:
    """What an option's button sends: its number, as an SMS patient would type it."""
    return str(number)


# ---------------------------------------------------------------- REST (Rasa's message list)

def render_rest(reply: Reply) -> list[dict[str, Any]]:
    """Rasa's REST message list: one message per part, buttons for options, then the `custom` summary."""
    messages: list[dict[str, Any]] = []
    for part in web_parts(reply):
        message: dict[str, Any] = {"text": part["text"]}
        if part.get("options"):
            message["buttons"] = [{"title": title, "payload": payload} for title, payload in part["options"]]
        messages.append(message)
    messages.append({"custom": turn_summary(reply)})
    return messages


# ---------------------------------------------------------------- the website widget (socket.io)

def render_widget(reply: Reply, disclaimer_shown: bool = False) -> list[dict[str, Any]]:
    """`bot_uttered` messages in Rasa's socket.io format, which any Rasa web client shows: the
    text and quick replies, with the part's `role` (and the answer's `body` and `sources`) for
    this project's widget under `metadata`. rasa-webchat drops a message with any other key."""
    messages = []
    for part in web_parts(reply):
        if disclaimer_shown and part["role"] == "disclaimer":
            continue
        messages.append(widget_message(part))
    return messages


def widget_message(part: dict[str, Any]) -> dict[str, Any]:
    """One part of the reply as one `bot_uttered` message."""
    message: dict[str, Any] = {"text": part["text"]}
    if part.get("options"):
        message["quick_replies"] = [
            {"content_type": "text", "title": title, "payload": payload} for title, payload in part["options"]
        ]
    message["metadata"] = {key: value for key, value in part.items() if key not in ("text", "options")}
    return message


def web_parts(reply: Reply) -> list[dict[str, Any]]:
    """The reply's parts in the order a web page shows them."""
    parts: list[dict[str, Any]] = []
    if reply.advice:
        parts.append({"role": "advice", "urgency": reply.advice.urgency, "text": reply.advice.text})
    if reply.answer:
        answer = reply.answer
        parts.append({
            "role": "answer",
            "text": f"{web_text(answer.text)}\n\n{sources_line(answer)}",
            "body": web_text(answer.text),
            "sources": [source.title for source in answer.sources],
        })
    options = [(option.title, option_payload(number)) for number, option in enumerate(reply.options, start=1)]
    if reply.message:
        parts.append({"role": "message", "text": reply.message, "options": [] if reply.options_prompt else options})
    if reply.options_prompt and options:
        parts.append({"role": "options", "text": reply.options_prompt, "options": options})
    for notice in reply.notices:
        role = "disclaimer" if notice.kind == "disclaimer" else "notice"
        parts.append({"role": role, "notice": notice.kind, "text": notice.text})
    return parts


# ---------------------------------------------------------------- SMS

def to_gsm7(text: str) -> str:
    """Plain GSM-7 text: typographic punctuation made ASCII, markdown and anything else outside GSM-7 dropped."""
    text = "".join(ASCII_FOR.get(char, char) for char in text)
    text = re.sub(r"[*_`#]", "", text)
    return "".join(char for char in text if gsm7.is_gsm7(char))


def segments(text: str) -> int:
    """How many SMS segments a GSM-7 text costs."""
    length = gsm7.septet_length(text)
    if length <= SMS_SEGMENT_SEPTETS:
        return 1
    return -(-length // SMS_CONCATENATED_SEPTETS)


def flatten(text: str) -> str:
    """A web answer as one plain paragraph: list items become sentences."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if is_list_item(line):
            line = line[2:].strip()
            if line and line[-1] not in ".!?:;":
                line += "."
        lines.append(line)
    return " ".join(lines)


def pack(parts: list[str], limit: int = SMS_MESSAGE_LIMIT) -> list[str]:
    """The parts in as few messages of at most ``limit`` septets as they fit, split only
    between sentences: no sentence is ever cut."""
    sentences = [sentence for part in parts for sentence in SENTENCE_END.split(to_gsm7(part).strip()) if sentence]
    messages: list[str] = []
    for sentence in sentences:
        joined = f"{messages[-1]} {sentence}" if messages else sentence
        if messages and gsm7.septet_length(joined) <= limit:
            messages[-1] = joined
        else:
            messages.append(sentence)
    return messages


def options_text(reply: Reply) -> str:
    numbered = ", ".join(f"{number} for {option.title}" for number, option in enumerate(reply.options, start=1))
    choices = f"Reply {numbered}."
    return f"{reply.options_prompt} {choices}" if reply.options_prompt else choices


def render_sms(reply: Reply) -> list[str]:
    """The text messages of one SMS reply, each at most SMS_MESSAGE_LIMIT septets:
    the advice alone and whole, then the answer, options and notices, then the disclaimer alone."""
    messages = [to_gsm7(reply.advice.text)] if reply.advice else []
    body: list[str] = []
    if reply.answer:
        answer = reply.answer
        if answer.expanded:
            body += [flatten(answer.text), f"{sources_line(answer)}."]
        else:
            body += [answer.short, MORE_HINT]
    if reply.message:
        body.append(reply.message)
    if reply.options:
        body.append(options_text(reply))
    body += [notice.text for notice in reply.notices if notice.kind != "disclaimer"]
    messages += pack(body)
    disclaimer = reply.notice("disclaimer")
    if disclaimer:
        messages.append(to_gsm7(disclaimer.text))
    return messages


# ---------------------------------------------------------------- the stored transcript

def render_transcript(reply: Reply) -> str:
    """The reply as plain text, as the conversation's record and the nurse's transcript show it."""
    lines = []
    for part in web_parts(reply):
        lines.append(part["text"])
        lines += [f"{payload}. {title}" for title, payload in part.get("options") or []]
    return "\n\n".join(lines)
