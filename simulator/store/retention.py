"""Retention: how long the rows a sandbox accumulates are kept, and their purge.

Nothing a request writes is kept for ever. Each kind of row is deleted a retention
after its wall-clock moment (``wall`` in simulator.store.schema: seconds since the
epoch, stamped by the store with the real time, never the sandbox clock):

============  ==========================================  ===========
kind          purged when, after its wall moment           by default
============  ==========================================  ===========
``flows``     a flow not saved for that long, ended or      1 day
              not (a flow is lost 30 min after it was
              last touched and 60 min after it started,
              at the clock's normal pace)
``codes``     an authorization code, used or not (it        1 day
              expires 60 s after it was issued)
``grants``    a grant, with every token of it, that long    90 days
              after it ended at the latest (its 認可期間
              from the real moment it was made, or the
              real moment it was revoked)
``calls``     a call id the telephony gateway saw           7 days
``log``       a line of the operation log                   30 days
``mail``      a mail ``sent``, ``delivered`` or             30 days
              ``failed`` (a ``queued`` or ``sending`` one
              is the outbox's, and stays)
============  ==========================================  ===========

Why the wall clock: a tester moves a sandbox's clock by days or years, forward
and back, so a purge by the sandbox clock could delete what the tester still reads
(a clock set a year ahead) or never delete anything (a clock set back). By the
wall clock, whatever a tester does with the sandbox clock, a row is kept for its
retention and then goes. A row of an older renkei, written before the column
existed, is stamped with the time of the first purge that finds it.

The purge deletes in batches of :data:`BATCH` rows, each in a transaction of its
own, so that it never holds SQLite's one writer for long (the writers' lock of
simulator.store.database is taken and released for each batch). It reads every
sandbox's rows at once through the purge's own indexes (``*_purge``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, delete, select, text, tuple_, update

from simulator.store.database import upsert, writing
from simulator.store.schema import calls, codes, flows, grants, mails, oplog, purges, tokens

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
#: The rows one statement of the purge deletes (or stamps) at most.
BATCH = 500
#: The longest a purge waits for the next, unless told: the rows of a kind are
#: gone at most this long after their retention.
MOST_EVERY = 300.0
#: A mail in one of these has been through its conversations: the outbox is done with it.
SETTLED_MAIL = ("sent", "delivered", "failed")


@dataclass(frozen=True)
class Retention:
    """How long each kind of row is kept, in seconds, and how often the server purges
    (``every``; None: :meth:`interval` decides)."""

    flows: float = DAY
    codes: float = DAY
    grants: float = 90 * DAY
    calls: float = 7 * DAY
    log: float = 30 * DAY
    mail: float = 30 * DAY
    every: float | None = None

    def kinds(self) -> dict[str, float]:
        """Each kind's retention, by the name ``--retain`` gives it."""
        return {name: getattr(self, name) for name in KINDS}

    def interval(self) -> float:
        """How often to purge: ``every``, else half the shortest retention, but at most
        :data:`MOST_EVERY` and at least a second."""
        if self.every is not None:
            return self.every
        return max(1.0, min(MOST_EVERY, min(self.kinds().values()) / 2))

    def describe(self) -> str:
        """One line, as ``--retain`` would say it (the banner's)."""
        kept = ",".join(f"{name}={duration_text(s)}" for name, s in self.kinds().items())
        return f"{kept}; purged every {duration_text(self.interval())}"


#: The kinds of row, in the order ``--retain`` and the purge take them.
KINDS = ("flows", "codes", "grants", "calls", "log", "mail")
_UNITS = {"s": 1.0, "m": MINUTE, "h": HOUR, "d": DAY}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")


def duration(text: str) -> float:
    """``90d``, ``24h``, ``15m``, ``10s`` or plain seconds, as seconds (more than 0);
    else ValueError."""
    found = _DURATION.fullmatch(text.strip())
    seconds = float(found[1]) * _UNITS[found[2] or "s"] if found else 0.0
    if seconds <= 0:
        raise ValueError(f"not a duration {text!r}: a number and s, m, h or d, such as 24h")
    return seconds


def duration_text(seconds: float) -> str:
    """``seconds`` in the largest unit that says it whole (``90d``, ``36h``, ``1.5s``)."""
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def parse_retain(text: str, base: Retention | None = None) -> Retention:
    """``--retain``: ``KIND=DURATION`` pairs separated by commas (``flows=24h,log=7d``),
    each replacing ``base``'s (the defaults); ValueError naming what is wrong."""
    changed: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals or name not in KINDS:
            raise ValueError(
                f"--retain wants KIND=DURATION pairs, KIND one of {', '.join(KINDS)}; not {part!r}"
            )
        try:
            changed[name] = duration(value)
        except ValueError as error:
            raise ValueError(f"--retain {name}: {error}") from None
    return dataclasses.replace(base or Retention(), **changed)


# -- the purge ---------------------------------------------------------------------------------


def _in_batch(table: Table, key: tuple[Any, ...], where: ColumnElement[bool]) -> Any:
    """The rows of ``table`` that match ``where``, at most :data:`BATCH` of them, by
    their key: a DELETE or UPDATE … WHERE key IN (SELECT key … LIMIT), which SQLite
    and PostgreSQL both run."""
    chosen = select(*key).where(where).limit(BATCH)
    if len(key) == 1:
        return key[0].in_(chosen)
    return tuple_(*key).in_(chosen)


def _keys(table: Table) -> tuple[Any, ...]:
    return tuple(table.primary_key.columns)


