"""Flows in progress, the operation log, the sandbox settings and the sent mail.

Everything here is shared by all server processes through the database: the
identity progress, the attempt counts and the call challenge live on the
server, never in a browser cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from simulator.core.clock import Clock, SystemClock
from simulator.core.faults import Occupancy, SlotRule
from simulator.core.flow import Event, FlowState
from simulator.core.mail import Mail
from simulator.core.screens import Screen
from simulator.store.database import upsert, writing
from simulator.store.schema import ROOT, calls, flows, mails, oplog, settings

# The statements of every request, built once: SQLAlchemy then skips building
# the expression and computing its cache key on each call.
LOAD_FLOW = select(flows.c.record, flows.c.revision).where(
    flows.c.sandbox == bindparam("sandbox"), flows.c.flow_id == bindparam("id")
)
SAVE_FLOW = update(flows).where(
    # Not "sandbox": an UPDATE's parameter named after a column would set that column.
    flows.c.sandbox == bindparam("of_sandbox"),
    flows.c.flow_id == bindparam("id"),
    flows.c.revision == bindparam("loaded_at"),
)
ALL_SETTINGS = select(settings.c.name, settings.c.value).where(
    settings.c.sandbox == bindparam("sandbox")
)
LOG_LINE = insert(oplog)


def _log_row(sandbox: str, event: Event, wall: float) -> dict[str, Any]:
    return {
        "sandbox": sandbox,
        "at": event.at.isoformat(),
        "flow_id": event.flow_id,
        "kind": event.kind,
        "detail": dict(event.detail),
        "wall": wall,
    }


def _flow(record: dict[str, Any], revision: int) -> FlowState:
    flow = FlowState.from_record(record)
    flow.revision = revision
    return flow


class StaleFlow(Exception):
    """The flow changed since it was loaded: another request on the same flow (a
    double submission, the telephony gateway) saved first. Nothing was written."""


class SqlFlows:
    """Flows in progress, with optimistic concurrency: each save names the revision
    it was loaded at and bumps it, so two requests on one flow cannot both write
    from the same starting point (a lost update would undo a move). One sandbox's
    flows; another's are, to it, as if they did not exist."""

    def __init__(
        self,
        engine: Engine,
        *,
        sandbox: str = ROOT,
        platform: tuple[str, ...] = (),
        wall: Clock | None = None,
        slots: SlotRule | None = None,
    ) -> None:
        """``platform``: the keys of every bank of the platform this one belongs to
        (INTERFACE.md §10), whose flows congestion counts together; none for a
        sandbox of one bank. ``wall``: the real time each save stamps (the retention
        purge's, simulator.store.retention), not the sandbox clock. ``slots``: when
        a flow stops holding its slot (the bank's ``BankRules.slots``), kept with
        each flow saved for :meth:`occupancy` to count."""
        self.engine = engine
        self.sandbox = sandbox
        self.wall = wall or SystemClock()
        self.slots = slots or SlotRule()
        self.mine = flows.c.sandbox == sandbox
        self.platform = flows.c.sandbox.in_(platform) if len(platform) > 1 else self.mine
        #: The PostgreSQL advisory lock of the platform's admissions: one number for
        #: every bank of it, the same in every process (hashlib, not hash()).
        key = min(platform) if len(platform) > 1 else sandbox
        digest = hashlib.sha256(f"renkei-admission/{key}".encode()).digest()
        self._admission_key = int.from_bytes(digest[:8], "big", signed=True)
        #: The transaction of the admission this thread is in (:meth:`admission`).
        self._admitting = threading.local()
        # The flows holding a slot are a range of the index (sandbox, slot_until):
        # one query counts them and finds the first to lapse, the app's early ones too.
        early = flows.c.early_client == bindparam("client")
        self._occupancy = select(
            func.count(),
            func.min(flows.c.slot_until),
            func.coalesce(func.sum(case((early, 1), else_=0)), 0),
            func.min(case((early, flows.c.slot_until))),
        ).where(self.platform, flows.c.slot_until >= bindparam("now"))

    def save(
        self,
        flow: FlowState,
        oauth_params: dict[str, str] | None = None,
        log: Sequence[Event] = (),
    ) -> None:
        """Insert ``flow`` (revision 0) or update it from the revision it was loaded
        at; raises :class:`StaleFlow` when that revision is no longer the latest,
        and writes nothing. ``oauth_params`` are kept from its first save; ``log``,
        lines of the operation log, go in the same transaction."""
        waiting = flow.registered_phone if flow.screen is Screen.CALL else None
        wall = self.wall.now().timestamp()
        open_ = not flow.finished
        values = {
            "record": flow.to_record(),
            "finished": flow.finished,
            "touched_at": flow.touched_at.isoformat(),
            "waiting_phone": waiting,
            "wall": wall,
            "slot_until": flow.slot_freed_at(self.slots).isoformat() if open_ else None,
            "early_client": flow.client_id if open_ and flow.posted_at is None else None,
        }
        with self._transaction() as c:
            if log:
                c.execute(LOG_LINE, [_log_row(self.sandbox, e, wall) for e in log])
            if flow.revision == 0:
                c.execute(
                    insert(flows),
                    {
                        "sandbox": self.sandbox,
                        "flow_id": flow.flow_id,
                        "oauth_params": oauth_params or {},
                        "revision": 1,
                        **values,
                    },
                )
            else:
                done = c.execute(
                    SAVE_FLOW,
                    {
                        **values,
                        "of_sandbox": self.sandbox,
                        "id": flow.flow_id,
                        "loaded_at": flow.revision,
                        "revision": flow.revision + 1,
                    },
                ).rowcount
                if not done:
                    raise StaleFlow(flow.flow_id)
        flow.revision += 1

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """The admission's transaction when this thread is in one, else a new one."""
        c: Connection | None = getattr(self._admitting, "connection", None)
        if c is not None:
            yield c
            return
        with writing(self.engine) as c:
            yield c

    @contextmanager
    def admission(self, now: dt.datetime, client_id: str) -> Iterator[Occupancy]:
        """One new flow of the platform at a time: the slots at ``now`` for a flow of
        ``client_id`` (:meth:`occupancy`), read under a lock held until the block
        ends, and the flow saved in the block (:meth:`save`) in the same
        transaction. Without it, requests racing through the count each saw the
        slot the others were about to take (16 connections flooding one app went
        6 past its share). The lock: SQLite's write lock (``BEGIN IMMEDIATE``, for
        every process on the file), PostgreSQL's advisory lock of the platform.
        An error in the block (the core's refusal) writes nothing."""
        with writing(self.engine) as c:
            if self.engine.dialect.name == "sqlite":
                c.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._admission_key})
            self._admitting.connection = c
            try:
                yield self._read_occupancy(c, now, client_id)
            finally:
                self._admitting.connection = None

    def oauth_params(self, flow_id: str) -> dict[str, str]:
        """The authorization request that started the flow."""
        with self.engine.connect() as c:
            params = c.execute(
                select(flows.c.oauth_params).where(self.mine, flows.c.flow_id == flow_id)
            ).scalar()
        return dict(params or {})

    def load(self, flow_id: str) -> FlowState | None:
        with self.engine.connect() as c:
            row = c.execute(LOAD_FLOW, {"sandbox": self.sandbox, "id": flow_id}).first()
        return _flow(row.record, row.revision) if row is not None else None

    def waiting_for_call_from(self, phone: str) -> list[FlowState]:
        """Flows on ④ whose registered phone is ``phone`` (the telephony gateway)."""
        query = select(flows.c.record, flows.c.revision).where(
            self.mine, flows.c.waiting_phone == phone
        )
        with self.engine.connect() as c:
            return [_flow(r.record, r.revision) for r in c.execute(query)]

    def occupancy(self, now: dt.datetime, client_id: str) -> Occupancy:
        """The platform's slots at ``now`` for a new flow of ``client_id``
        (:meth:`Occupancy.of <simulator.core.faults.Occupancy.of>` in one SQL query):
        the flows holding one (unfinished, ``now`` not past the instant
        :meth:`FlowState.slot_freed_at` gave at their last save), on all its banks
        together (R-PLAT-3), and the first of them to lapse; the same of the app's
        early flows. Each sandbox congests on its own flows only.

        ISO text with one fixed offset (+09:00) sorts as time does.
        """
        with self.engine.connect() as c:
            return self._read_occupancy(c, now, client_id)

    def _read_occupancy(self, c: Connection, now: dt.datetime, client_id: str) -> Occupancy:
        given = {"now": now.isoformat(), "client": client_id}
        held, freed, early, client_freed = c.execute(self._occupancy, given).one()

        def instant(value: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(value) if value is not None else None

        return Occupancy(int(held), instant(freed), int(early), instant(client_freed))

    def in_progress(self, now: dt.datetime) -> int:
        """How many of the platform's flows hold a host slot at ``now``."""
        return self.occupancy(now, "").held

    def clear(self) -> None:
        with writing(self.engine) as c:
            c.execute(delete(flows).where(self.mine))


class SqlLog:
    """One sandbox's operation log (R-AUTHZ-6): who did what when; never a PIN."""

    def __init__(self, engine: Engine, *, sandbox: str = ROOT, wall: Clock | None = None) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.mine = oplog.c.sandbox == sandbox
        self.wall = wall or SystemClock()

    def append(self, event: Event) -> None:
        self.extend([event])

    def extend(self, events: Sequence[Event]) -> None:
        """Lines in one transaction, in order."""
        wall = self.wall.now().timestamp()
        with writing(self.engine) as c:
            c.execute(LOG_LINE, [_log_row(self.sandbox, e, wall) for e in events])

    def entries(self, limit: int = 1000) -> list[dict[str, Any]]:
        query = select(oplog).where(self.mine).order_by(oplog.c.id.desc()).limit(limit)
        with self.engine.connect() as c:
            rows = c.execute(query).all()
        return [
            {"id": r.id, "at": r.at, "flow_id": r.flow_id, "kind": r.kind, "detail": r.detail}
            for r in reversed(rows)
        ]

    def clear(self) -> None:
        with writing(self.engine) as c:
            c.execute(delete(oplog).where(self.mine))


class SqlSettings:
    """One sandbox's named JSON values: its clock, faults and maintenance windows."""

    def __init__(self, engine: Engine, *, sandbox: str = ROOT) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.mine = settings.c.sandbox == sandbox

    def get(self, name: str, default: Any = None) -> Any:
        with self.engine.connect() as c:
            value = c.execute(
                select(settings.c.value).where(self.mine, settings.c.name == name)
            ).scalar()
        return default if value is None else value

    def all(self) -> dict[str, Any]:
        """Every named value, in one query (a request reads them all at once)."""
        with self.engine.connect() as c:
            return {r.name: r.value for r in c.execute(ALL_SETTINGS, {"sandbox": self.sandbox})}

    def put(self, name: str, value: Any) -> None:
        with writing(self.engine) as c:
            done = c.execute(
                update(settings).where(self.mine, settings.c.name == name), {"value": value}
            ).rowcount
            if not done:
                c.execute(insert(settings), {"sandbox": self.sandbox, "name": name, "value": value})

    def clear(self) -> None:
        with writing(self.engine) as c:
            c.execute(delete(settings).where(self.mine))


class SqlMailbox:
    """One sandbox's completion e-mails, with how each delivery went (R-AUTHZ-5).

    The outbox's defaults (``ServiceConfig`` takes them up): a claim is held for
    :attr:`LEASE_SECONDS`, and a mail is given up after :attr:`ATTEMPTS` conversations."""

    LEASE_SECONDS = 120.0
    ATTEMPTS = 5

    # The outbox's statements, built once as the flows' are (the names of their
    # parameters are no column's: an UPDATE's parameter named after a column sets it).
    _ONE = (mails.c.sandbox == bindparam("of_sandbox")) & (mails.c.id == bindparam("mail_id"))
    #: Due: ``queued`` and its time come, or ``sending`` under a lease that lapsed (its
    #: outbox died; no lease at all: an older renkei's).
    _DUE = (
        (mails.c.status == "queued") & (mails.c.due.is_(None) | (mails.c.due <= bindparam("now")))
    ) | (
        (mails.c.status == "sending")
        & (mails.c.lease.is_(None) | (mails.c.lease <= bindparam("now")))
    )
    _SPENT = (mails.c.status == "sending") & (mails.c.attempts >= bindparam("spent_at"))
    _TAKE = (
        update(mails)
        .where(_ONE, _DUE, ~_SPENT)
        .values(status="sending", lease=bindparam("until"), attempts=mails.c.attempts + 1)
        .returning(
            mails.c.sender, mails.c.recipient, mails.c.subject, mails.c.body, mails.c.attempts
        )
    )
    _GIVE_UP = update(mails).where(_ONE, _DUE, _SPENT).values(status="failed", lease=None)
    _CLAIMED = _ONE & (mails.c.status == "sending") & (mails.c.attempts == bindparam("attempt_no"))
    _RETRY = (
        update(mails)
        .where(_CLAIMED)
        .values(status=bindparam("new_status"), due=bindparam("new_due"), lease=None)
    )
    _MARK = (
        update(mails)
        .where(_ONE, mails.c.status.in_(bindparam("was", expanding=True)))
        .values(status=bindparam("new_status"), lease=None)
    )
    _MARK_CLAIMED = update(mails).where(_CLAIMED).values(status=bindparam("new_status"), lease=None)
    _DUE_IDS = (
        select(mails.c.id)
        .where(mails.c.sandbox == bindparam("of_sandbox"), _DUE)
        .order_by(mails.c.id)
    )
    _DUE_ANYWHERE = select(mails.c.sandbox, mails.c.id).where(_DUE).order_by(mails.c.id)
    _UNSETTLED = select(func.count()).where(
        mails.c.sandbox == bindparam("of_sandbox"),
        (mails.c.status == "sending")
        | (
            (mails.c.status == "queued")
            & (mails.c.due.is_(None) | (mails.c.due <= bindparam("now")))
        ),
    )

    def __init__(self, engine: Engine, *, sandbox: str = ROOT, wall: Clock | None = None) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.mine = mails.c.sandbox == sandbox
        #: The outbox's leases and retries go by real time, which every server process
        #: and host shares, never by the sandbox clock, which a tester moves by days.
        self.wall = wall or SystemClock()

    def record(self, at: dt.datetime, mail: Mail, status: str) -> None:
        with writing(self.engine) as c:
            c.execute(
                insert(mails),
                {
                    "sandbox": self.sandbox,
                    "at": at.isoformat(),
                    "sender": mail.sender,
                    "recipient": mail.to,
                    "subject": mail.subject,
                    "body": mail.body,
                    "status": status,
                    "wall": self.wall.now().timestamp(),
                },
            )

    # -- the outbox: mails recorded first, then sent by a thread (simulator.web.mail) ----

    def queue(self, at: dt.datetime, mail: Mail) -> int:
        """Record ``mail`` as ``queued``; answers its id."""
        with writing(self.engine) as c:
            row = c.execute(
                insert(mails).returning(mails.c.id),
                {
                    "sandbox": self.sandbox,
                    "at": at.isoformat(),
                    "sender": mail.sender,
                    "recipient": mail.to,
                    "subject": mail.subject,
                    "body": mail.body,
                    "status": "queued",
                    "wall": self.wall.now().timestamp(),
                },
            ).scalar_one()
        return int(row)

    def claim(
        self, mail_id: int, *, lease: float = LEASE_SECONDS, attempts: int = ATTEMPTS
    ) -> Mail | None:
        """:meth:`take` without the attempt's number."""
        taken = self.take(mail_id, lease=lease, attempts=attempts)
        return None if taken is None else taken[0]

    def take(
        self, mail_id: int, *, lease: float = LEASE_SECONDS, attempts: int = ATTEMPTS
    ) -> tuple[Mail, int] | None:
        """Take the mail for one SMTP conversation, atomically: the one outbox that
        gets it, for ``lease`` seconds; answers it and the number of the attempt, which
        :meth:`retry` and :meth:`mark` are given back so that they change the mail only
        while the claim is still this one. A mail ``queued`` and due, or ``sending``
        under a lapsed lease, becomes ``sending``, its attempts counted; one whose
        lapsed lease was its ``attempts``-th is ``failed`` instead (an outbox that died
        on it that often would die again). None when another outbox holds it, it waits
        for a retry, or is settled, failed or unknown."""
        now = self.wall.now().timestamp()
        given = {"of_sandbox": self.sandbox, "mail_id": mail_id, "now": now, "spent_at": attempts}
        with writing(self.engine) as c:
            r = c.execute(self._TAKE, {**given, "until": now + lease}).first()
            if r is None:
                c.execute(self._GIVE_UP, given)
                return None
        mail = Mail(sender=r.sender, to=r.recipient, subject=r.subject, body=r.body)
        return mail, int(r.attempts)

    def retry(self, mail_id: int, attempt: int, wait: float | None) -> bool:
        """After the ``attempt``-th conversation did not deliver the mail: ``queued``
        again, due in ``wait`` seconds, or ``failed`` when ``wait`` is None (given up).
        False when the claim is no longer that attempt's (renkei's sink took the mail
        after all, another outbox took it over, or the sandbox was deleted)."""
        due = None if wait is None else self.wall.now().timestamp() + wait
        given = {
            "of_sandbox": self.sandbox,
            "mail_id": mail_id,
            "attempt_no": attempt,
            "new_status": "failed" if wait is None else "queued",
            "new_due": due,
        }
        with writing(self.engine) as c:
            return bool(c.execute(self._RETRY, given).rowcount)

    def mark(
        self,
        mail_id: int,
        status: str,
        was: tuple[str, ...] = ("sending",),
        *,
        attempt: int | None = None,
    ) -> bool:
        """Set the status of a mail that is in one of ``was``; given ``attempt``, of one
        still ``sending`` under that attempt's claim instead."""
        given: dict[str, Any] = {
            "of_sandbox": self.sandbox,
            "mail_id": mail_id,
            "new_status": status,
        }
        with writing(self.engine) as c:
            if attempt is None:
                done = c.execute(self._MARK, {**given, "was": list(was)}).rowcount
            else:
                done = c.execute(self._MARK_CLAIMED, {**given, "attempt_no": attempt}).rowcount
        return bool(done)

    def queued(self) -> list[int]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(mails.c.id).where(self.mine, mails.c.status == "queued")
            ).scalars()
            return [int(r) for r in rows]

    def due(self) -> list[int]:
        """The mail an outbox may :meth:`take` now, oldest first."""
        given = {"of_sandbox": self.sandbox, "now": self.wall.now().timestamp()}
        with self.engine.connect() as c:
            return [int(r) for r in c.execute(self._DUE_IDS, given).scalars()]

    @classmethod
    def due_everywhere(cls, engine: Engine, wall: Clock) -> list[tuple[str, int]]:
        """The sandbox and id of every mail on ``engine`` that an outbox may take now,
        whichever sandbox's: the outbox's periodic look, one query however many
        sandboxes it serves (it takes up those of the Services it has)."""
        given = {"now": wall.now().timestamp()}
        with engine.connect() as c:
            return [(str(r.sandbox), int(r.id)) for r in c.execute(cls._DUE_ANYWHERE, given)]

    def unsettled(self) -> int:
        """Mails not yet through their SMTP conversation: ``sending``, or ``queued`` and
        due (not those waiting for a retry, which come later than anyone waits)."""
        given = {"of_sandbox": self.sandbox, "now": self.wall.now().timestamp()}
        with self.engine.connect() as c:
            return int(c.execute(self._UNSETTLED, given).scalar_one())

    def attempts(self, mail_id: int) -> int:
        """The SMTP conversations begun for the mail (0 for one unknown)."""
        query = select(mails.c.attempts).where(self.mine, mails.c.id == mail_id)
        with self.engine.connect() as c:
            return int(c.execute(query).scalar() or 0)

    def sent(self) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            rows = c.execute(select(mails).where(self.mine).order_by(mails.c.id)).all()
        return [
            {
                "id": r.id,
                "at": r.at,
                "from": r.sender,
                "to": r.recipient,
                "subject": r.subject,
                "body": r.body,
                "status": r.status,
            }
            for r in rows
        ]

    def clear(self) -> None:
        with writing(self.engine) as c:
            c.execute(delete(mails).where(self.mine))


class SqlCalls:
    """The call ids one sandbox's telephony gateway has seen (INTERFACE.md §4,
    renkei's ``call_id``): a call reported to one sandbox is new to every other."""

    def __init__(self, engine: Engine, *, sandbox: str = ROOT, wall: Clock | None = None) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.wall = wall or SystemClock()

    def first_report(self, call_id: str, at: dt.datetime) -> bool:
        """Record ``call_id``; False when it was reported before (one atomic insert,
        so two copies of one report racing cannot both be first).

        The row inserted is asked back (RETURNING) rather than counted: SQLAlchemy
        does not keep an INSERT's rowcount on psycopg (it answered -1, so a replayed
        report passed for a first one on PostgreSQL)."""
        statement = (
            upsert(self.engine, calls)
            .values(
                sandbox=self.sandbox,
                call_id=call_id,
                at=at.isoformat(),
                wall=self.wall.now().timestamp(),
            )
            .on_conflict_do_nothing(index_elements=["sandbox", "call_id"])  # type: ignore[attr-defined]
            .returning(calls.c.call_id)
        )
        with writing(self.engine) as c:
            return c.execute(statement).first() is not None
