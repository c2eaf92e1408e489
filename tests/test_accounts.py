"""Nurse accounts: secrets hashed with argon2, sessions that end at log out, rotation, disabling or idleness."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from assistant import accounts
from assistant.accounts import AccountError, Nurse, NurseSession

SECRET = "correct horse battery"
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'accounts.db'}")


def test_a_secret_is_stored_only_as_an_argon2_hash(engine):
    accounts.add_nurse(engine, "ann", SECRET)
    with Session(engine) as session:
        stored = session.scalar(select(Nurse.secret_hash).where(Nurse.name == "ann"))
    assert stored.startswith("$argon2id$") and SECRET not in stored


def test_the_right_name_and_secret_open_a_session_and_a_wrong_one_does_not(engine):
    accounts.add_nurse(engine, "ann", SECRET)
    assert accounts.log_in(engine, "ann", "wrong secret here") is None
    assert accounts.log_in(engine, "nobody", SECRET) is None
    token = accounts.log_in(engine, "ann", SECRET)
    assert token and accounts.session_nurse(engine, token) == "ann"
    assert accounts.session_nurse(engine, token + "x") is None


def test_the_session_token_is_stored_only_as_its_hash(engine):
    accounts.add_nurse(engine, "ann", SECRET)
    token = accounts.log_in(engine, "ann", SECRET)
    with Session(engine) as session:
        stored = session.scalars(select(NurseSession.token_hash)).all()
    assert stored == [accounts.token_hash(token)] and token not in stored


def test_log_out_ends_the_session(engine):
    accounts.add_nurse(engine, "ann", SECRET)
    token = accounts.log_in(engine, "ann", SECRET)
    assert accounts.log_out(engine, token)
    assert accounts.session_nurse(engine, token) is None
    assert not accounts.log_out(engine, token)


def test_a_session_times_out_when_idle_but_use_keeps_it_open(engine, monkeypatch):
    monkeypatch.setenv("NURSE_SESSION_IDLE_MINUTES", "30")
    accounts.add_nurse(engine, "ann", SECRET)
    token = accounts.log_in(engine, "ann", SECRET, now=START)
    assert accounts.session_nurse(engine, token, now=START + timedelta(minutes=29)) == "ann"
    # Used at 29 minutes: still open 29 minutes later.
    assert accounts.session_nurse(engine, token, now=START + timedelta(minutes=58)) == "ann"
    # Watching the live queue is not activity.
    assert accounts.session_nurse(engine, token, touch=False, now=START + timedelta(minutes=87)) == "ann"
    assert accounts.session_nurse(engine, token, now=START + timedelta(minutes=89)) is None
    # Once timed out, it stays ended.
    assert accounts.session_nurse(engine, token, now=START + timedelta(minutes=89, seconds=1)) is None


def test_the_idle_time_out_is_configurable(engine, monkeypatch):
    monkeypatch.setenv("NURSE_SESSION_IDLE_MINUTES", "5")
    accounts.add_nurse(engine, "ann", SECRET)
    token = accounts.log_in(engine, "ann", SECRET, now=START)
    assert accounts.session_nurse(engine, token, now=START + timedelta(minutes=6)) is None
    monkeypatch.setenv("NURSE_SESSION_IDLE_MINUTES", "soon")
    with pytest.raises(ValueError, match="NURSE_SESSION_IDLE_MINUTES"):
        accounts.idle_timeout()


def test_rotating_the_secret_ends_sessions_and_only_the_new_secret_works(engine):
    accounts.add_nurse(engine, "ann", SECRET)
    token = accounts.log_in(engine, "ann", SECRET)
    accounts.rotate_secret(engine, "ann", "a brand new secret")
    assert accounts.session_nurse(engine, token) is None
    assert accounts.log_in(engine, "ann", SECRET) is None
    assert accounts.log_in(engine, "ann", "a brand new secret")


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(engine):
    accounts.add_nurse(engine, "ann", SECRET)
    token = accounts.log_in(engine, "ann", SECRET)
    accounts.set_disabled(engine, "ann")
    assert accounts.session_nurse(engine, token) is None
    assert accounts.log_in(engine, "ann", SECRET) is None
    accounts.set_disabled(engine, "ann", False)
    assert accounts.log_in(engine, "ann", SECRET)


@pytest.mark.parametrize("name, secret, problem", [
    ("Ann Smith", SECRET, "A name is"),
    ("a", SECRET, "A name is"),
    ("ann", "short", "A secret is"),
])
def test_bad_names_and_secrets_are_refused_without_echoing_the_secret(engine, name, secret, problem):
    with pytest.raises(AccountError, match=problem) as refused:
        accounts.add_nurse(engine, name, secret)
    assert secret not in str(refused.value)


def test_names_are_unique(engine):
    accounts.add_nurse(engine, "ann", SECRET)
    with pytest.raises(AccountError, match="already"):
        accounts.add_nurse(engine, "ann", SECRET)


def run_cli(monkeypatch, capsys, *argv, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = accounts.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_line_adds_rotates_disables_and_lists(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", url)
    engine = create_engine(url)

    code, out, _ = run_cli(monkeypatch, capsys, "add", "bea")
    shown = out.strip().rsplit(" ", 1)[-1]
    assert code == 0 and accounts.log_in(engine, "bea", shown)

    code, out, _ = run_cli(monkeypatch, capsys, "rotate", "bea", "--secret-stdin", stdin="typed in at the prompt\n")
    assert code == 0 and "typed in" not in out
    assert accounts.log_in(engine, "bea", shown) is None
    assert accounts.log_in(engine, "bea", "typed in at the prompt")

    assert run_cli(monkeypatch, capsys, "disable", "bea")[0] == 0
    code, out, _ = run_cli(monkeypatch, capsys, "list")
    assert code == 0 and out.startswith("bea\tdisabled")

    code, _, err = run_cli(monkeypatch, capsys, "rotate", "nobody")
    assert code == 1 and "no nurse named nobody" in err
