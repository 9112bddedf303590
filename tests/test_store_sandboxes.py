"""The store keyed by sandbox (INTERFACE.md §9): two sandboxes on one database do not
see each other's rows, a sandbox is deleted with every row it holds and nothing of
another's, and a database made before sandboxes keeps its data in the root.

On SQLite and, when scripts/test started it, PostgreSQL (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import MANUAL, MOVED_TO, OPEN_INSTANT, OTHER, walk_to
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
)

from simulator.core.flow import ConnectFlow, Event, FlowState
from simulator.core.grants import Grant
from simulator.core.host import AccountKey, AccountStatus
from simulator.core.mail import Mail
from simulator.core.memory import MemoryHost
from simulator.core.screens import Screen
from simulator.store import database
from simulator.store.database import open_database
from simulator.store.grants import SqlGrants
from simulator.store.host import SqlHost
from simulator.store.sandboxes import ROOT, SandboxRecord, SqlSandboxes
from simulator.store.schema import WORLD, metadata, purges, sandboxes
from simulator.store.state import SqlCalls, SqlFlows, SqlLog, SqlMailbox, SqlSettings, StaleFlow
from simulator.store.tokens import SqlTokens, StoredCode, StoredToken, digest

DAY = OPEN_INSTANT.date()
A, B = "0123456789abcdef", "fedcba9876543210"
NOW = OPEN_INSTANT


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    opened = open_database(database_url)
    yield opened
    opened.dispose()


def record(sandbox_id: str, created: dt.datetime = NOW, ttl: float = 86400) -> SandboxRecord:
    return SandboxRecord(
        id=sandbox_id,
        label=f"label of {sandbox_id}",
        scenario="default",
        scenario_yaml=None,
        admin_token_hash=digest(f"admin-{sandbox_id}"),
        telephony_secret_hash=digest(f"phone-{sandbox_id}"),
        created_at=created,
        expires_at=created + dt.timedelta(seconds=ttl),
    )


def rows(db: Engine, table: Table, sandbox_id: str) -> int:
    query = select(func.count()).select_from(table).where(table.c.sandbox == sandbox_id)
    with db.connect() as c:
        return int(c.execute(query).scalar_one())


def code(code_hash: str, grant_id: str = "g-1") -> StoredCode:
    return StoredCode(
        code_hash, grant_id, "creco", "http://127.0.0.1:8765/callback", "accounts",
        "challenge", "S256", NOW, NOW + dt.timedelta(minutes=10),
    )  # fmt: skip


def token(secret: str, grant_id: str = "g-1") -> StoredToken:
    return StoredToken(
        digest(secret), digest(f"refresh-{secret}"), grant_id, "creco", "accounts",
        NOW, NOW + dt.timedelta(hours=1),
    )  # fmt: skip


def grant(grant_id: str = "g-1", account: AccountKey = MANUAL) -> Grant:
    return Grant(grant_id, "creco", account, ("accounts",), NOW, NOW + dt.timedelta(days=90))


MAIL = Mail("bank@example.jp", "taro@example.jp", "件名", "本文")


# -- the schema ------------------------------------------------------------------------------


def test_every_table_is_keyed_by_its_sandbox_first() -> None:
    """A table added without ``sandbox`` leading its key (or its lookup indexes) fails
    here: its rows would be shared by every sandbox, and never deleted with one."""
    assert set(WORLD) == set(metadata.tables.values()) - {sandboxes, purges}
    for table in metadata.sorted_tables:
        if table is purges:  # the server's own bookkeeping, no sandbox's
            continue
        column = table.c.get("sandbox")
        assert column is not None, table.name
        assert not column.nullable, table.name
        key = [c.name for c in table.primary_key.columns]
        if key == ["id"]:  # an autoincrement id keeps its key, beside (sandbox, id)
            assert any(
                [c.name for c in index.columns] == ["sandbox", "id"] for index in table.indexes
            ), table.name
        else:
            assert key[0] == "sandbox", table.name
        if table is sandboxes:
            continue
        for index in table.indexes:
            if index.info.get("purge"):  # the retention purge reads every sandbox at once
                continue
            assert next(iter(index.columns)).name == "sandbox", (table.name, index.name)
        for constraint in table.constraints - {table.primary_key}:
            names = [c.name for c in getattr(constraint, "columns", [])]
            assert not names or names[0] == "sandbox", (table.name, names)


# -- each store class sees its own sandbox only ----------------------------------------------


def test_the_host_and_its_ledger_are_per_sandbox(db: Engine, host: MemoryHost) -> None:
    a, b = SqlHost(db, sandbox=A), SqlHost(db, sandbox=B)
    a.load(host)
    assert b.is_empty() and not a.is_empty()
    assert b.account(MANUAL) is None and b.customer("c-taro") is None
    assert b.transactions(MANUAL) == [] and a.transactions(MANUAL) == host.transactions(MANUAL)
    b.load(host)  # the same customers and accounts in a second world
    assert a.account(MANUAL) == b.account(MANUAL) == host.account(MANUAL)

    assert [a.add_failure(MANUAL, DAY, 3) for _ in range(3)] == [1, 2, 3]
    assert b.failures(MANUAL, DAY) == 0 and b.locks(DAY, 1) == []
    assert b.add_failure(MANUAL, DAY, 3) == 1  # not past A's ceiling
    assert a.locks(DAY, 3) == [(MANUAL, 3)]
    b.clear(MANUAL, DAY)
    assert a.failures(MANUAL, DAY) == 3 and b.failures(MANUAL, DAY) == 0

    new = AccountKey("033", "1", "3333333")
    a.move(MANUAL, new, DAY)
    moved = a.account(MANUAL)
    assert moved is not None and moved.status is AccountStatus.MOVED
    assert b.account(new) is None and b.account(MANUAL) == host.account(MANUAL)
    assert b.transactions(MANUAL) == host.transactions(MANUAL)
    b.move(MANUAL, new, DAY)  # the same move again: B's account had not moved

    b.load(MemoryHost())  # B's reset empties B alone
    assert b.is_empty() and a.account(new) is not None and a.failures(MANUAL, DAY) == 3
    assert SqlHost(db).is_empty()  # the root was never loaded


def test_flows_and_the_congestion_count_are_per_sandbox(
    db: Engine, engine: ConnectFlow, new_flow: FlowState
) -> None:
    a, b = SqlFlows(db, sandbox=A), SqlFlows(db, sandbox=B)
    flow = walk_to(engine, new_flow, Screen.CALL)
    phone = flow.registered_phone
    assert phone is not None
    a.save(flow, {"state": "xyz"})
    now = flow.touched_at
    assert a.in_progress(now) == 1 and b.in_progress(now) == 0
    assert b.load(flow.flow_id) is None and b.oauth_params(flow.flow_id) == {}
    assert b.waiting_for_call_from(phone) == [] and len(a.waiting_for_call_from(phone)) == 1
    with pytest.raises(StaleFlow):  # B has no such flow to update
        b.save(flow)
    loaded = a.load(flow.flow_id)
    assert loaded == flow and a.oauth_params(flow.flow_id) == {"state": "xyz"}

    twin = FlowState.from_record(flow.to_record())  # one flow id in both worlds
    b.save(twin, {"state": "other"})
    assert b.oauth_params(flow.flow_id) == {"state": "other"}
    assert a.oauth_params(flow.flow_id) == {"state": "xyz"}
    assert a.in_progress(now) == b.in_progress(now) == 1
    assert SqlFlows(db).in_progress(now) == 0
    b.clear()
    assert b.load(flow.flow_id) is None and a.load(flow.flow_id) == flow


def test_the_log_settings_mails_and_calls_are_per_sandbox(db: Engine) -> None:
    log_a, log_b = SqlLog(db, sandbox=A), SqlLog(db, sandbox=B)
    log_a.extend([Event(NOW, "f-1", "start"), Event(NOW, "f-1", "account")])
    log_b.append(Event(NOW, "f-2", "start"))
    assert [e["kind"] for e in log_a.entries()] == ["start", "account"]
    assert [e["flow_id"] for e in log_b.entries()] == ["f-2"]
    log_a.clear()
    assert log_a.entries() == [] and len(log_b.entries()) == 1

    set_a, set_b = SqlSettings(db, sandbox=A), SqlSettings(db, sandbox=B)
    set_a.put("clock", {"offset_seconds": 3600})
    set_a.put("faults", {"congestion": True})
    assert set_b.get("clock") is None and set_b.all() == {}
    set_b.put("clock", {"offset_seconds": -60})
    assert set_a.get("clock") == {"offset_seconds": 3600}
    assert set_b.all() == {"clock": {"offset_seconds": -60}}
    set_b.clear()
    assert set_a.all() == {"clock": {"offset_seconds": 3600}, "faults": {"congestion": True}}

    mail_a, mail_b = SqlMailbox(db, sandbox=A), SqlMailbox(db, sandbox=B)
    queued = mail_a.queue(NOW, MAIL)
    mail_b.record(NOW, MAIL, "sent")
    assert mail_b.queued() == [] and mail_b.unsettled() == 0
    assert mail_b.claim(queued) is None  # another world's mail id is unknown
    assert not mail_b.mark(queued, "sent", was=("queued",))
    assert mail_a.queued() == [queued] and mail_a.unsettled() == 1
    assert mail_a.claim(queued) == MAIL and mail_a.mark(queued, "sent")
    assert [m["status"] for m in mail_a.sent()] == ["sent"]
    assert [m["status"] for m in mail_b.sent()] == ["sent"]
    mail_a.clear()
    assert mail_a.sent() == [] and len(mail_b.sent()) == 1

    calls_a, calls_b = SqlCalls(db, sandbox=A), SqlCalls(db, sandbox=B)
    assert calls_a.first_report("CA-1", NOW) and not calls_a.first_report("CA-1", NOW)
    assert calls_b.first_report("CA-1", NOW)  # a call reported to A is new to B
    assert not calls_b.first_report("CA-1", NOW)


def test_grants_codes_and_tokens_are_per_sandbox(db: Engine) -> None:
    grants_a, grants_b = SqlGrants(db, sandbox=A), SqlGrants(db, sandbox=B)
    grants_a.add(grant())
    assert grants_b.get("g-1") is None and grants_b.all() == []
    grants_b.save(grant(account=OTHER))  # no such grant in B: changes nothing anywhere
    assert grants_a.get("g-1") == grant() and grants_b.get("g-1") is None
    grants_b.add(grant(account=MOVED_TO))
    assert grants_a.all() == [grant()] and grants_b.all() == [grant(account=MOVED_TO)]
    grants_b.clear()
    assert grants_a.all() == [grant()]

    tokens_a, tokens_b = SqlTokens(db, sandbox=A), SqlTokens(db, sandbox=B)
    tokens_a.add_code(code("c-hash"))
    assert tokens_b.grant_of_code("c-hash") is None
    assert tokens_b.take_code("c-hash", NOW) == (None, False)  # unknown, not a replay
    tokens_b.add_code(code("c-hash", "g-b"))  # one code hash in both worlds
    taken, replay = tokens_a.take_code("c-hash", NOW)
    assert taken is not None and taken.grant_id == "g-1" and not replay
    taken, replay = tokens_b.take_code("c-hash", NOW)  # A's use did not burn B's
    assert taken is not None and taken.grant_id == "g-b" and not replay

    tokens_a.add_token(token("secret"))
    assert tokens_b.find("secret") is None and tokens_b.by_access("secret") is None
    assert tokens_b.by_refresh("refresh-secret") is None
    assert tokens_b.revoke_grant("g-1", NOW) == 0
    tokens_b.revoke(digest("secret"), NOW)
    found = tokens_a.by_refresh("refresh-secret")
    assert found is not None and found.revoked_at is None
    tokens_b.add_token(token("secret"))  # the same hashes in B are B's own
    assert tokens_a.revoke_grant("g-1", NOW) == 1
    in_b = tokens_b.by_access("secret")
    assert in_b is not None and in_b.revoked_at is None
    tokens_a.clear()
    assert tokens_a.find("secret") is None and tokens_b.find("secret") is not None
    assert tokens_b.grant_of_code("c-hash") == "g-b"
    assert SqlTokens(db).find("secret") is None  # the root has none of them


# -- the sandboxes' records ------------------------------------------------------------------


def test_sandbox_records(db: Engine) -> None:
    store = SqlSandboxes(db)
    assert store.all() == [] and store.count() == 0 and store.get(A) is None
    later = NOW + dt.timedelta(seconds=5)
    store.create(record(B, created=later, ttl=60))
    first = record(A, ttl=3600)
    store.create(first)
    assert store.get(A) == first and store.exists(A) and not store.exists(ROOT)
    assert [r.id for r in store.all()] == [A, B]  # oldest first
    assert store.count() == 2
    # Times come back as the same instants, whatever offset they were given in.
    utc = store.get(A)
    assert utc is not None and utc.expires_at == NOW + dt.timedelta(hours=1)
    assert utc.expires_at.utcoffset() == dt.timedelta(0)

    assert store.expired(NOW) == []
    assert store.expired(later + dt.timedelta(seconds=60)) == [B]  # at its expiry
    assert store.expired(later + dt.timedelta(seconds=59, microseconds=999_999)) == []
    assert store.expired(NOW + dt.timedelta(days=1)) == [B, A]
    assert store.expired((NOW + dt.timedelta(hours=2)).astimezone(dt.UTC)) == [B, A]

    with pytest.raises(ValueError, match="exists already"):
        store.create(record(A))
    with pytest.raises(ValueError, match="root"):
        store.create(record(ROOT))
    with pytest.raises(ValueError, match="offset"):
        store.expired(NOW.replace(tzinfo=None))
    inline = SandboxRecord(
        "00000000000000aa", "", "inline", "bank: {}\n", "a" * 64, "b" * 64, NOW, NOW
    )
    store.create(inline)
    assert store.get(inline.id) == inline


def test_counts_are_of_the_sandbox_asked(db: Engine, new_flow: FlowState) -> None:
    store = SqlSandboxes(db)
    store.create(record(A))
    store.create(record(B))
    SqlFlows(db, sandbox=A).save(new_flow)
    SqlGrants(db, sandbox=A).add(grant("g-1"))
    SqlGrants(db, sandbox=A).add(grant("g-2"))
    for _ in range(3):
        SqlMailbox(db, sandbox=A).record(NOW, MAIL, "sent")
    SqlMailbox(db, sandbox=B).queue(NOW, MAIL)
    assert store.counts(A) == {"flows": 1, "grants": 2, "mails": 3}
    assert store.counts(B) == {"flows": 0, "grants": 0, "mails": 1}
    assert store.counts(ROOT) == {"flows": 0, "grants": 0, "mails": 0}


def fill(db: Engine, sandbox_id: str, host: MemoryHost, flow: FlowState) -> None:
    """A row in every table of the sandbox's world, through the store classes."""
    h = SqlHost(db, sandbox=sandbox_id)
    h.load(host)
    h.add_failure(MANUAL, DAY, 5)
    SqlFlows(db, sandbox=sandbox_id).save(
        FlowState.from_record(flow.to_record()), log=[Event(NOW, flow.flow_id, "start")]
    )
    SqlSettings(db, sandbox=sandbox_id).put("clock", {"offset_seconds": 1})
    SqlMailbox(db, sandbox=sandbox_id).queue(NOW, MAIL)
    SqlGrants(db, sandbox=sandbox_id).add(grant())
    tokens = SqlTokens(db, sandbox=sandbox_id)
    tokens.add_code(code("c-hash"))
    tokens.add_token(token("secret"))
    SqlCalls(db, sandbox=sandbox_id).first_report("CA-1", NOW)


