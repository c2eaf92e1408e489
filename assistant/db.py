"""The one SQL database: knowledge tables and escalations share a declarative base."""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Table, create_engine, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import declarative_base
from sqlalchemy.schema import CreateColumn

Base = declarative_base()


@lru_cache(maxsize=None)
def engine_for(url: str) -> Engine:
    """One pooled engine per database URL, for the life of the process."""
    return create_engine(url, pool_pre_ping=True)


def create_or_extend(engine: Engine, table: Table) -> None:
    """Create ``table``, or add the nullable columns a newer release gave it to an older
    copy; existing rows keep their data (a column made since has no value in them)."""
    table.create(engine, checkfirst=True)
    present = {column["name"] for column in inspect(engine).get_columns(table.name)}
    missing = [column for column in table.columns if column.name not in present]
    with engine.begin() as connection:
        for column in missing:
            if not column.nullable:
                raise RuntimeError(f"table {table.name} lacks the required column {column.name}")
            definition = CreateColumn(column).compile(dialect=engine.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {definition}")
