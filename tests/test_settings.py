"""The time bounds: set in the environment, checked as the servers start."""
from __future__ import annotations

import pytest

from assistant.db import engine_for, timeout_arguments
from assistant.settings import TIME_BOUND_DEFAULTS, time_bounds


def test_every_time_bound_has_a_default_and_can_be_set(monkeypatch):
    defaults = time_bounds()
    for name in TIME_BOUND_DEFAULTS:
        monkeypatch.setenv(name, "7.5")
    assert set(vars(time_bounds()).values()) == {7.5} and set(vars(defaults).values()) != {7.5}


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_time_bound_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv("REDIS_TIMEOUT", value)
    with pytest.raises(ValueError, match="REDIS_TIMEOUT"):
        time_bounds()


def test_postgresql_connections_carry_the_database_bounds(monkeypatch):
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT", "0.5")  # libpq waits at least 2 s
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT", "4")
    arguments = timeout_arguments("postgresql")
    assert arguments["connect_timeout"] == "2" and arguments["options"] == "-c statement_timeout=4000"
    engine = engine_for(f"postgresql+psycopg2://nobody@127.0.0.1:1/bounds-{id(arguments)}")
    assert engine.pool.timeout() == 0.5
