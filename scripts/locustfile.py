"""make bench's concurrent senders, run by Locust (scripts/bench.py starts it headless).

Each simulated patient has their own conversation and sends the bench conversation's
next message as soon as the last one is answered; an HTTP error or a turn unanswered
after 30 s counts as a failure.
"""
from __future__ import annotations

import itertools
import uuid

from locust import FastHttpUser, constant, task

from scripts.bench import CONVERSATION

TURN_TIMEOUT_S = 30.0


class Patient(FastHttpUser):
    wait_time = constant(0)
    connection_timeout = TURN_TIMEOUT_S
    network_timeout = TURN_TIMEOUT_S

    def on_start(self) -> None:
        self.sender = f"load-{uuid.uuid4().hex[:8]}"
        self.messages = itertools.cycle(CONVERSATION)

    @task
    def turn(self) -> None:
        self.client.post("/webhooks/rest/webhook", json={"sender": self.sender, "message": next(self.messages)},
                         name="turn")
