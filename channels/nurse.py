"""Nurse-line console and API, served by the Rasa server under /webhooks/nurse/.

GET  /webhooks/nurse/                                   the console page
POST /webhooks/nurse/api/login                          {"name", "secret"} -> {"token", "nurse", ...}
POST /webhooks/nurse/api/logout
GET  /webhooks/nurse/api/session                        who is signed in, the idle time-out, the response targets
POST /webhooks/nurse/api/assess                         {"text": what the caller says}
GET  /webhooks/nurse/api/escalations                    ?status=open|handled|all&q=search
GET  /webhooks/nurse/api/escalations/<id>               one escalation, its transcript and triage note
POST /webhooks/nurse/api/escalations/<id>/claim
POST /webhooks/nurse/api/escalations/<id>/release
POST /webhooks/nurse/api/escalations/<id>/handle        {"note": "..."} (required)
POST /webhooks/nurse/api/escalations/<id>/reply         {"text": ...}: to the patient, on the channel they came from
POST /webhooks/nurse/api/check-ins                      enrol a patient for check-ins (see README, Check-ins)
GET  /webhooks/nurse/api/check-ins                      every enrolment: status, next check-in, answers, failed sends
POST /webhooks/nurse/api/check-ins/<id>/pause|resume|end
GET  /webhooks/nurse/api/audit                          ?nurse=&sender=
GET  /webhooks/nurse/api/events                         server-sent events: the open queue whenever it changes

Every /api route but login needs `Authorization: Bearer <session token>`. Every database
call runs on a thread pool of its own, off the server's event loop, and is given up after
NURSE_DB_TIMEOUT_SECONDS (a 503), so a hanging database never blocks a patient's turn.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from functools import lru_cache, partial, wraps
from typing import Any, Awaitable, Callable

from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from addons.tracker_store import ConversationStoreUnavailable
from addons.turn_order import conversation_turn
from assistant import accounts, audit, check_in_sender, check_in_store, escalations, nurse, nurse_reply, sms, twilio_sms
from assistant.check_ins import EnrolmentError, validate_enrolment
from assistant.db import engine_for
from assistant.inbound import MAX_MESSAGE_CHARS, clean_message
from assistant.off_loop import OffLoop
from assistant.settings import PROJECT_ROOT, database_url, load_contacts
from channels.check_ins import CheckIns
from channels.check_ins import runtime as check_ins
from channels.sms import SMS_CHANNEL
from channels.widget import WIDGET_CHANNEL

logger = logging.getLogger(__name__)
CONSOLE_PAGE = PROJECT_ROOT / "web" / "nurse.html"
# Threads for Twilio calls: each is time-bounded (assistant/twilio_sms.py), a slow Twilio ties up only these.
SMS_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nurse-sms")
POLL_SECONDS = 0.5  # the live queue's look for changes: one small query, so a new item shows within a second
KEEPALIVE_SECONDS = 15  # under nginx's 90 s proxy_read_timeout and Sanic's 60 s response timeout
MAX_SEARCH_CHARS = 200
CHECK_IN_CHANGES = {"pause": audit.PAUSED_CHECK_INS, "resume": audit.RESUMED_CHECK_INS, "end": audit.ENDED_CHECK_INS}
# What the nurse is told of the consent request sent at enrolment.
CONSENT_REQUEST_OUTCOMES = {
    check_in_sender.SENT: "sent",
    check_in_sender.RETRYING: "not sent yet: Twilio failed, it is retried shortly (the check-ins list shows it)",
    check_in_sender.FAILED: "failed: Twilio refused it (the check-ins list shows why)",
    check_in_sender.CANCELLED: "not sent: this number opted out (STOP); the check-ins start if the patient texts YES",
    check_in_sender.DEFERRED: "waiting for the end of the quiet hours",
    check_in_sender.NOT_CLAIMED: "being sent by another server: the check-ins list shows what became of it",
}


def database_timeout() -> float:
    value = os.environ.get("NURSE_DB_TIMEOUT_SECONDS") or "5"
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"NURSE_DB_TIMEOUT_SECONDS must be a number of seconds, not {value!r}") from None


@lru_cache(maxsize=1)
def database_calls() -> OffLoop:
    """Threads of their own: a hanging database ties these up, never Rasa's default executor."""
    return OffLoop("nurse-db", 4, database_timeout())


