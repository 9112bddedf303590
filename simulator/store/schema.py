"""Tables. Times are stored as ISO-8601 text with their offset, so SQLite and
PostgreSQL round-trip aware datetimes the same way; dates as ISO text too.

Every table is keyed by its sandbox first (INTERFACE.md §9: isolated worlds on
one server): the column ``sandbox`` leads every primary key and every index a
lookup uses, so one sandbox's rows are never read, changed or counted by another's
store objects, and deleting a sandbox is one ``DELETE … WHERE sandbox = ?`` per
table. The two tables with an autoincrement id (``oplog``, ``mails``) keep that id
as their key, with an index on (sandbox, id).

The rows a sandbox accumulates (flows, codes, grants with their tokens, calls, the
operation log, mails) also carry a wall-clock moment, in seconds since the epoch
(``wall``; a grant's ``wall_ends``), by which the retention purge
(simulator.store.retention) finds them across every sandbox: the sandbox clock,
which a tester moves by days or years, says nothing of how long a row has been
kept. Those indexes alone do not lead with ``sandbox`` (:func:`purge_index`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

#: The default sandbox, served at ``/`` (INTERFACE.md §9). It has no row in
#: ``sandboxes``: it always exists. Other ids are ``secrets.token_hex(8)``.
ROOT = "root"
#: Between a sandbox's id and a bank's code in the key of that bank's rows.
BANK_SEPARATOR = "."


def bank_world(sandbox: str, code: str) -> str:
    """The ``sandbox`` key of the rows of bank ``code`` of a sandbox (INTERFACE.md §10),
    for every bank but the first, whose rows are the sandbox's own (so a one-bank
    scenario is stored exactly as before banks). ``ID.CODE`` sorts between ``ID.``
    and ``ID/`` ('.' comes just before '/'), which :func:`of_sandbox` asks for."""
    return f"{sandbox}{BANK_SEPARATOR}{code}"


def of_sandbox(column: Any, sandbox: str) -> Any:
    """The rows of a sandbox and of all its banks: its own key, and the range of the
    keys :func:`bank_world` makes — a range, so the indexes that the key leads serve it."""
    return (column == sandbox) | ((column > sandbox + BANK_SEPARATOR) & (column < sandbox + "/"))


metadata = MetaData()


def purge_index(name: str, *columns: Any) -> Index:
    """An index of the retention purge, which reads every sandbox's rows by their wall
    moment at once: the one kind of index that does not lead with ``sandbox``."""
    return Index(name, *columns, info={"purge": True})


def _wall() -> Column[float]:
    """When the row was written (or a flow last saved), in wall-clock seconds since
    the epoch; NULL in a row of an older renkei until the purge stamps it."""
    return Column("wall", Float)


#: SQLite keeps a table with a composite key twice over (the rows by rowid, and the
#: key's index); WITHOUT ROWID keeps it once, in key order. For the small rows of
#: these tables that is what one sandbox costs: measured with the default scenario's
#: 3 340 host rows, 391 KB per sandbox instead of 570 KB, and loading 15 % faster.
#: Not for ``flows`` (large JSON records), the tables keyed by an integer id, nor
#: ``grants``, whose listing of grants made at one instant keeps their order of making.
WITHOUT_ROWID: dict[str, Any] = {"sqlite_with_rowid": False}


def _sandbox(*, key: bool = True) -> Column[str]:
    """The sandbox a row belongs to; rows written without one are the root's."""
    return Column(
        "sandbox",
        String(32),
        primary_key=key,
        nullable=False,
        default=ROOT,
        server_default=ROOT,
    )


customers = Table(
    "customers",
    metadata,
    _sandbox(),
    Column("customer_id", String(64), primary_key=True),
    Column("name_kana", String(96), nullable=False),
    Column("name_kanji", String(96), nullable=False, default=""),
    Column("birth_date", String(10), nullable=False),
    Column("phone", String(11), nullable=False),
    **WITHOUT_ROWID,
)

accounts = Table(
    "accounts",
    metadata,
    _sandbox(),
    Column("account_key", String(20), primary_key=True),  # 115-1-1100026
    Column("customer_id", String(64), nullable=False),
    Column("opened_on", String(10), nullable=False),
    Column("status", String(8), nullable=False),
    Column("moved_to", String(20)),
    Column("balance", Integer, nullable=False, default=0),
    Column("card_id", String(64)),
    Column("card_issued_on", String(10)),
    Column("pin_hash", String(64)),
    **WITHOUT_ROWID,
)
Index("accounts_customer", accounts.c.sandbox, accounts.c.customer_id)

