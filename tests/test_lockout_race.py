"""The lockout cannot be overrun while the database's writes stall (issue 16, item 1).

With k failures counted and the threshold T, at most T − k wrong answers on ②
and ⑤ are judged, and a right one only while a failure is left; the others
answer B84 unjudged (R-ERR-HOST-3/4). The lockout judges an answer inside the
ledger's atomic step that counts its failure (capped at T), and a right answer
undoes the count (:meth:`simulator.core.lockout.Lockout.judge`).

The race over HTTP: another connection holds the database's write lock (SQLite
``BEGIN IMMEDIATE``, PostgreSQL ``LOCK TABLE failures IN EXCLUSIVE MODE``)
while N submissions, one of them right, arrive on one account with T − 1
failures counted: every one of them reads the account as not locked. A spy in
the server notes each reservation and each judgment; the lock is let go once all
N have arrived, and the judgments, the answers and the ledger are compared.
Judging first and counting after judged all N while the lock was held, and
accepted the right one whatever was judged before it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from bankdriver import bank_config
from helpers import MANUAL, OPEN_INSTANT
from sqlalchemy import create_engine, make_url

from harness.driver import Browser, PartnerApp, Phone, Sandbox
from harness.embedded import free_port, wait_until_answers
from harness.personas import load_personas
from simulator.core import errors, guards
from simulator.core.host import AccountKey, PinVault, identity_matches
from simulator.core.lockout import Lockout, Reservation
from simulator.core.memory import MemoryHost
from simulator.scenario import load_scenario
from simulator.store.database import open_database
from simulator.store.host import SqlHost
from simulator.web.server import start_in_thread

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SCENARIO = load_scenario(ROOT / "scenarios" / "default.yaml")
T = SCENARIO.rules.lockout.threshold
LOCKOUT = load_personas()["lockout"]
ACCOUNT, PHONE, DETAILS = LOCKOUT.account, LOCKOUT.phone, LOCKOUT.details()
ADMIN = "lockout-race-admin-token"
OPEN = "2026-12-02T10:00:00+09:00"  # a Wednesday morning: open
#: Submissions racing on the account: the first right, the others wrong.
N = 8
#: Bounds: how long the spy may take to see all N arrive (well inside SQLite's
#: 10 s busy timeout, which the held lock runs against), and an answer.
ARRIVAL_SECONDS = 5.0
ANSWER_SECONDS = 30.0
DAY = OPEN_INSTANT.date()


# -- the rule in the core ---------------------------------------------------------------------


@dataclass
class Recording:
    """A ledger (the in-memory one) that notes when an atomic step begins and how it ends."""

    host: MemoryHost = field(default_factory=MemoryHost)
    notes: list[str] = field(default_factory=list)

    def failures(self, account: AccountKey, day: dt.date) -> int:
        return self.host.failures(account, day)

    def add_failure(self, account: AccountKey, day: dt.date, ceiling: int) -> int | None:
        return self.host.add_failure(account, day, ceiling)

    @contextmanager
    def reserve_failure(
        self, account: AccountKey, day: dt.date, ceiling: int
    ) -> Iterator[Reservation]:
        with self.host.reserve_failure(account, day, ceiling) as reserved:
            self.notes.append(f"counted {reserved.count}")
            yield reserved
            self.notes.append("undone" if reserved.given_back else "kept")

    def clear(self, account: AccountKey, day: dt.date) -> None:
        self.host.clear(account, day)


def judge(ledger: Recording, right: bool) -> str:
    """One answer judged by the rule: what it answered."""

    def check() -> bool:
        ledger.notes.append("judged")
        return right

    try:
        Lockout(T).judge(ledger, MANUAL, OPEN_INSTANT, check)
    except errors.RenkeiError as error:
        return error.code
    return "accepted"


def test_an_answer_is_judged_inside_the_step_that_counts_its_failure() -> None:
    """With k = T − 1: a right answer is judged with its failure counted and undone
    (nothing left behind), a wrong one keeps it and locks, and then an answer finds
    nothing to count and is not judged at all."""
    ledger = Recording()
    for _ in range(T - 1):
        ledger.add_failure(MANUAL, DAY, T)
    assert judge(ledger, right=True) == "accepted"
    assert ledger.notes == [f"counted {T}", "judged", "undone"]
    assert ledger.failures(MANUAL, DAY) == T - 1
    ledger.notes.clear()
    assert judge(ledger, right=False) == "locked_now"
    assert ledger.notes == [f"counted {T}", "judged", "kept"]
    ledger.notes.clear()
    assert judge(ledger, right=True) == "B84"
    assert ledger.notes == ["counted None", "kept"]
    assert ledger.failures(MANUAL, DAY) == T


def test_a_right_answer_leaves_the_ledger_as_it_found_it() -> None:
    """Sequentially (the twin) nothing changes: a right answer counts nothing and
    leaves no entry, a wrong one counts one, a judge that fails counts nothing."""
    ledger, rule = MemoryHost(), Lockout(T)
    rule.judge(ledger, MANUAL, OPEN_INSTANT, lambda: True)
    assert ledger.failures(MANUAL, DAY) == 0 and not ledger._failures
    with pytest.raises(errors.IdentityMismatch):
        rule.judge(ledger, MANUAL, OPEN_INSTANT, lambda: False)

    def broken() -> bool:
        raise RuntimeError("the judge failed")

    with pytest.raises(RuntimeError):
        rule.judge(ledger, MANUAL, OPEN_INSTANT, broken)
    rule.judge(ledger, MANUAL, OPEN_INSTANT, lambda: True)
    assert ledger.failures(MANUAL, DAY) == 1


def test_the_sql_ledger_keeps_or_undoes_a_reservation(database_url: str) -> None:
    """A reservation kept counts one; given back, or left by an error, it counts
    nothing and leaves no row; concurrent reservations wait for each other."""
    engine = open_database(database_url)
    try:
        ledger = SqlHost(engine)
        with ledger.reserve_failure(MANUAL, DAY, T) as reserved:
            assert reserved.count == 1
            reserved.give_back()
        assert ledger.locks(DAY, threshold=0) == []  # no row
        with pytest.raises(RuntimeError), ledger.reserve_failure(MANUAL, DAY, T) as reserved:
            raise RuntimeError("the judge failed")
        assert ledger.locks(DAY, threshold=0) == []
        with ledger.reserve_failure(MANUAL, DAY, 1) as reserved:
            assert reserved.count == 1
        with ledger.reserve_failure(MANUAL, DAY, 1) as reserved:
            assert reserved.count is None  # at the ceiling: nothing counted
        assert ledger.failures(MANUAL, DAY) == 1
        ledger.clear(MANUAL, DAY)

        seen: list[int | None] = []

        def reserve(keep: bool) -> None:
            for _ in range(10):
                with SqlHost(engine).reserve_failure(MANUAL, DAY, 1000) as held:
                    seen.append(held.count)
                    if not keep:
                        held.give_back()

        threads = [threading.Thread(target=reserve, args=(i % 2 == 0,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # 30 kept and 30 undone: each reservation counted from what the last one left.
        assert ledger.failures(MANUAL, DAY) == 30
        assert len(seen) == 60 and max(c or 0 for c in seen) <= 31
    finally:
        engine.dispose()


# -- the race over HTTP --------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """② or ⑤'s 「次へ」: where it posts, a right and a wrong answer, where right leads."""

    name: str
    path: str
    right: dict[str, str]
    wrong: dict[str, str]
    next_screen: str


