"""OAuth 2.0 codes and tokens in SQL, kept only as SHA-256 hashes.

A code is burnt by the first attempt to use it, whatever that attempt's fate
(a failed ``code_verifier`` included), by one conditional UPDATE, so two
concurrent exchanges cannot both succeed; a later use is a replay and revokes
every token of the grant the code issued (RFC 6749 §4.1.2, RFC 9700 §4.5).

A row holds one access token and the refresh token issued with it. Its
``revoked_at`` ends both: set when the refresh token is rotated out (by one
conditional UPDATE, so of two refreshes with one token only one rotates it) or
when the grant ends. Revoking the access token alone (RFC 7009) forgets it
instead, so that the refresh token issued with it goes on working.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, delete, insert, or_, select, update

from simulator.core.clock import Clock, SystemClock
from simulator.store.database import writing
from simulator.store.schema import ROOT, codes, tokens

#: The start of an access hash whose token was revoked alone: no SHA-256 digest in
#: hexadecimal begins so, and the value keeps the column's 64 characters.
REVOKED_ACCESS = "revoked-"


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


#: Which of a row's two secrets a token string is (RFC 7009 §2.1, RFC 7662 §2.1).
TokenKind = Literal["access_token", "refresh_token"]


@dataclass(frozen=True)
class FoundToken:
    """A token string looked up: the row it belongs to, and which of its secrets it is."""

    stored: StoredToken
    kind: TokenKind


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

    def __init__(self, engine: Engine, *, sandbox: str = ROOT, wall: Clock | None = None) -> None:
        """``wall``: the real time a code's row is stamped with (the retention purge's)."""
        self.engine = engine
        self.sandbox = sandbox
        self.wall = wall or SystemClock()
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
                    "wall": self.wall.now().timestamp(),
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

    def lookup(self, secret: str) -> FoundToken | None:
        """The row whose access or refresh token is ``secret``, and which of the two
        it is. One indexed query looks at both at once, so a ``token_type_hint``,
        which may only speed the search (RFC 7009 §2.1, RFC 7662 §2.1), has nothing
        to speed here: no caller passes one."""
        hashed = digest(secret)
        with self.engine.connect() as c:
            row = c.execute(
                select(tokens).where(
                    self.my_tokens,
                    or_(tokens.c.access_hash == hashed, tokens.c.refresh_hash == hashed),
                )
            ).first()
        if row is None:
            return None
        return FoundToken(
            _token(row), "access_token" if row.access_hash == hashed else "refresh_token"
        )

    def find(self, secret: str) -> StoredToken | None:
        """The row whose access or refresh token is ``secret`` (see :meth:`lookup`)."""
        found = self.lookup(secret)
        return found.stored if found else None

    def by_refresh(self, secret: str) -> StoredToken | None:
        """The row whose refresh token is ``secret``; None for an access token."""
        found = self.lookup(secret)
        return found.stored if found and found.kind == "refresh_token" else None

    def by_access(self, secret: str) -> StoredToken | None:
        """The row whose access token is ``secret``; None for a refresh token."""
        found = self.lookup(secret)
        return found.stored if found and found.kind == "access_token" else None

    def revoke(self, access_hash: str, now: dt.datetime) -> bool:
        """End the row, its access and its refresh token (a refresh token rotated out,
        RFC 6749 §6); answers whether this call ended it (False: it was already)."""
        with writing(self.engine) as c:
            ended: int = c.execute(
                update(tokens)
                .where(
                    self.my_tokens,
                    tokens.c.access_hash == access_hash,
                    tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now.isoformat())
            ).rowcount
        return ended == 1

    def revoke_access(self, access_hash: str) -> None:
        """RFC 7009 for an access token: it is unknown from now on; the refresh token
        issued with it is not. In its place the row keeps a value no token string
        digests to (it is not hexadecimal), so that no clock set back revives it."""
        with writing(self.engine) as c:
            c.execute(
                update(tokens)
                .where(self.my_tokens, tokens.c.access_hash == access_hash)
                .values(access_hash=REVOKED_ACCESS + digest(access_hash)[len(REVOKED_ACCESS) :])
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