transactions = Table(
    "transactions",
    metadata,
    _sandbox(),
    Column("account_key", String(20), primary_key=True),
    Column("item_key", String(32), primary_key=True),
    Column("date", String(10), nullable=False),
    Column("value_date", String(10), nullable=False),
    Column("kind", String(1), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("remarks", String(64), nullable=False),
    Column("balance", Integer, nullable=False),
    **WITHOUT_ROWID,
)

# R-ERR-HOST-2/3: identity failures per account per JST day; one row, counted
# by an atomic upsert so that concurrent processes never lose a failure.
failures = Table(
    "failures",
    metadata,
    _sandbox(),
    Column("account_key", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("failed", Integer, nullable=False),
    **WITHOUT_ROWID,
)

flows = Table(
    "flows",
    metadata,
    _sandbox(),
    Column("flow_id", String(64), primary_key=True),
    Column("record", JSON, nullable=False),
    Column("oauth_params", JSON, nullable=False),
    Column("finished", Boolean, nullable=False, default=False),
    Column("touched_at", String(40), nullable=False),
    # The telephony gateway finds the flows waiting on ④ by the calling number.
    Column("waiting_phone", String(11)),
    # Bumped by every save: a save from a stale copy is refused (SqlFlows.save).
    Column("revision", Integer, nullable=False, default=1, server_default="1"),
    _wall(),
    # The last instant the flow holds its host slot (SlotRule.freed_at, ISO text);
    # NULL once it has ended, and in a row of an older renkei until its next save.
    Column("slot_until", String(40)),
    # The partner app of a flow no screen of which was posted yet (an early flow,
    # whose app's share of the slots is capped); NULL for any other.
    Column("early_client", String(64)),
)
Index("flows_waiting", flows.c.sandbox, flows.c.waiting_phone)
purge_index("flows_purge", flows.c.wall)
# The congestion count and its first freed slot (SqlFlows.occupancy) of one
# sandbox: a range of the flows holding a slot, however many have lapsed.
Index("flows_holding", flows.c.sandbox, flows.c.slot_until)

# The carrier's id of each inbound call seen by the gateway: a report sent twice
# (a replayed request) is recognised and verifies nothing.
calls = Table(
    "calls",
    metadata,
    _sandbox(),
    Column("call_id", String(64), primary_key=True),
    Column("at", String(40), nullable=False),
    _wall(),
    **WITHOUT_ROWID,
)
purge_index("calls_purge", calls.c.wall)

oplog = Table(
    "oplog",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _sandbox(key=False),
    Column("at", String(40), nullable=False),
    Column("flow_id", String(64)),
    Column("kind", String(40), nullable=False),
    Column("detail", JSON, nullable=False),
    _wall(),
)
Index("oplog_sandbox", oplog.c.sandbox, oplog.c.id)
purge_index("oplog_purge", oplog.c.wall)

settings = Table(
    "settings",
    metadata,
    _sandbox(),
    Column("name", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
    **WITHOUT_ROWID,
)

mails = Table(
    "mails",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _sandbox(key=False),
    Column("at", String(40), nullable=False),
    Column("sender", String(254), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    # The outbox's bookkeeping (simulator.web.mail), in wall-clock seconds since the
    # epoch rather than the sandbox clock, which a tester moves by days: the SMTP
    # conversations begun so far, when a ``queued`` mail may be tried again, and
    # until when a ``sending`` one is held by the outbox that claimed it.
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("due", Float),
    Column("lease", Float),
    _wall(),
)
Index("mails_sandbox", mails.c.sandbox, mails.c.id)
purge_index("mails_purge", mails.c.wall)

# R-AUTHZ-1/3/4: the link made by 「許可する」.
grants = Table(
    "grants",
    metadata,
    _sandbox(),
    Column("grant_id", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("account_key", String(20), nullable=False),
    Column("scopes", String(128), nullable=False),
    Column("granted_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("revoked_by", String(8)),
    Column("uninstalled_at", String(40)),
    # When the grant ends at the latest, in wall-clock seconds: its 認可期間 from the
    # wall moment it was made, or the moment it was revoked (SqlGrants).
    Column("wall_ends", Float),
)
Index("grants_account", grants.c.sandbox, grants.c.account_key)
purge_index("grants_purge", grants.c.wall_ends)

# OAuth 2.0 codes and tokens, stored only as SHA-256 hashes.
codes = Table(
    "codes",
    metadata,
    _sandbox(),
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
    _wall(),
    **WITHOUT_ROWID,
)
purge_index("codes_purge", codes.c.wall)

tokens = Table(
    "tokens",
    metadata,
    _sandbox(),
    Column("access_hash", String(64), primary_key=True),
    Column("refresh_hash", String(64)),
    Column("grant_id", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("scope", String(128), nullable=False),
    Column("issued_at", String(40), nullable=False),
    Column("access_expires_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    **WITHOUT_ROWID,
)
Index("tokens_refresh", tokens.c.sandbox, tokens.c.refresh_hash, unique=True)
Index("tokens_grant", tokens.c.sandbox, tokens.c.grant_id)

# The sandboxes other than the root (INTERFACE.md §9), one row each; the column
# is named ``sandbox`` like everywhere else, so that deleting a sandbox deletes
# its record with the same statement as its data. Only hashes of its secrets.
sandboxes = Table(
    "sandboxes",
    metadata,
    Column("sandbox", String(32), primary_key=True),
    Column("label", Text, nullable=False, default=""),
    Column("scenario", String(64), nullable=False),  # a shipped name, or "inline"
    Column("scenario_yaml", Text),  # the YAML sent, for an inline scenario only
    Column("admin_token_hash", String(64), nullable=False),
    Column("telephony_secret_hash", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)
Index("sandboxes_expiry", sandboxes.c.expires_at)

# The server's own bookkeeping, no sandbox's: when a process last claimed the
# retention purge (simulator.store.retention.claim), so that of several server
# processes on one database one purges in each interval.
purges = Table(
    "purges",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("at", Float, nullable=False),
)

#: The tables of a sandbox's world (every table but ``sandboxes`` and ``purges``).
WORLD = tuple(t for t in metadata.sorted_tables if t is not sandboxes and t is not purges)