def test_delete_removes_every_row_of_the_sandbox_and_nothing_else(
    db: Engine, host: MemoryHost, new_flow: FlowState
) -> None:
    store = SqlSandboxes(db)
    store.create(record(A))
    store.create(record(B))
    for sandbox_id in (A, B, ROOT):
        fill(db, sandbox_id, host, new_flow)
    keyed = (*WORLD, sandboxes)  # every table but the server's own bookkeeping (purges)
    before = {t.name: {s: rows(db, t, s) for s in (A, B, ROOT)} for t in keyed}
    for table in WORLD:  # fill() reaches every table: a new one must be filled too
        assert before[table.name][A] > 0, table.name
    assert before["sandboxes"] == {A: 1, B: 1, ROOT: 0}

    assert store.delete(A)
    for table in keyed:
        assert rows(db, table, A) == 0, table.name
        assert rows(db, table, B) == before[table.name][B], table.name
        assert rows(db, table, ROOT) == before[table.name][ROOT], table.name
    assert store.get(A) is None and [r.id for r in store.all()] == [B]
    assert SqlTokens(db, sandbox=A).find("secret") is None
    assert SqlTokens(db, sandbox=B).find("secret") is not None

    assert not store.delete(A)  # gone already
    assert not store.delete(ROOT)  # the root has no record and is never deleted
    assert not store.delete("no-such-sandbox")
    assert rows(db, metadata.tables["accounts"], ROOT) == before["accounts"][ROOT]