WRONG_PIN = "0000" if LOCKOUT.pin != "0000" else "1111"
BUTTONS = {
    "customer": Button("②", "/connect/customer", DETAILS,
                       {**DETAILS, "phone": "09000000000"}, "SOA208"),
    "pin": Button("⑤", "/connect/pin", {"pin": LOCKOUT.pin}, {"pin": WRONG_PIN}, "SOA206"),
}  # fmt: skip


def install_spy(patch: Callable[[Any, str, Any], None], path: str) -> None:
    """Note in ``path``, one line each, every reservation of a failure and every
    judgment of ② or ⑤ (right or wrong), with who made it (process and thread).

    ``patch`` sets an attribute (pytest's monkeypatch in this process; ``setattr``
    in a server started with :data:`LAUNCH`, whose workers inherit it). Lines are
    appended with O_APPEND, so the processes' lines never mix."""

    def note(what: str) -> None:
        out = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(out, f"{os.getpid()}.{threading.get_ident()} {what}\n".encode())
        finally:
            os.close(out)

    reserve, verify, matches = SqlHost.reserve_failure, PinVault.verify, identity_matches

    def reserving(self: SqlHost, *args: Any) -> AbstractContextManager[Reservation]:
        note("reserving")  # before it waits for the step to begin
        return reserve(self, *args)

    def verifying(self: PinVault, *args: Any) -> bool:
        right = verify(self, *args)
        note("judged " + ("right" if right else "wrong"))
        return right

    def matching(*args: Any) -> bool:
        right = matches(*args)
        note("judged " + ("right" if right else "wrong"))
        return right

    patch(SqlHost, "reserve_failure", reserving)
    patch(PinVault, "verify", verifying)
    patch(guards, "identity_matches", matching)


#: ``renkei serve`` (argv[2:]) with the spy installed first (argv[1]: its file).
LAUNCH = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_lockout_race as t; "
    "t.install_spy(setattr, sys.argv[1]); from simulator.serve import main; "
    "sys.exit(main(sys.argv[2:]))"
)


@dataclass
class Bank:
    url: str
    spy: Path


