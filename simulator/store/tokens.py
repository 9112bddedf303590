"""OAuth 2.0 codes and tokens in SQL, kept only as SHA-256 hashes.

A code is burnt by the first attempt to use it, whatever that attempt's fate
(a failed ``code_verifier`` included), by one conditional UPDATE, so two
concurrent exchanges cannot both succeed; a later use is a replay and revokes
every token of the grant the code issued (RFC 6749 §4.1.2, RFC 9700 §4.5).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, or_, select, update

from simulator.store.database import writing
from simulator.store.schema import ROOT, codes, tokens


def digest(secret: str) -> str:
    """What is stored instead of a code or token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _instant(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class StoredCode:
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None = None


@dataclass(frozen=True)
class StoredToken:
    access_hash: str
    refresh_hash: str | None
    grant_id: str
    client_id: str
    scope: str
    issued_at: dt.datetime
    access_expires_at: dt.datetime
    revoked_at: dt.datetime | None = None


def _code(row: Any) -> StoredCode:
    return StoredCode(
        row.code_hash, row.grant_id, row.client_id, row.redirect_uri, row.scope,
        row.code_challenge, row.code_challenge_method,
        dt.datetime.fromisoformat(row.issued_at), dt.datetime.fromisoformat(row.expires_at),
        _instant(row.used_at),
    )  # fmt: skip


def _token(row: Any) -> StoredToken:
    return StoredToken(
        row.access_hash, row.refresh_hash, row.grant_id, row.client_id, row.scope,
        dt.datetime.fromisoformat(row.issued_at), dt.datetime.fromisoformat(row.access_expires_at),
        _instant(row.revoked_at),
    )  # fmt: skip


class SqlTokens:
    """The codes and tokens of one sandbox: another sandbox's are, to it, as if they
    did not exist, so a token of one is refused by every other (INTERFACE.md §9)."""

    def __init__(self, engine: Engine, *, sandbox: str = ROOT) -> None:
        self.engine = engine
        self.sandbox = sandbox
        self.my_codes = codes.c.sandbox == sandbox
        self.my_tokens = tokens.c.sandbox == sandbox

    # -- codes ---------------------------------------------------------------------------

    def add_code(self, code: StoredCode) -> None:
        with writing(self.engine) as c:
            c.execute(
                insert(codes),
                {
                    "sandbox": self.sandbox, "code_hash": code.code_hash, "grant_id": code.grant_id,
                    "client_id": code.client_id, "redirect_uri": code.redirect_uri,
                    "scope": code.scope, "code_challenge": code.code_challenge,
                    "code_challenge_method": code.code_challenge_method,
                    "issued_at": code.issued_at.isoformat(),
                    "expires_at": code.expires_at.isoformat(), "used_at": None,
                },
            )  # fmt: skip

    def take_code(self, code_hash: str, now: dt.datetime) -> tuple[StoredCode | None, bool]:
        """Burn the code; answer it if this was its first use, and whether it was a replay."""
        with writing(self.engine) as c:
            burnt = c.execute(
                update(codes)
                .where(self.my_codes, codes.c.code_hash == code_hash, codes.c.used_at.is_(None))
                .values(used_at=now.isoformat())
            ).rowcount
            row = c.execute(
                select(codes).where(self.my_codes, codes.c.code_hash == code_hash)
            ).first()
        if row is None:
            return None, False
        return (_code(row), False) if burnt == 1 else (None, True)

    def grant_of_code(self, code_hash: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(
                select(codes.c.grant_id).where(self.my_codes, codes.c.code_hash == code_hash)
            ).scalar()

    # -- tokens ----------------------------------------------------------------------------

    def add_token(self, token: StoredToken) -> None:
        with writing(self.engine) as c:
            c.execute(
                insert(tokens),
                {
                    "sandbox": self.sandbox, "access_hash": token.access_hash,
                    "refresh_hash": token.refresh_hash,
                    "grant_id": token.grant_id, "client_id": token.client_id,
                    "scope": token.scope, "issued_at": token.issued_at.isoformat(),
                    "access_expires_at": token.access_expires_at.isoformat(),
                    "revoked_at": None,
                },
            )  # fmt: skip

    def find(self, secret: str, hint: str | None = None) -> StoredToken | None:
        """The token whose access or refresh token is ``secret`` (RFC 7009/7662 hints)."""
        hashed = digest(secret)
        if hint == "access_token":
            where = tokens.c.access_hash == hashed
        elif hint == "refresh_token":
            where = tokens.c.refresh_hash == hashed
        else:
            where = or_(tokens.c.access_hash == hashed, tokens.c.refresh_hash == hashed)
        with self.engine.connect() as c:
            row = c.execute(select(tokens).where(self.my_tokens, where)).first()
        return _token(row) if row else None

    def by_refresh(self, secret: str) -> StoredToken | None:
        return self.find(secret, "refresh_token")

    def by_access(self, secret: str) -> StoredToken | None:
        return self.find(secret, "access_token")

    def revoke(self, access_hash: str, now: dt.datetime) -> None:
        with writing(self.engine) as c:
            c.execute(
                update(tokens)
                .where(
                    self.my_tokens,
                    tokens.c.access_hash == access_hash,
                    tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now.isoformat())
            )

    def revoke_grant(self, grant_id: str, now: dt.datetime) -> int:
        """Revoke every token of a grant; answers how many were live."""
        with writing(self.engine) as c:
            return c.execute(
                update(tokens)
                .where(self.my_tokens, tokens.c.grant_id == grant_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now.isoformat())
            ).rowcount

    def clear(self) -> None:
        with writing(self.engine) as c:
            c.execute(delete(tokens).where(self.my_tokens))
            c.execute(delete(codes).where(self.my_codes))
