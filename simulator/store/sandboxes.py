"""The sandboxes other than the root, in SQL (INTERFACE.md §9: isolated worlds on one
server): their records, and the removal of one with everything it holds.

A record keeps only SHA-256 hashes of the sandbox's admin token and telephony
secret, as the tokens of OAuth are kept (simulator.store.tokens). The root sandbox
(``ROOT``, served at ``/``) has no record: it always exists, and is never deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, select

from simulator.store.database import writing
from simulator.store.schema import ROOT, WORLD, flows, grants, mails, of_sandbox, sandboxes

__all__ = ["ROOT", "SandboxRecord", "SqlSandboxes"]


@dataclass(frozen=True)
class SandboxRecord:
    """One sandbox: ``scenario`` is a shipped scenario's name or ``"inline"``, whose
    YAML is then ``scenario_yaml``; the two hashes are sha256 hex of its secrets."""

    id: str
    label: str
    scenario: str
    scenario_yaml: str | None
    admin_token_hash: str
    telephony_secret_hash: str
    created_at: dt.datetime
    expires_at: dt.datetime


def _instant(moment: dt.datetime) -> str:
    """UTC, always with microseconds: one fixed width, so that the text sorts as time
    does and ``expired`` compares in SQL. A naive time is refused (whose zone?)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a sandbox's times carry their offset, not {moment.isoformat()}")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _record(row: Any) -> SandboxRecord:
    return SandboxRecord(
        id=row.sandbox,
        label=row.label,
        scenario=row.scenario,
        scenario_yaml=row.scenario_yaml,
        admin_token_hash=row.admin_token_hash,
        telephony_secret_hash=row.telephony_secret_hash,
        created_at=dt.datetime.fromisoformat(row.created_at),
        expires_at=dt.datetime.fromisoformat(row.expires_at),
    )


# Asked on every request under /s/ID/ (does the sandbox still exist?): built once.
GET = select(sandboxes).where(sandboxes.c.sandbox == bindparam("id"))
EXISTS = select(sandboxes.c.sandbox).where(sandboxes.c.sandbox == bindparam("id"))


class SqlSandboxes:
    """The records of the sandboxes, and their deletion with all their rows."""

    def __init__(self, db: Engine) -> None:
        self.engine = db

    def create(self, record: SandboxRecord) -> None:
        """Add ``record``; an id already taken (or the root's) is a ValueError."""
        if record.id == ROOT:
            raise ValueError("the root sandbox always exists and has no record")
        if self.exists(record.id):
            raise ValueError(f"a sandbox {record.id} exists already")
        with writing(self.engine) as c:
            c.execute(
                insert(sandboxes),
                {
                    "sandbox": record.id,
                    "label": record.label,
                    "scenario": record.scenario,
                    "scenario_yaml": record.scenario_yaml,
                    "admin_token_hash": record.admin_token_hash,
                    "telephony_secret_hash": record.telephony_secret_hash,
                    "created_at": _instant(record.created_at),
                    "expires_at": _instant(record.expires_at),
                },
            )

    def get(self, sandbox_id: str) -> SandboxRecord | None:
        with self.engine.connect() as c:
            row = c.execute(GET, {"id": sandbox_id}).first()
        return _record(row) if row else None

    def exists(self, sandbox_id: str) -> bool:
        """Whether ``sandbox_id`` has a record (the root has none): one indexed read."""
        with self.engine.connect() as c:
            return c.execute(EXISTS, {"id": sandbox_id}).first() is not None

    def all(self) -> list[SandboxRecord]:
        """Every record, oldest first."""
        query = select(sandboxes).order_by(sandboxes.c.created_at, sandboxes.c.sandbox)
        with self.engine.connect() as c:
            return [_record(r) for r in c.execute(query)]

    def count(self) -> int:
        """How many sandboxes there are besides the root."""
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(sandboxes)).scalar_one())

    def delete(self, sandbox_id: str) -> bool:
        """Remove the record and every row of every table that belongs to the sandbox,
        in one transaction (its tokens, codes, flows and cookies then answer as
        unknown: §9); False, and nothing removed, when there is no such sandbox."""
        with writing(self.engine) as c:
            gone = c.execute(delete(sandboxes).where(sandboxes.c.sandbox == sandbox_id)).rowcount
            if not gone:
                return False
            for table in WORLD:  # its banks' rows too (INTERFACE.md §10)
                c.execute(delete(table).where(of_sandbox(table.c.sandbox, sandbox_id)))
        return True

    def expired(self, now: dt.datetime) -> list[str]:
        """The ids of the sandboxes whose time is up at ``now``, oldest expiry first."""
        query = (
            select(sandboxes.c.sandbox)
            .where(sandboxes.c.expires_at <= _instant(now))
            .order_by(sandboxes.c.expires_at, sandboxes.c.sandbox)
        )
        with self.engine.connect() as c:
            return [str(s) for s in c.execute(query).scalars()]

    def counts(self, sandbox_id: str) -> dict[str, int]:
        """What §9's listing shows of a sandbox: its flows, grants and mails, all its
        banks' together."""
        counted = {"flows": flows, "grants": grants, "mails": mails}
        with self.engine.connect() as c:
            return {
                name: int(
                    c.execute(
                        select(func.count())
                        .select_from(table)
                        .where(of_sandbox(table.c.sandbox, sandbox_id))
                    ).scalar_one()
                )
                for name, table in counted.items()
            }
