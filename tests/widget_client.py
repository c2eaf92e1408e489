"""The widget's socket.io conversation, driven from Python (python-socketio, installed with Rasa)."""
from __future__ import annotations

import socketio

TURN_TIMEOUT = 30  # seconds: a turn goes through NLU, triage and the action server
NEW_SESSION = {"session_id": None}


class WidgetClient:
    """One browser tab of the widget: a socket joined to its session."""

    def __init__(self, assistant, session_request=NEW_SESSION):
        """Connect and ask for a session: a new one, unless ``session_request`` names one."""
        self.client = socketio.SimpleClient()
        # The served demo page's origin: only WIDGET_ORIGINS may open a socket.
        self.client.connect(assistant.url, headers={"Origin": assistant.web_url}, transports=["polling"])
        self.client.emit("session_request", session_request)
        event, self.session_id = self.next_event()
        assert event == "session_confirm", event
        requested = session_request.get("session_id") if isinstance(session_request, dict) else None
        self.is_new = self.session_id != requested
        if self.is_new:
            assert "not medical advice" in self.next_event()[1]["text"]  # the disclaimer

    def next_event(self) -> list:
        return self.client.receive(timeout=TURN_TIMEOUT)

    def emit(self, event: str, data) -> None:
        self.client.emit(event, data)

    def replies_until_custom(self) -> list[dict]:
        """bot_uttered messages up to the one carrying the turn's `custom` object."""
        messages = []
        while not messages or "custom" not in messages[-1]:
            event, data = self.next_event()
            assert event == "bot_uttered", (event, data)
            messages.append(data)
        return messages

    def say(self, text) -> list[dict]:
        self.emit("user_uttered", {"session_id": self.session_id, "message": text})
        return self.replies_until_custom()

    def close(self) -> None:
        # Without waiting for the pending long-poll to return (up to the 25 s ping interval).
        self.client.client.eio.disconnect(abort=True)