# -- a database made before sandboxes --------------------------------------------------------


def old_schema(with_revision: bool = True) -> MetaData:
    """The tables as renkei made them before sandboxes (git show 5cedc16:simulator/store/
    schema.py), optionally from before ``flows.revision`` too."""
    old = MetaData()
    Table(
        "customers", old,
        Column("customer_id", String(64), primary_key=True),
        Column("name_kana", String(96), nullable=False),
        Column("name_kanji", String(96), nullable=False, default=""),
        Column("birth_date", String(10), nullable=False),
        Column("phone", String(11), nullable=False),
    )  # fmt: skip
    Table(
        "accounts", old,
        Column("account_key", String(20), primary_key=True),
        Column("customer_id", String(64), nullable=False, index=True),
        Column("opened_on", String(10), nullable=False),
        Column("status", String(8), nullable=False),
        Column("moved_to", String(20)),
        Column("balance", Integer, nullable=False, default=0),
        Column("card_id", String(64)),
        Column("card_issued_on", String(10)),
        Column("pin_hash", String(64)),
    )  # fmt: skip
    Table(
        "transactions", old,
        Column("account_key", String(20), primary_key=True),
        Column("item_key", String(32), primary_key=True),
        Column("date", String(10), nullable=False),
        Column("value_date", String(10), nullable=False),
        Column("kind", String(1), nullable=False),
        Column("amount", Integer, nullable=False),
        Column("remarks", String(64), nullable=False),
        Column("balance", Integer, nullable=False),
    )  # fmt: skip
    Table(
        "failures", old,
        Column("account_key", String(20), primary_key=True),
        Column("day", String(10), primary_key=True),
        Column("failed", Integer, nullable=False),
    )  # fmt: skip
    flows = Table(
        "flows", old,
        Column("flow_id", String(64), primary_key=True),
        Column("record", JSON, nullable=False),
        Column("oauth_params", JSON, nullable=False),
        Column("finished", Boolean, nullable=False, default=False),
        Column("touched_at", String(40), nullable=False),
        Column("waiting_phone", String(11)),
    )  # fmt: skip
    if with_revision:
        flows.append_column(Column("revision", Integer, nullable=False, server_default="1"))
    Index("flows_waiting", flows.c.waiting_phone)
    Index("flows_open", flows.c.finished, flows.c.touched_at)
    Table(
        "calls", old,
        Column("call_id", String(64), primary_key=True),
        Column("at", String(40), nullable=False),
    )  # fmt: skip
    Table(
        "oplog", old,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", String(40), nullable=False),
        Column("flow_id", String(64)),
        Column("kind", String(40), nullable=False),
        Column("detail", JSON, nullable=False),
    )  # fmt: skip
    Table(
        "settings", old,
        Column("name", String(40), primary_key=True),
        Column("value", JSON, nullable=False),
    )  # fmt: skip
    Table(
        "mails", old,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", String(40), nullable=False),
        Column("sender", String(254), nullable=False),
        Column("recipient", String(254), nullable=False),
        Column("subject", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("status", String(16), nullable=False),
    )  # fmt: skip
    Table(
        "grants", old,
        Column("grant_id", String(64), primary_key=True),
        Column("client_id", String(64), nullable=False),
        Column("account_key", String(20), nullable=False, index=True),
        Column("scopes", String(128), nullable=False),
        Column("granted_at", String(40), nullable=False),
        Column("expires_at", String(40), nullable=False),
        Column("revoked_at", String(40)),
        Column("revoked_by", String(8)),
        Column("uninstalled_at", String(40)),
    )  # fmt: skip
    Table(
        "codes", old,
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
    )  # fmt: skip
    Table(
        "tokens", old,
        Column("access_hash", String(64), primary_key=True),
        Column("refresh_hash", String(64), unique=True),
        Column("grant_id", String(64), nullable=False, index=True),
        Column("client_id", String(64), nullable=False),
        Column("scope", String(128), nullable=False),
        Column("issued_at", String(40), nullable=False),
        Column("access_expires_at", String(40), nullable=False),
        Column("revoked_at", String(40)),
    )  # fmt: skip
    return old


@pytest.fixture
def old_database(
    database_url: str, tmp_path: Path, host: MemoryHost, new_flow: FlowState
) -> Iterator[str]:
    """A database as the previous renkei left it, filled through today's store classes
    on a scratch database and copied row by row without the sandbox column."""
    scratch = open_database(f"sqlite:///{tmp_path / 'scratch.db'}")
    fill(scratch, ROOT, host, new_flow)
    SqlLog(scratch).extend([Event(NOW, "f-x", f"line {i}") for i in range(5)])
    SqlMailbox(scratch).record(NOW, MAIL, "sent")
    old = old_schema(with_revision=True)
    target = create_engine(database_url)
    try:
        old.drop_all(target)  # drop_all of conftest drops today's tables only
        old.create_all(target)
        with scratch.connect() as source, target.begin() as c:
            for table in old.sorted_tables:
                new = metadata.tables[table.name]
                copied = [
                    {k: v for k, v in row._mapping.items() if k in table.c}
                    for row in source.execute(select(new).order_by(*new.primary_key.columns))
                ]
                if copied:
                    c.execute(insert(table), copied)
    finally:
        target.dispose()
    yield database_url
    scratch.dispose()


def test_a_database_from_before_sandboxes_keeps_every_row_in_the_root(
    old_database: str, host: MemoryHost, new_flow: FlowState
) -> None:
    plain = create_engine(old_database)
    try:
        with plain.connect() as c:
            before = {
                t: int(c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
                for t in inspect(c).get_table_names()
            }
    finally:
        plain.dispose()
    assert set(before) == {t.name for t in WORLD} and all(before.values()), before

    db = open_database(old_database)
    try:
        for table in WORLD:
            assert rows(db, table, ROOT) == before[table.name], table.name
            assert "sandbox" in {c["name"] for c in inspect(db).get_columns(table.name)}
        sql_host = SqlHost(db)
        for key in host.accounts:
            assert sql_host.account(key) == host.account(key)
            assert sql_host.transactions(key) == host.transactions(key)
        assert sql_host.failures(MANUAL, DAY) == 1
        flows = SqlFlows(db)
        loaded = flows.load(new_flow.flow_id)
        assert loaded == new_flow and loaded.revision == 1
        flows.save(loaded)  # the revision goes on from the copied one
        assert [e["kind"] for e in SqlLog(db).entries()][-1] == "line 4"
        assert SqlSettings(db).all() == {"clock": {"offset_seconds": 1}}
        assert SqlGrants(db).get("g-1") == grant()
        assert SqlTokens(db).find("refresh-secret") is not None
        assert not SqlCalls(db).first_report("CA-1", NOW)
        # The copied ids are kept, and new rows are numbered after them.
        ids = [e["id"] for e in SqlLog(db).entries()]
        SqlLog(db).append(Event(NOW, "f-y", "after"))
        assert SqlLog(db).entries()[-1]["id"] > max(ids)
        sent = SqlMailbox(db).sent()
        assert SqlMailbox(db).queue(NOW, MAIL) > max(m["id"] for m in sent)
    finally:
        db.dispose()

    again = open_database(old_database)  # opening it once more migrates nothing
    try:
        assert rows(again, metadata.tables["oplog"], ROOT) == before["oplog"] + 1
        assert SqlHost(again).account(MANUAL) == host.account(MANUAL)
    finally:
        again.dispose()


def test_a_database_from_before_flow_revisions_is_migrated_too(database_url: str) -> None:
    """The oldest stores had no ``flows.revision``: the rebuild gives every flow 1."""
    old = old_schema(with_revision=False)
    target = create_engine(database_url)
    record_ = {"flow_id": "f-1", "touched_at": NOW.isoformat(), "finished": True}
    try:
        old.drop_all(target)
        old.create_all(target)
        with target.begin() as c:
            c.execute(insert(old.tables["flows"]), {**record_, "record": {}, "oauth_params": {}})
    finally:
        target.dispose()
    db = open_database(database_url)
    try:
        with db.connect() as c:
            row = c.execute(select(metadata.tables["flows"])).one()
        assert (row.sandbox, row.flow_id, row.revision) == (ROOT, "f-1", 1)
    finally:
        db.dispose()


def test_a_migration_that_fails_leaves_the_old_database_as_it_was(
    old_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild is one transaction: broken off after its first tables, nothing of it
    stays, and the next opening migrates the whole database."""
    rebuilt: list[str] = []
    real = database._rebuild

    def rebuild_two_then_fail(c: Connection, table: Table) -> None:
        if len(rebuilt) == 2:
            raise RuntimeError("the disk is full")
        real(c, table)
        rebuilt.append(table.name)

    monkeypatch.setattr(database, "_rebuild", rebuild_two_then_fail)
    with pytest.raises(RuntimeError, match="disk is full"):
        open_database(old_database)
    assert len(rebuilt) == 2
    plain = create_engine(old_database)
    try:
        for name in rebuilt:
            assert "sandbox" not in {c["name"] for c in inspect(plain).get_columns(name)}
        assert not any(t.endswith("_unkeyed") for t in inspect(plain).get_table_names())
    finally:
        plain.dispose()
    monkeypatch.setattr(database, "_rebuild", real)
    db = open_database(old_database)
    try:
        assert rows(db, metadata.tables["accounts"], ROOT) > 0
    finally:
        db.dispose()
