"""The one SQL database: knowledge tables and escalations share a declarative base."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import declarative_base

Base = declarative_base()


@lru_cache(maxsize=None)
def engine_for(url: str) -> Engine:
    """One pooled engine per database URL, for the life of the process."""
    return create_engine(url, pool_pre_ping=True)
