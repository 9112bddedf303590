"""Grants in SQL (R-AUTHZ-1/3/4).

Each row also keeps ``wall_ends``, the wall-clock moment (seconds since the epoch)
by which the grant has ended at the latest, at the sandbox clock's normal pace: its
認可期間 counted from the real moment it was made, or the real moment it was
revoked. The retention purge (simulator.store.retention) removes a grant, and its
tokens with it, a retention after that; an uninstall, which only brings the end
nearer, leaves it as it was.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, case, delete, insert, select, update

from simulator.core.clock import Clock, SystemClock
from simulator.core.grants import Grant
from simulator.core.host import AccountKey
from simulator.store.database import writing
from simulator.store.schema import ROOT, grants


def _instant(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _grant(row: Any) -> Grant:
    granted, expires = _instant(row.granted_at), _instant(row.expires_at)
    assert granted is not None and expires is not None
    return Grant(
        grant_id=row.grant_id,
        client_id=row.client_id,
        account=AccountKey.parse(row.account_key),
        scopes=tuple(row.scopes.split()),
        granted_at=granted,
        expires_at=expires,
        revoked_at=_instant(row.revoked_at),
        revoked_by=row.revoked_by,
        uninstalled_at=_instant(row.uninstalled_at),
    )


def _values(grant: Grant) -> dict[str, Any]:
    def text(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "grant_id": grant.grant_id,
        "client_id": grant.client_id,
        "account_key": str(grant.account),
        "scopes": " ".join(grant.scopes),
        "granted_at": text(grant.granted_at),
        "expires_at": text(grant.expires_at),
        "revoked_at": text(grant.revoked_at),
        "revoked_by": grant.revoked_by,
        "uninstalled_at": text(grant.uninstalled_at),
    }


class SqlGrants:
    """The grants of one sandbox; another sandbox's are, to it, as if they did not exist."""

    def __init__(self, engine: Engine, *, sandbox: str = ROOT, wall: Clock | None = None) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.mine = grants.c.sandbox == sandbox
        self.wall = wall or SystemClock()

    def add(self, grant: Grant) -> None:
        life = (grant.expires_at - grant.granted_at).total_seconds()
        ends = self.wall.now().timestamp() + life
        if grant.revoked_at is not None:
            ends = self.wall.now().timestamp()
        with writing(self.engine) as c:
            c.execute(
                insert(grants), {"sandbox": self.sandbox, "wall_ends": ends, **_values(grant)}
            )

    def save(self, grant: Grant) -> None:
        """Write ``grant`` back; a revoked one has ended now, in real time as well."""
        values: dict[str, Any] = _values(grant)
        if grant.revoked_at is not None:
            now = self.wall.now().timestamp()
            values["wall_ends"] = case(
                (grants.c.wall_ends.is_(None) | (grants.c.wall_ends > now), now),
                else_=grants.c.wall_ends,
            )
        with writing(self.engine) as c:
            c.execute(
                update(grants).where(self.mine, grants.c.grant_id == grant.grant_id).values(values)
            )

    def get(self, grant_id: str) -> Grant | None:
        with self.engine.connect() as c:
            row = c.execute(select(grants).where(self.mine, grants.c.grant_id == grant_id)).first()
        return _grant(row) if row else None

    def all(self) -> list[Grant]:
        with self.engine.connect() as c:
            rows = c.execute(select(grants).where(self.mine).order_by(grants.c.granted_at)).all()
        return [_grant(r) for r in rows]

    def clear(self) -> None:
        with writing(self.engine) as c:
            c.execute(delete(grants).where(self.mine))
