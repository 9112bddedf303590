"""The SQL host against the in-memory one: same answers, and atomic failure counts."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from helpers import MANUAL, MOVED_FROM, MOVED_TO, OPEN_INSTANT
from sqlalchemy import Engine

from simulator.core.host import AccountKey, AccountStatus
from simulator.core.memory import MemoryHost
from simulator.store.database import open_database
from simulator.store.host import SqlHost

DAY = OPEN_INSTANT.date()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    opened = open_database(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def sql_host(engine: Engine, host: MemoryHost) -> SqlHost:
    sql = SqlHost(engine)
    assert sql.is_empty()
    sql.load(host)
    return sql


def test_the_sql_host_answers_as_the_memory_host(sql_host: SqlHost, host: MemoryHost) -> None:
    for key in host.accounts:
        assert sql_host.account(key) == host.account(key)
        assert sql_host.transactions(key) == host.transactions(key)
    for customer_id in host.customers:
        assert sql_host.customer(customer_id) == host.customer(customer_id)
    assert sql_host.account(AccountKey("999", "1", "0000000")) is None
    assert sql_host.customer("nobody") is None
    assert not sql_host.is_empty()


def test_r_err_host_3_failures_count_per_day_and_clear(sql_host: SqlHost) -> None:
    """R-ERR-HOST-2/3: counts per account per JST day; an operator's unlock clears it."""
    assert [sql_host.add_failure(MANUAL, DAY, 5) for _ in range(3)] == [1, 2, 3]
    assert sql_host.failures(MANUAL, DAY) == 3
    assert sql_host.failures(MANUAL, DAY + dt.timedelta(days=1)) == 0
    assert sql_host.locks(DAY, threshold=3) == [(MANUAL, 3)]
    assert sql_host.locks(DAY, threshold=4) == []
    sql_host.clear(MANUAL, DAY)
    assert sql_host.failures(MANUAL, DAY) == 0


def test_r_err_host_3_concurrent_failures_are_each_counted_once(
    engine: Engine, sql_host: SqlHost
) -> None:
    """R-ERR-HOST-3: 8 threads × 10 failures, each with its own connection, against
    a ceiling of 50: every count from 1 to 50 answered exactly once (so exactly one
    ``locked_now``), the other 30 not counted, and the day's count exactly 50."""
    answers: list[int | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def fail_ten() -> None:
        ledger = SqlHost(engine)
        barrier.wait(timeout=30)
        mine = [ledger.add_failure(MANUAL, DAY, 50) for _ in range(10)]
        with lock:
            answers.extend(mine)

    threads = [threading.Thread(target=fail_ten) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(a for a in answers if a is not None) == list(range(1, 51))
    assert answers.count(None) == 30
    assert sql_host.failures(MANUAL, DAY) == 50


def test_r_acct_3_move_in_sql(sql_host: SqlHost) -> None:
    """R-ACCT-3: the move is one transaction; the history follows the account."""
    history = sql_host.transactions(MANUAL)
    new = AccountKey("033", "1", "3333333")
    opened = sql_host.move(MANUAL, new, DAY)
    old = sql_host.account(MANUAL)
    assert old is not None and old.status is AccountStatus.MOVED and old.moved_to == new
    assert sql_host.account(new) == opened and opened.opened_on == DAY
    assert sql_host.transactions(new) == history and sql_host.transactions(MANUAL) == []
    with pytest.raises(ValueError, match="exists already"):
        sql_host.move(MOVED_FROM, MOVED_TO, DAY)
    with pytest.raises(KeyError):
        sql_host.move(AccountKey("999", "1", "0000000"), AccountKey("998", "1", "0000000"), DAY)


def test_the_data_survives_reopening(database_url: str, host: MemoryHost) -> None:
    url = database_url
    first = SqlHost(open_database(url))
    first.load(host)
    first.add_failure(MANUAL, DAY, 5)
    again = SqlHost(open_database(url))
    assert again.account(MANUAL) == host.account(MANUAL)
    assert again.failures(MANUAL, DAY) == 1


def test_r_err_host_3_two_sandboxes_count_their_failures_apart(
    engine: Engine, host: MemoryHost
) -> None:
    """R-ERR-HOST-3 in two sandboxes of one database (INTERFACE.md §9): 4 threads in
    each fail the same account 10 times at once against a ceiling of 20; each world
    counts 1 to 20 exactly once, and one's lockout is not the other's."""
    worlds = ("0123456789abcdef", "fedcba9876543210")
    for sandbox in worlds:
        SqlHost(engine, sandbox=sandbox).load(host)
    answers: dict[str, list[int | None]] = {s: [] for s in worlds}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def fail_ten(sandbox: str) -> None:
        ledger = SqlHost(engine, sandbox=sandbox)
        barrier.wait(timeout=30)
        mine = [ledger.add_failure(MANUAL, DAY, 20) for _ in range(10)]
        with lock:
            answers[sandbox].extend(mine)

    threads = [threading.Thread(target=fail_ten, args=(s,)) for s in worlds for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for sandbox in worlds:
        assert sorted(a for a in answers[sandbox] if a is not None) == list(range(1, 21))
        assert answers[sandbox].count(None) == 20
        assert SqlHost(engine, sandbox=sandbox).failures(MANUAL, DAY) == 20
    assert SqlHost(engine).failures(MANUAL, DAY) == 0  # the root saw none of them