@pytest.fixture(params=["threads", "workers"])
def bank(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Bank]:
    """The bank with the spy: in this process (waitress's threads), or ``renkei
    serve --workers 2`` (two processes on one port and one database)."""
    spy = tmp_path / "spy.log"
    if request.param == "threads":
        install_spy(monkeypatch.setattr, str(spy))
        config = replace(bank_config(tmp_path, ADMIN), database_url=database_url)
        running = start_in_thread(config, SCENARIO, threads=2 * N)
        try:
            Sandbox(running.url, ADMIN).set_clock(OPEN)
            yield Bank(running.url, spy)
        finally:
            running.stop()
        return
    url = f"http://127.0.0.1:{free_port()}"
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(spy), "--port", url.rsplit(":", 1)[1],
         "--data-dir", str(tmp_path / "data"), f"--admin-token={ADMIN}",
         "--database-url", database_url, "--workers", "2", "--threads", str(2 * N)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()  # the child has its own copy
    try:
        wait_until_answers(url, 60, lambda: None if process.poll() is None else "exited")
        Sandbox(url, ADMIN).set_clock(OPEN)
        yield Bank(url, spy)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def on_screen(url: str, button: Button) -> Browser:
    """A new flow of the lockout persona's account on ``button``'s screen."""
    browser, app = Browser(url), PartnerApp(url)
    answer = browser.follow(browser.open(app.authorize_url()))
    app.close()
    assert answer.screen_id == "SOA201", answer.body
    answer = browser.follow(browser.post("/connect/account", ACCOUNT))
    assert answer.screen_id == "SOA202", answer.body
    if button.path == "/connect/customer":
        return browser
    answer = browser.follow(browser.post("/connect/customer", DETAILS))
    assert answer.screen_id == "SOA208", answer.body
    answer = browser.follow(browser.post("/connect/phone"))
    assert answer.screen_id == "SOA209", answer.body
    phone = Phone(url, PHONE, admin_token=ADMIN)
    assert phone.call(str(answer.body["call_to"]))["verified"]
    phone.close()
    answer = browser.follow(browser.post("/connect/call"))
    assert answer.screen_id == "SOA211", answer.body
    return browser


@contextmanager
def write_lock(database_url: str) -> Iterator[None]:
    """The database's write lock, held by a connection of its own until the block ends."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), timeout=10, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
            holder.execute("ROLLBACK")
        finally:
            holder.close()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            # Begun by the statement; held until the rollback (or the close).
            c.exec_driver_sql("LOCK TABLE failures IN EXCLUSIVE MODE")
            yield
            c.rollback()
    finally:
        engine.dispose()


def spied(spy: Path, after: int) -> list[tuple[str, str]]:
    """The spy's lines since byte ``after``: (who, what)."""
    lines = spy.read_bytes()[after:].decode().splitlines()
    return [(who, what) for who, _, what in (line.partition(" ") for line in lines)]


def answer_of(answer: Any) -> str:
    if answer.codes:
        return "+".join(answer.codes)
    if answer.status == 303:
        return "accepted"
    return f"{answer.status} {answer.body}"


@pytest.mark.parametrize("screen", ["pin", "customer"])
def test_r_err_host_3_4_at_most_the_failures_left_are_judged_while_writes_stall(
    bank: Bank, database_url: str, screen: str
) -> None:
    button = BUTTONS[screen]
    browsers = [on_screen(bank.url, button) for _ in range(N)]
    for _ in range(T - 1):  # k = T − 1: one failure left
        assert browsers[-1].post(button.path, button.wrong).codes == ["identity_mismatch"]
    start = bank.spy.stat().st_size if bank.spy.exists() else 0
    answers: list[str] = [""] * N

    def press(i: int) -> None:
        answers[i] = answer_of(
            browsers[i].post(button.path, button.right if i == 0 else button.wrong)
        )

    threads = [threading.Thread(target=press, args=(i,)) for i in range(N)]
    with write_lock(database_url):
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + ARRIVAL_SECONDS
        while len({who for who, _ in spied(bank.spy, start)}) < N:
            assert time.monotonic() < deadline, f"not all {N} arrived: {spied(bank.spy, start)}"
            time.sleep(0.01)
        # Every submission has read the account as not locked and waits on the lock.
        arrived = spied(bank.spy, start)
        assert all(what == "reserving" for _, what in arrived), f"judged unreserved: {arrived}"
    for thread in threads:
        thread.join(timeout=ANSWER_SECONDS)
    for browser in browsers:
        browser.close()

    judged = [
        what.removeprefix("judged ")
        for _, what in spied(bank.spy, start)
        if what.startswith("judged")
    ]
    # One failure left: a wrong answer judged first takes it and the right one is
    # not judged; or the right one is judged first, undoes its count, and one of
    # the wrong answers waiting for it is judged after it. Every other answer is
    # B84, unjudged, and the day ends at the threshold.
    assert judged in (["wrong"], ["right", "wrong"]), judged
    assert answers[0] == ("accepted" if judged[0] == "right" else "B84"), answers
    assert Counter(answers[1:]) == {"locked_now": 1, "B84": N - 2}, answers
    locks = Sandbox(bank.url, ADMIN).locks()
    mine = [entry["failures"] for entry in locks if entry["account"] == LOCKOUT.account_id]
    assert mine == [T], locks
