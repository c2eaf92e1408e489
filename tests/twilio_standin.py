"""A local stand-in for Twilio's Messages endpoint, on loopback, for the tests.

POST /2010-04-01/Accounts/<sid>/Messages.json with HTTP basic auth (account sid and auth
token) and Twilio's form fields. It records each message it takes and answers as Twilio
does (201 and the message as JSON); it can be told to answer 500 or to hang.
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

HANG_SECONDS = 30  # longer than any time bound under test; released when the stand-in stops


class TwilioStandin:
    def __init__(self) -> None:
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = ""  # the server under test's TWILIO_AUTH_TOKEN, set once it is known
        self.from_number = "+16175550199"
        self.messages: list[dict[str, str]] = []  # the messages taken: To, From, Body
        self.requests = 0  # every request that reached the stand-in, taken or not
        self.failures: list[str] = []  # what the next requests get instead of success: "500" or "hang"
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """The settings that point the server under test at this stand-in."""
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_FROM_NUMBER": self.from_number,
                "TWILIO_API_URL": self.url, "TWILIO_TIMEOUT_SECONDS": "1"}

    def fail_next(self, *failures: str) -> None:
        with self.lock:
            self.failures = list(failures)

    def __enter__(self) -> TwilioStandin:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                with standin.lock:
                    standin.requests += 1
                    failure = standin.failures.pop(0) if standin.failures else None
                expected = base64.b64encode(f"{standin.account_sid}:{standin.auth_token}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if self.path != f"/2010-04-01/Accounts/{standin.account_sid}/Messages.json":
                    return self.answer(404, {"code": 20404, "message": "Not found", "status": 404})
                if failure == "hang":
                    standin.released.wait(HANG_SECONDS)
                    return None
                if failure == "500":
                    return self.answer(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
                message = {field: form.get(field, [""])[0] for field in ("To", "From", "Body")}
                with standin.lock:
                    standin.messages.append(message)
                return self.answer(201, {
                    "sid": "SM" + secrets.token_hex(16), "account_sid": standin.account_sid, "status": "queued",
                    "to": message["To"], "from": message["From"], "body": message["Body"], "num_segments": "1",
                })

        return Handler
