"""Opening the database: an SQLAlchemy engine with the schema created, and a database
made before sandboxes migrated (every row to the root sandbox).

A SQLite file holds customers' data and live flow ids: it is its owner's alone
(0600), made so before SQLite opens it, whatever the umask; SQLite gives its
``-wal`` and ``-shm`` files the main file's mode. An existing file that others
may read (and a ``-wal`` or ``-shm`` a process left behind) is made 0600 with a
warning line."""

from __future__ import annotations

import logging
import os
import stat
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Column, Connection, Engine, Index, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Insert
from sqlalchemy.sql.schema import Table

from simulator.store.schema import ROOT, WORLD, metadata

log = logging.getLogger("renkei")


def open_database(url: str) -> Engine:
    """An engine for ``url`` with every table created (idempotent)."""
    _keep_private(url)
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


def _keep_private(url: str) -> None:
    """A SQLite database file of ``url`` that is its owner's alone (0600): made so
    when it does not exist yet (an empty file is an empty database to SQLite), or
    tightened, with its ``-wal`` and ``-shm``, when others may read it. Nothing for
    another database, an in-memory one, or a file that cannot be made here (SQLite
    then says why, as before)."""
    parts = make_url(url)
    name = parts.database
    if parts.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return
    if name.startswith("file:") or parts.query.get("uri"):
        return  # a URI filename: SQLite's to read, whatever it names
    try:
        # O_EXCL: made here or not at all, never reopening someone else's file; the
        # mode is given at creation (no moment at 0644), the umask can only narrow it.
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    except OSError:
        return  # no such directory, not ours to write: SQLite's error names it
    for path in (name, f"{name}-wal", f"{name}-shm"):
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            continue  # no -wal or -shm: SQLite makes them with the main file's mode
        if not mode & 0o077:
            continue
        try:
            os.chmod(path, mode & 0o700)
        except OSError as error:  # another's file: say so, and open it as it is
            log.warning("renkei: %s is mode %03o, open to others: %s", path, mode, error)
        else:
            log.warning(
                "renkei: %s was mode %03o, open to others; now %03o", path, mode, mode & 0o700
            )


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
