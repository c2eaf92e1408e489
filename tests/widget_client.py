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
            event, disclaimer = self.next_event()
            assert disclaimer["metadata"]["role"] == "disclaimer" and "not medical advice" in disclaimer["text"]

    def next_event(self) -> list:
        return self.client.receive(timeout=TURN_TIMEOUT)

    def emit(self, event: str, data) -> None:
        self.client.emit(event, data)

    def replies_until_summary(self) -> list[dict]:
        """The turn's bot_uttered messages, then its summary as a last {"custom": ...} item,
        the shape of the REST channel's list."""
        messages = []
        while True:
            event, data = self.next_event()
            if event == "turn_summary":
                return [*messages, {"custom": data}]
            assert event == "bot_uttered", (event, data)
            messages.append(data)

    def say(self, text) -> list[dict]:
        self.emit("user_uttered", {"session_id": self.session_id, "message": text})
        return self.replies_until_summary()

    def close(self) -> None:
        # Without waiting for the pending long-poll to return (up to the 25 s ping interval).
        self.client.client.eio.disconnect(abort=True)