async def off_loop(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking database call on the nurse threads; asyncio.TimeoutError after the time bound."""
    return await database_calls().run(function, *args, **kwargs)


def engine():
    return engine_for(database_url())


def error(status: int, message: str, **headers: str) -> HTTPResponse:
    return response.json({"error": message}, status=status, headers=headers or None)


def json_body(request: Request) -> dict | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        body = request.json
    except InvalidUsage:  # malformed JSON
        return None
    return body if isinstance(body, dict) else None


def bearer(request: Request) -> str | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


async def append_to_conversation(agent: Agent, sender_id: str, text: str, nurse_name: str) -> None:
    """Add the nurse's reply to the stored conversation, marked as from the nurse, in the
    conversation's turn order: a patient's turn under way is stored first, so the transcript
    lists the nurse's reply after the message it came after."""
    async with conversation_turn(agent, sender_id):
        tracker = await agent.tracker_store.get_or_create_tracker(sender_id)
        tracker.update(BotUttered(text, metadata={"role": nurse_reply.NURSE_ROLE, "nurse": nurse_name}))
        await agent.tracker_store.save(tracker)


class QueueWatch:
    """One watcher per server process: while a console listens, look at the escalations'
    change mark every POLL_SECONDS and hand the new open queue to every listener.

    Escalations are written by the action server (and by other replicas' nurses), so the
    database is the one place every change shows up.
    """

    def __init__(self, targets: dict[str, int]) -> None:
        self.targets = targets
        self.listeners: set[asyncio.Queue] = set()
        self.latest: str | None = None
        self.task: asyncio.Task | None = None

    def listen(self) -> asyncio.Queue:
        listener: asyncio.Queue = asyncio.Queue(maxsize=1)
        if self.latest is not None:
            listener.put_nowait(self.latest)
        self.listeners.add(listener)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.watch())
        return listener

    def leave(self, listener: asyncio.Queue) -> None:
        self.listeners.discard(listener)

    def publish(self, payload: str) -> None:
        self.latest = payload
        for listener in self.listeners:
            if listener.full():  # a slow listener gets only the newest queue
                listener.get_nowait()
            listener.put_nowait(payload)

    async def watch(self) -> None:
        mark = None
        while self.listeners:
            try:
                current = await off_loop(escalations.change_mark, engine())
                if current != mark:
                    rows = await off_loop(escalations.list_escalations, engine(), escalations.OPEN)
                    mark = current
                    self.publish(json.dumps(queue_payload(rows, self.targets)))
            except (SQLAlchemyError, asyncio.TimeoutError) as failure:
                logger.warning("Nurse live queue: database error %s", type(failure).__name__)
            await asyncio.sleep(POLL_SECONDS)
        self.latest = None


def queue_payload(rows: list[dict], targets: dict[str, int]) -> dict:
    """The queue with each item's age and overdue mark, and the server's time (the page's clock may be off)."""
    now = datetime.now(timezone.utc)
    return {"escalations": [escalations.with_age(row, now, targets) for row in rows], "server_time": now.isoformat()}


