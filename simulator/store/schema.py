"""Tables. Times are stored as ISO-8601 text with their offset, so SQLite and
PostgreSQL round-trip aware datetimes the same way; dates as ISO text too."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("name_kana", String(96), nullable=False),
    Column("name_kanji", String(96), nullable=False, default=""),
    Column("birth_date", String(10), nullable=False),
    Column("phone", String(11), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_key", String(20), primary_key=True),  # 115-1-1100026
    Column("customer_id", String(64), nullable=False, index=True),
    Column("opened_on", String(10), nullable=False),
    Column("status", String(8), nullable=False),
    Column("moved_to", String(20)),
    Column("balance", Integer, nullable=False, default=0),
    Column("card_id", String(64)),
    Column("card_issued_on", String(10)),
    Column("pin_hash", String(64)),
)

transactions = Table(
    "transactions",
    metadata,
    Column("account_key", String(20), primary_key=True),
    Column("item_key", String(32), primary_key=True),
    Column("date", String(10), nullable=False),
    Column("value_date", String(10), nullable=False),
    Column("kind", String(1), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("remarks", String(64), nullable=False),
    Column("balance", Integer, nullable=False),
)

# R-ERR-HOST-2/3: identity failures per account per JST day; one row, counted
# by an atomic upsert so that concurrent processes never lose a failure.
failures = Table(
    "failures",
    metadata,
    Column("account_key", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("failed", Integer, nullable=False),
)

flows = Table(
    "flows",
    metadata,
    Column("flow_id", String(64), primary_key=True),
    Column("record", JSON, nullable=False),
    Column("oauth_params", JSON, nullable=False),
    Column("finished", Boolean, nullable=False, default=False),
    Column("touched_at", String(40), nullable=False),
    # The telephony gateway finds the flows waiting on ④ by the calling number.
    Column("waiting_phone", String(11)),
    # Bumped by every save: a save from a stale copy is refused (SqlFlows.save).
    Column("revision", Integer, nullable=False, default=1, server_default="1"),
)
Index("flows_waiting", flows.c.waiting_phone)
Index("flows_open", flows.c.finished, flows.c.touched_at)

# The carrier's id of each inbound call seen by the gateway: a report sent twice
# (a replayed request) is recognised and verifies nothing.
calls = Table(
    "calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("at", String(40), nullable=False),
)

oplog = Table(
    "oplog",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("flow_id", String(64)),
    Column("kind", String(40), nullable=False),
    Column("detail", JSON, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
)

mails = Table(
    "mails",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("sender", String(254), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
)

# R-AUTHZ-1/3/4: the link made by 「許可する」.
grants = Table(
    "grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("account_key", String(20), nullable=False, index=True),
    Column("scopes", String(128), nullable=False),
    Column("granted_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("revoked_by", String(8)),
    Column("uninstalled_at", String(40)),
)

# OAuth 2.0 codes and tokens, stored only as SHA-256 hashes.
codes = Table(
    "codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("grant_id", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", String(128), nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("code_challenge_method", String(8), nullable=False),
    Column("issued_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("used_at", String(40)),
)

tokens = Table(
    "tokens",
    metadata,
    Column("access_hash", String(64), primary_key=True),
    Column("refresh_hash", String(64), unique=True),
    Column("grant_id", String(64), nullable=False, index=True),
    Column("client_id", String(64), nullable=False),
    Column("scope", String(128), nullable=False),
    Column("issued_at", String(40), nullable=False),
    Column("access_expires_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)
