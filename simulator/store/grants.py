"""Grants in SQL (R-AUTHZ-1/3/4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

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

    def __init__(self, engine: Engine, *, sandbox: str = ROOT) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.mine = grants.c.sandbox == sandbox

    def add(self, grant: Grant) -> None:
        with writing(self.engine) as c:
            c.execute(insert(grants), {"sandbox": self.sandbox, **_values(grant)})

    def save(self, grant: Grant) -> None:
        with writing(self.engine) as c:
            c.execute(
                update(grants).where(self.mine, grants.c.grant_id == grant.grant_id),
                _values(grant),
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
