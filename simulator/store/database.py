"""Opening the database: an SQLAlchemy engine with the schema created, and a database
made before sandboxes migrated (every row to the root sandbox)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Column, Connection, Engine, Index, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert
from sqlalchemy.sql.schema import Table

from simulator.store.schema import ROOT, WORLD, metadata


def open_database(url: str) -> Engine:
    """An engine for ``url`` with every table created (idempotent)."""
    # A pool as large as a worker's threads (8 by default) and the mail and sink
    # threads beside them: past the pool, SQLAlchemy closes each connection it is
    # given back, and the next request pays for a new one (and its PRAGMAs).
    engine = create_engine(url, future=True, pool_size=16, max_overflow=16)
    if engine.dialect.name == "sqlite":
        _WRITERS[engine] = threading.RLock()

        # Several server processes share one file: wait for a writer instead of
        # failing at once, and let readers go on beside it (WAL).
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    try:
        metadata.create_all(engine)
        _migrate(engine)
        _add_columns(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


#: One writer at a time per SQLite database in each process. SQLite lets one
#: connection write at a time anyway; without this the others wait in its busy
#: handler, which sleeps in steps of up to 100 ms, and a thread holding the write
#: lock can itself wait on the GIL behind them. Waiting here instead wakes the next
#: writer as soon as the last commits. Measured with 32 clients walking flows
#: (benchmarks/bench_throughput.py, two runs each way): ⑥'s p99 in the bank went
#: from 1.2–1.7 s to 0.28–0.34 s, with the same flows per second.
#: PostgreSQL locks rows, not the database, and needs nothing of this.
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes (``engine.begin()``), committed on leaving."""
    with _WRITERS.get(engine) or nullcontext(), engine.begin() as connection:
        yield connection


def _unkeyed(connection: Connection) -> list[Table]:
    """The tables of a world that a previous renkei made without ``sandbox``."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    return [
        table
        for table in WORLD
        if table.name in present
        and "sandbox" not in {c["name"] for c in inspector.get_columns(table.name)}
    ]


def _migrate(engine: Engine) -> None:
    """Rebuild the tables of a database made before sandboxes (INTERFACE.md §9) with
    the sandbox leading their keys, every row going to the root sandbox, in one
    transaction: a failure leaves the database as it was.

    create_all leaves existing tables alone, so they are rebuilt here. Several
    server processes may open one old database at once: each takes the database's
    write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock) and looks
    again, so the first migrates and the others find nothing left to do.
    """
    with engine.connect() as c:
        if not _unkeyed(c):
            return

    def rebuild(c: Connection) -> None:
        for table in _unkeyed(c):
            _rebuild(c, table)

    _under_migration_lock(engine, rebuild)


def _under_migration_lock(engine: Engine, change: Callable[[Connection], None]) -> None:
    """``change`` in one transaction holding the database's write lock (SQLite
    ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock): a failure leaves the database as
    it was, and of several processes opening it the first changes it, the others
    finding nothing left to do when ``change`` looks again."""
    if engine.dialect.name == "sqlite":
        # pysqlite does not begin a transaction before DDL; in AUTOCOMMIT mode it
        # leaves BEGIN and COMMIT to us, so the whole change is one transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                change(c)
            except BaseException:
                c.exec_driver_sql("ROLLBACK")
                raise
            c.exec_driver_sql("COMMIT")
        return
    with engine.begin() as c:
        c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        change(c)


def _missing(connection: Connection) -> list[tuple[Table, Column[Any]]]:
    """The columns a table made by a previous renkei (already keyed by sandbox) lacks."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    missing = []
    for table in metadata.sorted_tables:
        if table.name not in present:
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [(table, column) for column in table.c if column.name not in have]
    return missing


def _missing_indexes(connection: Connection) -> list[Index]:
    """The indexes a table made by a previous renkei lacks (create_all makes the
    indexes of the tables it creates, never of a table that exists)."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    return [
        index
        for table in metadata.sorted_tables
        if table.name in present
        for index in table.indexes
        if index.name not in {i["name"] for i in inspector.get_indexes(table.name)}
    ]


def _add_columns(engine: Engine) -> None:
    """Add the columns renkei added to a table since (``mails.attempts``, ``due`` and
    ``lease`` of the outbox; the ``wall`` moments of the retention purge), each
    nullable or with a server default, so the rows already there stay as they were,
    and the indexes added since (the purge's). Under the same lock as
    :func:`_migrate`, and looked for again under it, so that of several processes
    opening one database the first adds them."""
    with engine.connect() as c:
        if not _missing(c) and not _missing_indexes(c):
            return

    def add(c: Connection) -> None:
        quote = c.dialect.identifier_preparer.quote
        for table, column in _missing(c):
            added = f"{quote(column.name)} {column.type.compile(dialect=c.dialect)}"
            if column.server_default is not None:
                added += f" DEFAULT {column.server_default.arg}"  # type: ignore[attr-defined]
            if not column.nullable:
                added += " NOT NULL"
            c.execute(text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {added}"))
        for index in _missing_indexes(c):
            index.create(c)

    _under_migration_lock(engine, add)


#: Any fixed number: the PostgreSQL advisory lock the migration holds.
_MIGRATION_LOCK = 0x72656E6B


def _rebuild(c: Connection, table: Table) -> None:
    """``table`` made anew from the old one of its name; the columns both have are
    copied, those the old one lacked take their defaults (``flows.revision``, from
    before optimistic concurrency, included), and the sandbox is the root."""
    quote = c.dialect.identifier_preparer.quote
    name, old = quote(table.name), quote(f"{table.name}_unkeyed")
    kept = [
        quote(col["name"]) for col in inspect(c).get_columns(table.name) if col["name"] in table.c
    ]
    # A copy without the old constraints and indexes, whose names the new table reuses.
    c.execute(text(f"CREATE TABLE {old} AS SELECT * FROM {name}"))
    c.execute(text(f"DROP TABLE {name}"))
    table.create(c)
    listed = ", ".join(kept)
    c.execute(
        text(f"INSERT INTO {name} (sandbox, {listed}) SELECT :root, {listed} FROM {old}"),
        {"root": ROOT},
    )
    c.execute(text(f"DROP TABLE {old}"))
    if c.dialect.name == "postgresql" and "id" in table.c:
        # The copied ids are kept; the new serial must go on after the last of them.
        c.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                f" COALESCE(MAX(id), 0) + 1, false) FROM {name}"
            )
        )


def upsert(engine: Engine, table: Table) -> Insert:
    """An INSERT that can say ON CONFLICT, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"renkei supports SQLite and PostgreSQL, not {engine.dialect.name}")