#: Each kind's table and its wall column.
_TABLES: dict[str, Table] = {
    "flows": flows,
    "codes": codes,
    "calls": calls,
    "log": oplog,
    "mail": mails,
}


def _repeat(engine: Engine, statement: Any, between: Callable[[], None]) -> int:
    """Run ``statement`` (one batch) until it finds fewer than a batch; answers the rows."""
    total = 0
    while True:
        with writing(engine) as c:
            done = int(c.execute(statement).rowcount)
        total += done
        between()
        if done < BATCH:
            return total


def stamp(engine: Engine, now: float, between: Callable[[], None] = lambda: None) -> int:
    """Give the rows an older renkei wrote (no wall moment) the moment ``now``, so that
    they are purged a retention from now; answers how many there were."""
    stamped = 0
    for table in _TABLES.values():
        where = table.c.wall.is_(None)
        statement = update(table).where(_in_batch(table, _keys(table), where), where)
        stamped += _repeat(engine, statement.values(wall=now), between)
    while True:
        query = (
            select(grants.c.sandbox, grants.c.grant_id, grants.c.granted_at, grants.c.expires_at)
            .where(grants.c.wall_ends.is_(None))
            .limit(BATCH)
        )
        with writing(engine) as c:
            rows = c.execute(query).all()
            for r in rows:
                life = dt.datetime.fromisoformat(r.expires_at) - dt.datetime.fromisoformat(
                    r.granted_at
                )
                c.execute(
                    update(grants)
                    .where(
                        grants.c.sandbox == r.sandbox,
                        grants.c.grant_id == r.grant_id,
                        grants.c.wall_ends.is_(None),
                    )
                    .values(wall_ends=now + max(life.total_seconds(), 0.0))
                )
        stamped += len(rows)
        between()
        if len(rows) < BATCH:
            return stamped


def purge(
    engine: Engine,
    retention: Retention,
    now: float,
    between: Callable[[], None] = lambda: None,
) -> dict[str, int]:
    """Delete, from every sandbox, each kind of row whose retention is over at ``now``
    (wall-clock seconds since the epoch); answers how many of each kind went, the
    tokens of the grants among them as ``tokens``. ``between`` is called after each
    batch (the server's thread pauses there, letting requests write)."""
    stamp(engine, now, between)
    gone: dict[str, int] = {}
    for kind, table in _TABLES.items():
        where = table.c.wall < now - getattr(retention, kind)
        if table is mails:
            where = where & mails.c.status.in_(SETTLED_MAIL)
        statement = delete(table).where(_in_batch(table, _keys(table), where), where)
        gone[kind] = _repeat(engine, statement, between)
    gone["grants"], gone["tokens"] = _purge_grants(engine, now - retention.grants, between)
    return gone


def _purge_grants(engine: Engine, before: float, between: Callable[[], None]) -> tuple[int, int]:
    """The grants ended before ``before`` and every token of them, a batch of grants
    (and their tokens) in each transaction."""
    where = grants.c.wall_ends < before
    due = (
        select(grants.c.sandbox, grants.c.grant_id)
        .where(where)
        .order_by(grants.c.wall_ends, grants.c.sandbox, grants.c.grant_id)
        .limit(BATCH)
    )
    their_tokens = delete(tokens).where(tuple_(tokens.c.sandbox, tokens.c.grant_id).in_(due))
    the_grants = delete(grants).where(tuple_(grants.c.sandbox, grants.c.grant_id).in_(due), where)
    purged = tokens_purged = 0
    while True:
        with writing(engine) as c:
            tokens_purged += int(c.execute(their_tokens).rowcount)
            done = int(c.execute(the_grants).rowcount)
        purged += done
        between()
        if done < BATCH:
            return purged, tokens_purged


def reclaim(engine: Engine, gone: dict[str, int]) -> None:
    """Make the space of the rows a purge deleted (its answer, ``gone``) reusable at
    once. PostgreSQL keeps a deleted row until VACUUM, which autovacuum runs only once
    a fifth of a table has changed: each table the purge deleted from is vacuumed
    (plain VACUUM, which neither blocks reads and writes nor gives the disk back).
    SQLite puts the freed pages on its free list, which the next rows take."""
    if engine.dialect.name != "postgresql":
        return
    tables = {**_TABLES, "grants": grants, "tokens": tokens}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        for kind, count in gone.items():
            if count:
                c.execute(text(f"VACUUM {c.dialect.identifier_preparer.quote(tables[kind].name)}"))


#: The name of the retention purge's claim in ``purges``.
CLAIM = "retention"


def claim(engine: Engine, now: float, every: float) -> bool:
    """Whether this process purges now: of the server processes on one database, the
    first to ask in each interval of ``every`` seconds (one conditional UPDATE of
    ``purges``, so two cannot both win). A claim whose time is ahead of ``now`` by
    more than ``every`` (the system clock was set back) is taken again."""
    at = purges.c.at
    taken = (
        update(purges)
        .where(purges.c.name == CLAIM, (at <= now - 0.9 * every) | (at > now + every))
        .values(at=now)
    )
    first = (
        upsert(engine, purges)
        .values(name=CLAIM, at=now)
        .on_conflict_do_nothing(index_elements=["name"])  # type: ignore[attr-defined]
        .returning(purges.c.name)
    )
    with writing(engine) as c:
        if c.execute(taken).rowcount:
            return True
        return c.execute(first).first() is not None