class NurseConsole(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "nurse"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self) -> None:
        # Read at start-up, so a bad clinic file or setting stops the server with its name.
        self.targets = escalations.response_targets()
        self.idle_minutes = int(accounts.idle_timeout().total_seconds() // 60)
        database_calls()
        check_ins()
        self.queue_watch = QueueWatch(self.targets)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        console = Blueprint("nurse_console", __name__)

        def guarded(handler):
            """Database failures and time-outs become a 503 that names no data."""
            @wraps(handler)
            async def run(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                try:
                    return await handler(request, *args, **kwargs)
                except (SQLAlchemyError, asyncio.TimeoutError) as failure:
                    logger.warning("Nurse API database error: %s", type(failure).__name__)
                    return error(503, "The database is unavailable; try again shortly.")

            return run

        def signed_in(handler):
            """Only for a live session: the nurse's name goes to request.ctx.nurse."""
            @guarded
            @wraps(handler)
            async def checked(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                token = bearer(request)
                name = token and await off_loop(accounts.session_nurse, engine(), token)
                if not name:
                    return error(401, "Sign in first: the session is missing, ended or timed out.",
                                 **{"WWW-Authenticate": "Bearer"})
                request.ctx.nurse = name
                return await handler(request, *args, **kwargs)

            return checked

        def session_info(name: str) -> dict:
            return {"nurse": name, "idle_minutes": self.idle_minutes, "response_targets_minutes": self.targets}

        # The check-ins' scheduler runs with the server (every replica: the outbox keeps each text to one send).
        @console.listener("before_server_start")
        async def start_check_ins(_app, _loop) -> None:
            check_ins().start()

        @console.listener("after_server_stop")
        async def stop_check_ins(_app, _loop) -> None:
            check_ins().stop()

        @console.route("/", methods=["GET"])
        async def page(_: Request) -> HTTPResponse:
            return await response.file(CONSOLE_PAGE, mime_type="text/html")

        @console.route("/api/login", methods=["POST"])
        @guarded
        async def login(request: Request) -> HTTPResponse:
            body = json_body(request) or {}
            name, secret = body.get("name"), body.get("secret")
            if not isinstance(name, str) or not isinstance(secret, str) or not name.strip() or not secret:
                return error(400, "Send JSON with 'name' and 'secret' text fields.")
            if len(name) > 64 or len(secret) > accounts.MAX_SECRET_CHARS:
                return error(400, "'name' or 'secret' is too long.")
            name = clean_message(name).strip()
            token = await off_loop(accounts.log_in, engine(), name, secret)
            if token is None:
                return error(401, "That name and secret were not accepted.")
            await off_loop(audit.record, engine(), name, audit.LOGGED_IN)
            return response.json({"token": token, **session_info(name)})

        @console.route("/api/logout", methods=["POST"])
        @signed_in
        async def logout(request: Request) -> HTTPResponse:
            await off_loop(accounts.log_out, engine(), bearer(request))
            await off_loop(audit.record, engine(), request.ctx.nurse, audit.LOGGED_OUT)
            return response.json({"signed_out": request.ctx.nurse})

        @console.route("/api/session", methods=["GET"])
        @signed_in
        async def session(request: Request) -> HTTPResponse:
            return response.json(session_info(request.ctx.nurse))

        @console.route("/api/assess", methods=["POST"])
        @signed_in
        async def assess(request: Request) -> HTTPResponse:
            text = (json_body(request) or {}).get("text")
            if not isinstance(text, str) or not text.strip():
                return error(400, "Send JSON with a non-empty 'text' field.")
            if len(text) > MAX_MESSAGE_CHARS:
                return error(413, f"'text' is limited to {MAX_MESSAGE_CHARS} characters.")
            parse_data = await request.app.ctx.agent.parse_message(clean_message(text))
            return response.json(await off_loop(nurse.assess, parse_data, engine(), load_contacts()))

        @console.route("/api/escalations", methods=["GET"])
        @signed_in
        async def queue(request: Request) -> HTTPResponse:
            status = request.args.get("status", escalations.OPEN)
            if status not in (*escalations.STATUSES, "all"):
                return error(400, "status must be open, handled or all.")
            search = request.args.get("q", "")
            if len(search) > MAX_SEARCH_CHARS:
                return error(400, f"Search for at most {MAX_SEARCH_CHARS} characters.")
            rows = await off_loop(escalations.list_escalations, engine(), status, clean_message(search).strip())
            return response.json(queue_payload(rows, self.targets))

        @console.route("/api/escalations/<escalation_id:int>", methods=["GET"])
        @signed_in
        async def one(request: Request, escalation_id: int) -> HTTPResponse:
            row = await off_loop(escalations.get_escalation, engine(), escalation_id)
            if row is None:
                return error(404, "No such escalation.")
            store = request.app.ctx.agent.tracker_store
            # Every stored event of every session, not the recent window a turn loads. The store's
            # retrieval is a coroutine doing blocking SQL: it gets a loop of its own on a nurse thread.
            tracker = await off_loop(asyncio.run, store.retrieve_full_tracker(row["sender_id"]))
            events = [event.as_dict() for event in tracker.events] if tracker else []
            await off_loop(audit.record, engine(), request.ctx.nurse, audit.VIEWED_TRANSCRIPT,
                           sender_id=row["sender_id"], escalation_id=escalation_id)
            # Date parsing takes tens of milliseconds: not on the event loop either.
            check_in = (await off_loop(check_in_store.check_in_of_escalation, engine(), escalation_id)
                        if row["kind"] in (escalations.CHECK_IN, escalations.NO_REPLY) else None)
            note = await asyncio.to_thread(nurse.escalation_note, row, events, load_contacts(), check_in)
            replies = await off_loop(nurse_reply.replies_to, engine(), escalation_id)
            return response.json({**row, "transcript": nurse.transcript(events, row["message_id"]), "note": note,
                                  "replies": replies})

        async def change(request: Request, escalation_id: int, action: str, apply: Callable) -> HTTPResponse:
            try:
                row = await off_loop(apply, engine(), escalation_id, request.ctx.nurse)
            except escalations.EscalationConflict as conflict:
                return error(409, str(conflict))
            if row is None:
                return error(404, "No such escalation.")
            await off_loop(audit.record, engine(), request.ctx.nurse, action,
                           sender_id=row["sender_id"], escalation_id=escalation_id)
            return response.json(row)

        @console.route("/api/escalations/<escalation_id:int>/claim", methods=["POST"])
        @signed_in
        async def claim(request: Request, escalation_id: int) -> HTTPResponse:
            return await change(request, escalation_id, audit.CLAIMED, escalations.claim)

        @console.route("/api/escalations/<escalation_id:int>/release", methods=["POST"])
        @signed_in
        async def release(request: Request, escalation_id: int) -> HTTPResponse:
            return await change(request, escalation_id, audit.RELEASED, escalations.release)

        @console.route("/api/escalations/<escalation_id:int>/handle", methods=["POST"])
        @signed_in
        async def handle(request: Request, escalation_id: int) -> HTTPResponse:
            note = (json_body(request) or {}).get("note")
            if not isinstance(note, str) or not note.strip() or len(note) > escalations.MAX_NOTE_CHARS:
                return error(400, f"Handling needs a 'note': text of 1 to {escalations.MAX_NOTE_CHARS} characters.")
            return await change(request, escalation_id, audit.HANDLED,
                                partial(escalations.mark_handled, note=clean_message(note)))

        @console.route("/api/escalations/<escalation_id:int>/reply", methods=["POST"])
        @signed_in
        async def reply(request: Request, escalation_id: int) -> HTTPResponse:
            text = (json_body(request) or {}).get("text")
            if not isinstance(text, str) or not text.strip():
                return error(400, "Send JSON with a non-empty 'text' field: the reply to the patient.")
            if len(text) > nurse_reply.MAX_REPLY_CHARS:
                return error(400, f"'text' is limited to {nurse_reply.MAX_REPLY_CHARS} characters.")
            text = clean_message(text).strip()
            row = await off_loop(escalations.get_escalation, engine(), escalation_id)
            if row is None:
                return error(404, "No such escalation.")
            sender_id, channel = row["sender_id"], row["channel"]
            if channel == SMS_CHANNEL:
                try:
                    text = nurse_reply.sms_text(text)
                except nurse_reply.ReplyRefused as refused:
                    return error(400, str(refused))
                not_sent = await self.text_patient(request.ctx.nurse, row, text)
                if not_sent is not None:
                    return not_sent
                status = "sent"
            elif channel == WIDGET_CHANNEL:
                # Stored first: a page that opens meanwhile gets it from the store.
                reply_id = await off_loop(nurse_reply.record, engine(), escalation_id=escalation_id,
                                          sender_id=sender_id, channel=channel, nurse=request.ctx.nurse, text=text,
                                          status=nurse_reply.WAITING)
                deliver: Callable[[str, dict], Awaitable[bool]] | None = getattr(request.app.ctx, "widget_delivery", None)
                shown = deliver is not None and await deliver(sender_id, nurse_reply.widget_payload(text))
                status = "sent" if shown else "waiting for the patient to open the chat"
                if shown:
                    await off_loop(nurse_reply.settle, engine(), reply_id, nurse_reply.SENT)
            else:
                return error(409, f"This conversation came through the {channel} channel, which has no way "
                                  "to reach the patient. Call them if you have their number.")
            unrecorded = await self.record_reply(request, row, text)
            return response.json({"escalation_id": escalation_id, "channel": channel, "text": text, "status": status,
                                  "not_recorded_in": unrecorded})

        @console.route("/api/check-ins", methods=["POST"])
        @signed_in
        async def enrol(request: Request) -> HTTPResponse:
            body = json_body(request)
            if body is None:
                return error(400, "Send a JSON object: phone, first_name (optional), procedure, procedure_date, "
                                  "time_zone (optional) and consent.")
            runtime = check_ins()
            try:
                enrolment = validate_enrolment(body, runtime.settings, runtime.now())
            except EnrolmentError as refused:
                return error(400, str(refused))
            if not runtime.can_send:
                return error(503, "Text messages are not configured on this server; nobody was enrolled.")
            try:
                enrolment_id, request_id = await off_loop(check_in_store.enrol, engine(), enrolment, request.ctx.nurse,
                                                          runtime.now(), runtime.settings)
            except check_in_store.AlreadyEnrolled:
                return error(409, "This number already has check-ins that are not over: end them first.")
            await off_loop(audit.record, engine(), request.ctx.nurse, audit.ENROLLED, sender_id=enrolment.phone)
            due = await off_loop(check_in_store.next_due, engine(), request_id)
            if due is not None and due > runtime.now():  # quiet hours: it waits for the morning
                runtime.planned([(request_id, due)])
                outcome = f"waiting for the end of the quiet hours: sent at {due.isoformat()}"
            else:
                outcome = await self.send_consent_request(runtime, request_id)
            row = await off_loop(check_in_store.enrolment_row, engine(), enrolment_id)
            return response.json({"enrolment": runtime.for_console(row), "consent_request": outcome}, status=201)

        @console.route("/api/check-ins", methods=["GET"])
        @signed_in
        async def enrolments(request: Request) -> HTTPResponse:
            rows = await off_loop(check_in_store.list_enrolments, engine())
            await off_loop(audit.record, engine(), request.ctx.nurse, audit.VIEWED_CHECK_INS)
            return response.json({"enrolments": [check_ins().for_console(row) for row in rows]})

        @console.route("/api/check-ins/<enrolment_id:int>/<action:pause|resume|end>", methods=["POST"])
        @signed_in
        async def change_check_ins(request: Request, enrolment_id: int, action: str) -> HTTPResponse:
            row, cancelled = await off_loop(check_in_store.change_status, engine(), enrolment_id, request.ctx.nurse,
                                            action, check_ins().now())
            if row is None:
                exists = await off_loop(check_in_store.enrolment_row, engine(), enrolment_id)
                if exists is None:
                    return error(404, "No such enrolment.")
                return error(409, f"Check-ins that are {exists['status'].replace('_', ' ')} cannot {action}.")
            await off_loop(check_in_sender.remove_jobs, engine(), cancelled)
            await off_loop(audit.record, engine(), request.ctx.nurse, CHECK_IN_CHANGES[action], sender_id=row["phone"])
            return response.json(check_ins().for_console(row))

        @console.route("/api/audit", methods=["GET"])
        @signed_in
        async def audit_log(request: Request) -> HTTPResponse:
            nurse_name, sender = request.args.get("nurse", ""), request.args.get("sender", "")
            if len(nurse_name) > 64 or len(sender) > 255:
                return error(400, "'nurse' is at most 64 characters and 'sender' at most 255.")
            entries = await off_loop(audit.entries, engine(), clean_message(nurse_name).strip(), clean_message(sender).strip())
            return response.json({"entries": entries})

        @console.route("/api/events", methods=["GET"])
        @signed_in
        async def events(request: Request) -> None:  # a stream: Sanic sends it as it is written
            token = bearer(request)
            stream = await request.respond(
                content_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # nginx: pass each event on at once
            )
            listener = self.queue_watch.listen()
            try:
                while True:
                    try:
                        payload = await asyncio.wait_for(listener.get(), KEEPALIVE_SECONDS)
                    except asyncio.TimeoutError:
                        payload = None
                    # Listening is not activity: the session still times out when the nurse is away.
                    if not await off_loop(accounts.session_nurse, engine(), token, touch=False):
                        await stream.send("event: signed-out\ndata: {}\n\n")
                        break
                    await stream.send(f"event: queue\ndata: {payload}\n\n" if payload else ": keep-alive\n\n")
            except (SQLAlchemyError, asyncio.TimeoutError) as failure:
                logger.warning("Nurse live queue stream closed: %s", type(failure).__name__)
            finally:
                self.queue_watch.leave(listener)
            await stream.eof()

        return console

    async def send_consent_request(self, runtime: CheckIns, request_id: int) -> str:
        """Send the consent request while the nurse waits, within the database's and Twilio's
        time bounds; past them it goes on in the background and the check-ins list shows the outcome."""
        twilio_bound = twilio_sms.ATTEMPTS * (runtime.sender.twilio.timeout_seconds if runtime.sender.twilio else 0)
        try:
            sent = await asyncio.wait_for(runtime.send_now(request_id), database_timeout() + twilio_bound)
        except asyncio.TimeoutError:
            return "not confirmed yet (the database or Twilio is slow): the check-ins list shows what became of it"
        return CONSENT_REQUEST_OUTCOMES.get(sent, sent)

    async def text_patient(self, nurse_name: str, row: dict, text: str) -> HTTPResponse | None:
        """Text the patient; None when sent, else the error for the nurse. A failure is recorded."""
        sender_id = row["sender_id"]
        if await off_loop(sms.is_opted_out, engine(), sender_id):
            return error(409, "This patient has opted out of text messages (STOP): no text was sent.")
        try:
            settings = twilio_sms.TwilioSettings.from_environment()
        except twilio_sms.NotConfigured as missing:
            logger.error("Nurse reply by text message: %s", missing)
            return error(503, "Text-message replies are not configured on this server; no text was sent.")
        # Recorded before sending: should the database fail now, nothing has been sent.
        reply_id = await off_loop(nurse_reply.record, engine(), escalation_id=row["id"], sender_id=sender_id,
                                  channel=SMS_CHANNEL, nurse=nurse_name, text=text, status=nurse_reply.SENDING)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(SMS_THREADS, twilio_sms.send_text, settings, sender_id, text)
        except twilio_sms.SendFailed as failure:
            await off_loop(nurse_reply.settle, engine(), reply_id, nurse_reply.FAILED, str(failure))
            return error(502, f"The text message was not sent: {failure}. The reply is saved as failed; "
                              "try again later or call the patient.")
        try:
            await off_loop(nurse_reply.settle, engine(), reply_id, nurse_reply.SENT)
        except (SQLAlchemyError, asyncio.TimeoutError) as failure:  # sent: the nurse must not be told otherwise
            logger.warning("Nurse reply sent, its status not stored: %s", type(failure).__name__)
        return None

    async def record_reply(self, request: Request, row: dict, text: str) -> list[str]:
        """Add a delivered (or waiting) reply to the transcript and the audit log; where it
        could not be added. It has reached the patient, so a failure here is reported, not raised."""
        sender_id, nurse_name = row["sender_id"], request.ctx.nurse
        unrecorded = []
        try:
            await asyncio.wait_for(append_to_conversation(request.app.ctx.agent, sender_id, text, nurse_name),
                                   database_timeout())
        except (ConversationStoreUnavailable, SQLAlchemyError, LockError, asyncio.TimeoutError) as failure:
            logger.warning("Nurse reply not added to the transcript: %s", type(failure).__name__)
            unrecorded.append("transcript")
        try:
            await off_loop(audit.record, engine(), nurse_name, audit.REPLIED, sender_id=sender_id,
                           escalation_id=row["id"])
        except (SQLAlchemyError, asyncio.TimeoutError) as failure:
            logger.warning("Nurse reply not added to the audit log: %s", type(failure).__name__)
            unrecorded.append("audit log")
        return unrecorded
