"""Two replicas, one PostgreSQL database: each check-in is sent exactly once.

Each replica runs its own APScheduler on the one shared job store, as the production
profile's replicas do; APScheduler 3 lets both run a due job, and the outbox claim keeps the
text to one send."""
from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, update

from assistant import check_in_replies, check_in_store
from assistant.check_in_sender import CheckInSender, schedule, start_scheduler
from assistant.check_in_store import CheckInMessage
from assistant.check_ins import Enrolment, SystemClock, load_settings, load_texts
from assistant.settings import load_contacts
from assistant.twilio_sms import TwilioSettings
from tests.check_in_helpers import bodies_to, daytime_zone, twilio_settings
from tests.helpers import new_number

PATIENTS = 12
REPLICA_SECONDS = 25  # long enough for a replica to start (imports), reach the due time and send


def run_replica(database_url: str, twilio: TwilioSettings, name: str, seconds: float) -> None:
    """One replica's check-in scheduler, for ``seconds`` (in a process of its own)."""
    engine = create_engine(database_url)
    sender = CheckInSender(engine, clock=SystemClock(), settings=load_settings(), texts=load_texts(),
                           contacts=load_contacts(), twilio=twilio, worker=name)
    scheduler = start_scheduler(engine, sender)
    time.sleep(seconds)
    scheduler.shutdown(wait=True)


@pytest.fixture
def engine(postgres_url):
    return create_engine(postgres_url)


@pytest.fixture
def twilio(twilio):
    if not twilio.auth_token:
        twilio.auth_token = "check-in-replica-tests"
    return twilio


def consenting_patients(engine, count: int) -> dict[str, list[int]]:
    """Patients enrolled and consented now: their numbers with their check-ins' outbox ids."""
    now, settings = datetime.now(timezone.utc), load_settings()
    patients = {}
    for _ in range(count):
        phone = new_number()
        check_in_store.enrol(engine, Enrolment(phone, None, "vertebroplasty", date.today(), daytime_zone()),
                             "nurse-ann", now, settings)
        consented = check_in_replies.consent(engine, phone, now, settings, load_texts(), load_contacts())
        patients[phone] = [message_id for message_id, _ in consented.planned]
    return patients


def test_two_replicas_schedulers_on_one_database_send_each_check_in_once(engine, postgres_url, twilio, report):
    patients = consenting_patients(engine, PATIENTS)
    first_check_ins = [ids[0] for ids in patients.values()]
    due = datetime.now(timezone.utc) + timedelta(seconds=12)
    with engine.begin() as connection:
        connection.execute(update(CheckInMessage).where(CheckInMessage.id.in_(first_check_ins)).values(due_at=due))
    # The jobs as enrolment plans them: in the shared job store, one per text.
    planner = start_scheduler(engine, CheckInSender(engine, clock=SystemClock(), settings=load_settings(),
                                                    texts=load_texts(), contacts=load_contacts(), twilio=None,
                                                    worker="planner"), paused=True)
    for message_id in first_check_ins:
        schedule(planner, message_id, due)
    planner.shutdown()

    spawn = multiprocessing.get_context("spawn")
    replicas = [spawn.Process(target=run_replica, args=(postgres_url, twilio_settings(twilio), name, REPLICA_SECONDS))
                for name in ("replica-a", "replica-b")]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(REPLICA_SECONDS + 60)
        assert replica.exitcode == 0

    for phone in patients:
        assert [body.split(":")[0] for body in bodies_to(twilio, phone)] == ["Hello. Day 1"], phone
    with engine.connect() as connection:
        rows = connection.execute(CheckInMessage.__table__.select().where(CheckInMessage.id.in_(first_check_ins))).all()
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
    senders = sorted(row.claimed_by for row in rows)
    report(f"Check-ins, two replicas: {len(rows)} due at once, each sent once; "
           f"replica-a sent {senders.count('replica-a')}, replica-b {senders.count('replica-b')}")


def test_two_senders_claiming_the_same_texts_at_the_same_moment_send_each_once(engine, twilio):
    patients = consenting_patients(engine, 4)
    ids = [message_ids[0] for message_ids in patients.values()]
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        connection.execute(update(CheckInMessage).where(CheckInMessage.id.in_(ids)).values(due_at=now))
    senders = [CheckInSender(engine, clock=SystemClock(), settings=load_settings(), texts=load_texts(),
                             contacts=load_contacts(), twilio=twilio_settings(twilio), worker=name)
               for name in ("a", "b")]
    for message_id in ids:
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def deliver(sender: CheckInSender) -> None:
            start.wait()
            outcomes.append(sender.deliver(message_id))

        threads = [threading.Thread(target=deliver, args=(sender,)) for sender in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["not claimed", "sent"]
    assert all(len(bodies_to(twilio, phone)) == 1 for phone in patients)
