"""Shared fixtures: a small host with the manual's customer, a fixed clock, an engine."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import pytest
from helpers import CLOSED, CURRENT, MANUAL, MOVED_FROM, MOVED_TO, NEW, NO_CARD, OPEN_INSTANT, OTHER
from sqlalchemy import create_engine

from simulator.core.bank import BankRules
from simulator.core.clock import FixedClock
from simulator.core.flow import ConnectFlow, Event, FlowState
from simulator.core.history import Transaction
from simulator.core.host import Account, AccountStatus, Customer, PinVault
from simulator.core.memory import MemoryHost
from simulator.store.schema import metadata


@pytest.fixture
def vault() -> PinVault:
    return PinVault(b"test-secret-held-outside-the-database")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(OPEN_INSTANT)


@pytest.fixture
def host(vault: PinVault) -> MemoryHost:
    today = OPEN_INSTANT.date()
    long_ago = dt.date(2010, 4, 1)
    h = MemoryHost()
    taro = Customer("c-taro", "ﾃﾞｰﾀ ﾀﾛｳ", dt.date(1985, 4, 1), "09012343333", "データ太郎")
    h.add(
        taro,
        [
            Account(
                MANUAL,
                taro.customer_id,
                long_ago,
                card=vault.card("card-1", long_ago, "1357"),
                balance=120_000,
            ),
            Account(NO_CARD, taro.customer_id, long_ago),
            Account(
                NEW,
                taro.customer_id,
                today,
                card=vault.card("card-2", today + dt.timedelta(7), "1357"),
            ),
            Account(
                CLOSED,
                taro.customer_id,
                long_ago,
                AccountStatus.CLOSED,
                card=vault.card("card-3", long_ago, "1357"),
            ),
            Account(
                CURRENT, taro.customer_id, long_ago, card=vault.card("card-4", long_ago, "1357")
            ),
        ],
        {
            MANUAL: [
                Transaction(
                    f"{i:08d}",
                    today - dt.timedelta(days=i),
                    today - dt.timedelta(days=i),
                    "1",
                    1000,
                    "ｷﾕｳﾖ",
                    120_000,
                )
                for i in range(150, -1, -1)
            ]
        },
    )
    hanako = Customer("c-hanako", "ｷﾔﾉﾝ ﾊﾅｺ", dt.date(1990, 12, 31), "0336221234")
    h.add(
        hanako,
        [
            Account(
                MOVED_FROM,
                hanako.customer_id,
                long_ago,
                card=vault.card("card-5", long_ago, "2468"),
            ),
            Account(
                OTHER, hanako.customer_id, long_ago, card=vault.card("card-6", long_ago, "8642")
            ),
        ],
    )
    h.move(MOVED_FROM, MOVED_TO, dt.date(2025, 1, 6))
    return h


@pytest.fixture
def journal() -> list[Event]:
    return []


@pytest.fixture
def engine(
    host: MemoryHost, vault: PinVault, clock: FixedClock, journal: list[Event]
) -> ConnectFlow:
    return ConnectFlow(
        BankRules(), host, host, vault, clock, random.Random(7), journal=journal.append
    )


@pytest.fixture
def new_flow(engine: ConnectFlow) -> FlowState:
    return engine.start(
        "creco", "http://127.0.0.1:8765/callback", ("accounts", "transactions"), "xyz", "challenge"
    )


# -- the databases the store runs on (SQLite and PostgreSQL) ----------------------------------

#: Set by scripts/test when it could start PostgreSQL (scripts/postgres.sh).
POSTGRES_URL = os.environ.get("RENKEI_TEST_DATABASE_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the test PostgreSQL database with
    every table dropped (the tests that use it run one at a time)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'renkei.db'}"
    if not POSTGRES_URL:
        pytest.skip(
            "no PostgreSQL: scripts/test starts one as root, or set RENKEI_TEST_DATABASE_URL"
        )
    engine = create_engine(POSTGRES_URL)
    try:
        metadata.drop_all(engine)
    finally:
        engine.dispose()
    return POSTGRES_URL
