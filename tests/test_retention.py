"""Retention (simulator.store.retention, issue 16): each kind of row is purged a
retention after its wall-clock moment and not a second before, whatever the
sandbox clock says; another sandbox's rows within their retention stay; one
server process purges per interval; the rows of an older renkei are stamped and
purged in their turn. The wall clock is the test's (a FixedClock it moves).

On SQLite and, when RENKEI_TEST_DATABASE_URL names one, PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import MANUAL, OPEN_INSTANT
from sqlalchemy import (
    Engine,
    Index,
    MetaData,
    Table,
    create_engine,
    func,
    insert,
    inspect,
    select,
)

from harness.embedded import EmbeddedSandbox
from renkei.contract.controls import CLOCK_PATH
from renkei.contract.oauth import AUTHORIZE_PATH
from simulator.core.clock import FixedClock
from simulator.core.flow import Event, FlowState
from simulator.core.grants import Grant
from simulator.core.mail import Mail
from simulator.serve import main as serve_main
from simulator.store.database import open_database
from simulator.store.grants import SqlGrants
from simulator.store.retention import (
    DAY,
    Retention,
    claim,
    duration,
    parse_retain,
    purge,
)
from simulator.store.schema import (
    ROOT,
    calls,
    codes,
    flows,
    grants,
    mails,
    metadata,
    oplog,
    purges,
    tokens,
)
from simulator.store.state import SqlCalls, SqlFlows, SqlLog, SqlMailbox
from simulator.store.tokens import SqlTokens, StoredCode, StoredToken, digest
from simulator.web.retention import Purger

A, B = "0123456789abcdef", "fedcba9876543210"
NOW = OPEN_INSTANT  # the sandbox clock's time in the rows
#: The real time the rows are written at.
WALL = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
W = WALL.timestamp()
#: Each kind's retention, all different, so that each boundary is its own.
R = Retention(flows=100, codes=200, grants=300, calls=400, log=500, mail=600)
#: A grant's 認可期間 in the tests, in seconds.
LIFE = 1000.0
MAIL = Mail("bank@example.jp", "taro@example.jp", "件名", "本文")


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def at(seconds: float) -> FixedClock:
    """A wall clock standing ``seconds`` after :data:`WALL`."""
    return FixedClock(WALL + dt.timedelta(seconds=seconds))


def flow(flow_id: str, touched: dt.datetime = NOW) -> FlowState:
    return FlowState(
        flow_id, "creco", "http://127.0.0.1:8765/callback", ("accounts",), "xyz", "c" * 43,
        NOW, touched,
    )  # fmt: skip


def grant(grant_id: str, life: float = LIFE) -> Grant:
    return Grant(grant_id, "creco", MANUAL, ("accounts",), NOW, NOW + dt.timedelta(seconds=life))


def write(db: Engine, sandbox: str, wall: FixedClock) -> None:
    """One row of every kind in ``sandbox``, written at ``wall``: a flow (with a line of
    the log), another line, a code, a grant with a token, a call, a mail sent and one
    still queued."""
    SqlFlows(db, sandbox=sandbox, wall=wall).save(
        flow("f-1"), {"response_type": "code"}, log=[Event(NOW, "f-1", "start")]
    )
    SqlLog(db, sandbox=sandbox, wall=wall).append(Event(NOW, "", "note"))
    store = SqlTokens(db, sandbox=sandbox, wall=wall)
    store.add_code(
        StoredCode(
            "c-hash", "g-1", "creco", "http://127.0.0.1:8765/callback", "accounts", "c" * 43,
            "S256", NOW, NOW + dt.timedelta(seconds=60),
        )
    )  # fmt: skip
    SqlGrants(db, sandbox=sandbox, wall=wall).add(grant("g-1"))
    store.add_token(
        StoredToken(
            digest("access"), digest("refresh"), "g-1", "creco", "accounts", NOW,
            NOW + dt.timedelta(minutes=15),
        )
    )  # fmt: skip
    SqlCalls(db, sandbox=sandbox, wall=wall).first_report("CA-1", NOW)
    box = SqlMailbox(db, sandbox=sandbox, wall=wall)
    box.record(NOW, MAIL, "sent")
    box.queue(NOW, MAIL)


def counts(db: Engine, sandbox: str) -> dict[str, int]:
    tables = {
        "flows": flows, "codes": codes, "grants": grants, "tokens": tokens, "calls": calls,
        "log": oplog, "mail": mails,
    }  # fmt: skip
    with db.connect() as c:
        return {
            name: int(
                c.execute(
                    select(func.count()).select_from(t).where(t.c.sandbox == sandbox)
                ).scalar_one()
            )
            for name, t in tables.items()
        }


#: What one :func:`write` leaves: two lines of the log, two mails (one queued).
WRITTEN = {"flows": 1, "codes": 1, "grants": 1, "tokens": 1, "calls": 1, "log": 2, "mail": 2}
#: When each kind's rows go, after W: its retention (a grant's after its end).
DUE = {
    "flows": R.flows, "codes": R.codes, "calls": R.calls, "log": R.log, "mail": R.mail,
    "grants": LIFE + R.grants, "tokens": LIFE + R.grants,
}  # fmt: skip


def expected(after: float) -> dict[str, int]:
    """What is left of one :func:`write` at W + ``after``: a kind whose retention is
    over goes (the queued mail stays: it is the outbox's)."""
    left = {k: (n if after <= DUE[k] else 0) for k, n in WRITTEN.items()}
    if after > DUE["mail"]:
        left["mail"] = 1
    return left


def test_each_kind_goes_after_its_retention_and_not_before(db: Engine) -> None:
    write(db, ROOT, at(0))
    assert counts(db, ROOT) == WRITTEN
    for due in sorted(set(DUE.values())):
        for after in (due, due + 1):  # at the boundary kept; a second later gone
            purge(db, R, W + after)
            assert counts(db, ROOT) == expected(after), after
    purge(db, R, W + 100 * DAY)
    assert counts(db, ROOT) == {**dict.fromkeys(WRITTEN, 0), "mail": 1}


def test_a_purge_leaves_another_sandboxs_rows_within_their_retention(db: Engine) -> None:
    """A's rows are past every retention, B's (written later) within all of theirs."""
    later = LIFE + R.grants + 50
    write(db, A, at(0))
    write(db, B, at(later))
    gone = purge(db, R, W + later + 10)
    assert counts(db, A) == {**dict.fromkeys(WRITTEN, 0), "mail": 1}
    assert counts(db, B) == WRITTEN
    assert gone == {
        "flows": 1, "codes": 1, "calls": 1, "log": 2, "mail": 1, "grants": 1, "tokens": 1,
    }  # fmt: skip


def test_the_sandbox_clock_says_nothing_of_a_rows_age(db: Engine) -> None:
    """Flows whose sandbox time is ten years ahead or behind are kept their retention
    of real time and then go, as any other."""
    store = SqlFlows(db, wall=at(0))
    for flow_id, years in (("ahead", 10), ("behind", -10)):
        store.save(flow(flow_id, NOW + dt.timedelta(days=365 * years)))
    purge(db, R, W + R.flows)
    assert counts(db, ROOT)["flows"] == 2
    purge(db, R, W + R.flows + 1)
    assert counts(db, ROOT)["flows"] == 0


def test_a_revoked_grant_has_ended_when_it_was_revoked(db: Engine) -> None:
    """A grant of a year revoked 10 s after it was made goes, with its tokens, its
    retention after the revocation; an uninstalled one keeps its 認可期間's end, and a
    live one of a year stays."""
    made = SqlGrants(db, wall=at(0))
    tokens_of = SqlTokens(db, wall=at(0))
    year = 365 * DAY
    for grant_id in ("revoked", "uninstalled", "live"):
        made.add(grant(grant_id, life=year))
        tokens_of.add_token(
            StoredToken(digest(grant_id), None, grant_id, "creco", "accounts", NOW, NOW)
        )
    later = SqlGrants(db, wall=at(10))
    revoked = made.get("revoked")
    uninstalled = made.get("uninstalled")
    assert revoked is not None and uninstalled is not None
    later.save(replace(revoked, revoked_at=NOW, revoked_by="bank"))
    later.save(replace(uninstalled, uninstalled_at=NOW))
    purge(db, R, W + 10 + R.grants)
    assert {g.grant_id for g in made.all()} == {"revoked", "uninstalled", "live"}
    gone = purge(db, R, W + 10 + R.grants + 1)
    assert (gone["grants"], gone["tokens"]) == (1, 1)
    assert {g.grant_id for g in made.all()} == {"uninstalled", "live"}
    assert tokens_of.find("revoked") is None and tokens_of.find("live") is not None
    # Revoked again later (the store's save of a grant revoked already): no later end.
    SqlGrants(db, wall=at(year)).save(replace(uninstalled, revoked_at=NOW, revoked_by="app"))
    purge(db, R, W + year + R.grants + 1)
    assert {g.grant_id for g in made.all()} == set()


def test_a_purge_deletes_in_batches(db: Engine) -> None:
    """More lines than one batch go, by several statements, all of them."""
    log = SqlLog(db, wall=at(0))
    log.extend([Event(NOW, "", f"line {i}") for i in range(1234)])
    batches: list[int] = []
    gone = purge(db, R, W + R.log + 1, lambda: batches.append(1))
    assert gone["log"] == 1234 and len(batches) >= 3
    assert log.entries() == []


# -- one purge per interval --------------------------------------------------------------------


def test_one_process_claims_each_interval(db: Engine) -> None:
    assert claim(db, W, 10)
    assert not claim(db, W + 1, 10)  # another process, the same interval
    assert not claim(db, W + 5, 10)
    assert claim(db, W + 10, 10)
    assert claim(db, W - 100, 10)  # the system clock was set back: taken again


def test_of_two_purgers_on_one_database_one_purges(db: Engine) -> None:
    write(db, ROOT, at(0))
    wall = at(R.flows + 1)
    first, second = Purger(db, R, wall), Purger(db, R, wall)
    assert first.once() is not None
    assert second.once() is None
    assert counts(db, ROOT)["flows"] == 0


# -- a database of an older renkei ------------------------------------------------------------


def older_schema() -> MetaData:
    """Today's tables without the wall moments, their purge indexes and ``purges``."""
    old = MetaData()
    for table in metadata.sorted_tables:
        if table is purges:
            continue
        copy = Table(
            table.name,
            old,
            *[c._copy() for c in table.c if c.name not in ("wall", "wall_ends")],
            **table.kwargs,
        )
        for index in table.indexes:
            if not index.info.get("purge"):
                Index(index.name, *[copy.c[c.name] for c in index.columns], unique=index.unique)
    return old


def test_an_older_database_gets_the_columns_and_its_rows_are_purged_in_turn(
    database_url: str,
) -> None:
    old = older_schema()
    target = create_engine(database_url)
    row: dict[str, Any] = {"sandbox": ROOT}
    try:
        old.drop_all(target)
        old.create_all(target)
        with target.begin() as c:
            record = flow("f-old").to_record()
            c.execute(
                insert(old.tables["flows"]),
                {**row, "flow_id": "f-old", "record": record, "oauth_params": {},
                 "finished": False, "touched_at": NOW.isoformat(), "revision": 1},
            )  # fmt: skip
            c.execute(
                insert(old.tables["oplog"]),
                {**row, "at": NOW.isoformat(), "kind": "old", "detail": {}},
            )
            c.execute(
                insert(old.tables["grants"]),
                {**row, "grant_id": "g-old", "client_id": "creco", "account_key": str(MANUAL),
                 "scopes": "accounts", "granted_at": NOW.isoformat(),
                 "expires_at": (NOW + dt.timedelta(seconds=LIFE)).isoformat()},
            )  # fmt: skip
    finally:
        target.dispose()

    db = open_database(database_url)
    try:
        inspector = inspect(db)
        for table in (flows, codes, calls, oplog, mails):
            assert "wall" in {c["name"] for c in inspector.get_columns(table.name)}
        assert "wall_ends" in {c["name"] for c in inspector.get_columns("grants")}
        names = {i["name"] for t in ("flows", "oplog", "grants") for i in inspector.get_indexes(t)}
        assert {"flows_purge", "oplog_purge", "grants_purge"} <= names
        assert "purges" in inspector.get_table_names()
        assert claim(db, W, 10)

        purge(db, R, W)  # stamped now: a retention from the upgrade
        assert counts(db, ROOT) | {"tokens": 0} == {
            **dict.fromkeys(WRITTEN, 0), "flows": 1, "log": 1, "grants": 1,
        }  # fmt: skip
        purge(db, R, W + R.flows)
        assert counts(db, ROOT)["flows"] == 1
        purge(db, R, W + R.flows + 1)
        assert counts(db, ROOT)["flows"] == 0 and counts(db, ROOT)["log"] == 1
        purge(db, R, W + R.log + 1)
        assert counts(db, ROOT)["log"] == 0 and counts(db, ROOT)["grants"] == 1
        purge(db, R, W + LIFE + R.grants)  # the grant's end: its 認可期間 from the stamp
        assert counts(db, ROOT)["grants"] == 1
        purge(db, R, W + LIFE + R.grants + 1)
        assert counts(db, ROOT)["grants"] == 0
    finally:
        db.dispose()
    again = open_database(database_url)  # opened once more: nothing left to add
    again.dispose()


# -- the option and the server ------------------------------------------------------------------


def test_retain_reads_kinds_and_durations() -> None:
    assert parse_retain("") == Retention()
    assert parse_retain("flows=24h, log=7d,mail=90s") == replace(
        Retention(), flows=DAY, log=7 * DAY, mail=90.0
    )
    assert duration("1.5m") == 90.0 and duration("10") == 10.0
    assert Retention().interval() == 300.0
    assert replace(Retention(), flows=4.0).interval() == 2.0
    assert replace(Retention(), flows=0.5).interval() == 1.0
    for bad, said in (
        ("flow=1d", "KIND=DURATION"),
        ("flows", "KIND=DURATION"),
        ("flows=0", "not a duration"),
        ("flows=1y", "not a duration"),
        ("flows=-1s", "not a duration"),
    ):
        with pytest.raises(ValueError, match=said):
            parse_retain(bad)


def test_a_bad_retain_stops_serve_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_main(["--retain", "flows=soon", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["renkei: --retain flows: not a duration 'soon': a number and s, m, h "
                   "or d, such as 24h"]  # fmt: skip


def test_the_server_purges_by_itself(tmp_path: Path) -> None:
    """``renkei serve --retain flows=1s,log=1s --purge-every 1s``: an abandoned flow
    and its line of the log are gone a few seconds later, with nobody asking."""
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    child = EmbeddedSandbox(
        ("--database-url", url, "--retain", "flows=1s,log=1s", "--purge-every", "1s")
    )
    try:
        target = child.ready()
        frozen = {"now": "2026-11-24T10:15:00+09:00", "frozen": True}  # in service hours
        headers = {"Authorization": f"Bearer {target.admin_token}"}
        r = requests.put(target.url + CLOCK_PATH, json=frozen, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        r = requests.get(
            target.url + AUTHORIZE_PATH,
            params={
                "response_type": "code", "client_id": "creco",
                "redirect_uri": "http://127.0.0.1:8765/callback", "state": "s",
                "code_challenge": "c" * 43, "code_challenge_method": "S256",
            },
            allow_redirects=False,
            timeout=10,
        )  # fmt: skip
        assert r.status_code == 303, r.text  # the flow is saved before the answer leaves
        db = create_engine(url)
        try:
            seen = []
            deadline = time.monotonic() + 60  # generous: the machine is shared
            while time.monotonic() < deadline:
                seen.append(counts(db, ROOT))
                if seen[-1]["flows"] == 0 and seen[-1]["log"] == 0:
                    break
                time.sleep(0.2)
            assert seen[-1]["flows"] == 0 and seen[-1]["log"] == 0, seen[-1]
        finally:
            db.dispose()
    finally:
        child.stop()
