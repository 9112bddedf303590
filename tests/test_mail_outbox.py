"""The completion mail's outbox (R-AUTHZ-5): recorded first, sent by a thread.

「許可する」 no longer waits for the SMTP conversation; the mail is in the
mailbox as ``queued`` before the answer, and a mail that a process left queued
when it died is sent by the next outbox. ``GET /sandbox/mail`` waits until the
queue has settled, so a tester reading it right after 「許可する」 sees the mail.

Issue 16, item 5: no SMTP server holds the outbox (a conversation's deadline), and
a mail claimed by a process that died is taken over when its lease lapses.
"""

from __future__ import annotations

import datetime as dt
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from bankdriver import bank_config
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
)

from simulator.core.clock import JST
from simulator.core.mail import Mail
from simulator.scenario import load_scenario
from simulator.store.database import open_database
from simulator.store.schema import ROOT as ROOT_SANDBOX
from simulator.store.state import SqlMailbox
from simulator.web.mail import REPLY_BYTES, Outbox, lease_seconds, retry_wait, start_sink
from simulator.web.server import start_in_thread
from simulator.web.service import Service, ServiceConfig

ROOT = Path(__file__).resolve().parents[1]


def test_a_mail_left_queued_is_sent_by_the_next_outbox(tmp_path: Path) -> None:
    config = bank_config(tmp_path, "outbox-admin")
    running = start_in_thread(config, load_scenario(ROOT / "scenarios/default.yaml"))
    try:
        left = Mail(
            sender="api-renkei@webcenter.anser.or.jp",
            to="taro@example.jp",
            subject="API連携完了のお知らせ",
            body="本文",
        )
        # As a process that died between recording and sending would leave it.
        mail_id = running.service.mailbox.queue(dt.datetime(2026, 12, 2, 10, tzinfo=JST), left)
        assert running.service.mailbox.unsettled() == 1
        answer = requests.get(
            running.url + "/sandbox/mail",
            headers={"Authorization": "Bearer outbox-admin"},
            timeout=30,
        ).json()["mail"]
        assert [(m["id"], m["to"], m["status"]) for m in answer] == [
            (mail_id, "taro@example.jp", "delivered")
        ]
        assert running.service.mailbox.unsettled() == 0
    finally:
        running.stop()


# -- issue 16, item 5: leases and deadlines, with real sockets ---------------------------------
#
# The SMTP-like servers below run in a thread of the test on 127.0.0.1; each listens for
# the test's duration only and is closed at its end. Every wait is bounded (``until``).

SCENARIO = load_scenario(ROOT / "scenarios/default.yaml")
MAIL = Mail(
    sender="api-renkei@webcenter.anser.or.jp",
    to="taro@example.jp",
    subject="API連携完了のお知らせ",
    body="本文",
)
NOW = dt.datetime(2026, 12, 2, 10, tzinfo=JST)
#: The bound of every wait of these tests: far above what each takes (a few seconds).
BOUND = 30.0


def until(what: Callable[[], bool], seconds: float = BOUND) -> None:
    """Wait until ``what()`` holds; fail if it does not within ``seconds``."""
    end = time.monotonic() + seconds
    while not what():
        if time.monotonic() > end:
            raise AssertionError(f"not within {seconds} s: {what.__doc__ or what}")
        time.sleep(0.02)


class FakeSmtp:
    """A server on 127.0.0.1 that speaks as ``speak`` says to every connection, in a
    thread of its own; ``abandoned`` counts the connections the client closed on it."""

    def __init__(self, speak: Callable[[socket.socket, threading.Event], None]) -> None:
        self.speak = speak
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.stopping = threading.Event()
        self.connections = 0
        self.abandoned = 0
        self.threads: list[threading.Thread] = []
        accepting = threading.Thread(target=self._accept, daemon=True)
        accepting.start()
        self.threads.append(accepting)

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            serving = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            serving.start()
            self.threads.append(serving)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.speak(conn, self.stopping)
            except OSError:  # the client shut its side while we spoke
                self.abandoned += 1

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        for thread in self.threads:
            thread.join(timeout=BOUND)


def closed_by_client(conn: socket.socket, wait: float) -> bool:
    """Whether the client closed the connection within ``wait`` seconds (it reads
    whatever the client sent meanwhile)."""
    readable, _, _ = select.select([conn], [], [], wait)
    return bool(readable) and conn.recv(4096) == b""


def drip(conn: socket.socket, stopping: threading.Event) -> None:
    """A ``220-`` line every second, never the last one (issue 16's attack)."""
    while not stopping.is_set():
        conn.sendall(b"220-renkei test: still greeting\r\n")
        if closed_by_client(conn, 1.0):
            raise ConnectionAbortedError("the client gave up")


def silent(conn: socket.socket, stopping: threading.Event) -> None:
    """Accepts, and says nothing."""
    while not stopping.is_set():
        if closed_by_client(conn, 0.1):
            raise ConnectionAbortedError("the client gave up")


def flood(conn: socket.socket, stopping: threading.Event) -> None:
    """``220-`` lines as fast as the socket takes them."""
    line = b"220-" + b"x" * 1000 + b"\r\n"
    while not stopping.is_set():
        conn.sendall(line)


def refuse(conn: socket.socket, stopping: threading.Event) -> None:
    """Greets, then refuses the sender for good (550)."""
    conn.sendall(b"220 renkei test\r\n")
    reader = conn.makefile("rb")
    while not stopping.is_set() and (line := reader.readline()):
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            conn.sendall(b"250 renkei test\r\n")
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"550 no such sender here\r\n")


@pytest.fixture
def servers() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], FakeSmtp]]:
    started: list[FakeSmtp] = []

    def start(speak: Callable[[socket.socket, threading.Event], None]) -> FakeSmtp:
        started.append(FakeSmtp(speak))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def outboxes() -> Iterator[Callable[[], Outbox]]:
    """Outboxes of the test's own, beside the process's one, stopped at its end."""
    made: list[Outbox] = []

    def make() -> Outbox:
        made.append(Outbox())
        return made[-1]

    yield make
    for outbox in made:
        outbox.stop()


def mail_service(db: Engine, port: int, **mail: Any) -> Service:
    """A sandbox's Service of its own on ``db`` (no scenario data: only its mailbox is
    used), sending to 127.0.0.1:``port`` with the outbox's settings ``mail``."""
    config = ServiceConfig(
        database_url=db.url.render_as_string(hide_password=False),
        admin_token="outbox-admin",
        pin_key=b"p" * 32,
        secret_key=b"s" * 32,
        smtp_host="127.0.0.1",
        smtp_port=port,
        sandbox_id=secrets.token_hex(8),
        **mail,
    )
    return Service(config, SCENARIO, db=db, seed=False)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Engine]:
    db = open_database(f"sqlite:///{tmp_path / 'mail.db'}")
    yield db
    db.dispose()


def status(service: Service, mail_id: int) -> str:
    return next(str(m["status"]) for m in service.mailbox.sent() if m["id"] == mail_id)


def failures(service: Service) -> list[dict[str, Any]]:
    return [e["detail"] for e in service.log.entries() if e["kind"] == "mail_failed"]


def test_a_dripping_server_is_abandoned_at_the_deadline_and_the_next_mail_goes(
    sqlite_db: Engine, servers: Any, outboxes: Any
) -> None:
    """The server drips a ``220-`` line every second, within smtplib's timeout of each
    read: the deadline (2 s) ends the conversation, and the thread sends the mail
    queued behind it."""
    dripping = servers(drip)
    stuck = mail_service(
        sqlite_db, dripping.port, mail_deadline_seconds=2.0, mail_retry_seconds=60.0
    )
    sink, sink_port = start_sink(stuck)
    try:
        fine = mail_service(sqlite_db, sink_port)
        outbox = outboxes()
        held = stuck.mailbox.queue(NOW, MAIL)
        outbox.post(stuck, held)
        behind = fine.mailbox.queue(NOW, MAIL)
        outbox.post(fine, behind)
        until(lambda: status(fine, behind) == "delivered")
        until(lambda: dripping.abandoned == 1)
        assert status(stuck, held) == "queued"  # to be tried again in 60 s
        assert stuck.mailbox.attempts(held) == 1
        [failed] = failures(stuck)
        assert "deadline of 2 s" in failed["error"] and failed["retry_in"] == 60.0
    finally:
        sink.stop()


def test_a_silent_server_is_abandoned_tried_again_and_given_up(
    sqlite_db: Engine, servers: Any, outboxes: Any
) -> None:
    """A server that accepts and says nothing: abandoned at the deadline, tried again
    after the retry wait, and ``failed`` after the attempts allowed (2 here)."""
    quiet = servers(silent)
    service = mail_service(
        sqlite_db, quiet.port,
        mail_deadline_seconds=0.5, mail_retry_seconds=0.2, mail_attempts=2,
    )  # fmt: skip
    outbox = outboxes()
    mail_id = service.mailbox.queue(NOW, MAIL)
    outbox.post(service, mail_id)
    until(lambda: status(service, mail_id) == "failed")
    assert service.mailbox.attempts(mail_id) == 2
    until(lambda: quiet.abandoned == 2)
    first, last = failures(service)
    assert first["retry_in"] == 0.2 and last["gave_up"] is True
    assert all("deadline of 0.5 s" in f["error"] for f in (first, last))
    assert service.mailbox.unsettled() == 0  # GET /sandbox/mail does not wait on it


def test_a_flooding_server_is_cut_off_and_a_refusing_one_given_up_at_once(
    sqlite_db: Engine, servers: Any, outboxes: Any
) -> None:
    """``220-`` lines as fast as loopback carries them are cut off at 64 KiB, long
    before the deadline (30 s); a 5xx refusal is final: no second attempt."""
    flooding, refusing = servers(flood), servers(refuse)
    flooded = mail_service(sqlite_db, flooding.port, mail_retry_seconds=60.0)
    refused = mail_service(sqlite_db, refusing.port, mail_retry_seconds=0.1)
    outbox = outboxes()
    first, second = flooded.mailbox.queue(NOW, MAIL), refused.mailbox.queue(NOW, MAIL)
    outbox.post(flooded, first)
    outbox.post(refused, second)
    until(lambda: status(refused, second) == "failed")
    [cut] = failures(flooded)
    assert f"more than {REPLY_BYTES} bytes" in cut["error"] and status(flooded, first) == "queued"
    [final] = failures(refused)
    assert "550" in final["error"] and final["gave_up"] is True
    assert refused.mailbox.attempts(second) == 1


class Wall:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.at = dt.datetime(2026, 12, 2, 10, tzinfo=JST)

    def now(self) -> dt.datetime:
        return self.at


def test_a_claim_is_held_for_its_lease_then_taken_over(database_url: str) -> None:
    """SqlMailbox's lease on SQLite and PostgreSQL: another outbox cannot take a
    claimed mail before the lease lapses, takes it after; the first claim's late
    result changes nothing; a mail whose outbox died on it at every attempt fails."""
    db = open_database(database_url)
    try:
        wall = Wall()
        first, second = SqlMailbox(db, wall=wall), SqlMailbox(db, wall=wall)
        mail_id = first.queue(NOW, MAIL)
        assert first.take(mail_id, lease=120, attempts=3) == (MAIL, 1)
        wall.at += dt.timedelta(seconds=119)
        assert second.due() == [] and second.take(mail_id, lease=120, attempts=3) is None
        assert SqlMailbox.due_everywhere(db, wall) == []
        wall.at += dt.timedelta(seconds=1)
        assert second.due() == [mail_id]
        assert SqlMailbox.due_everywhere(db, wall) == [(ROOT_SANDBOX, mail_id)]
        assert second.take(mail_id, lease=120, attempts=3) == (MAIL, 2)
        assert second.take(mail_id, lease=120, attempts=3) is None  # one at a time
        # The first outbox comes back from the dead: its claim is no longer the mail's.
        assert not first.mark(mail_id, "sent", attempt=1)
        assert not first.retry(mail_id, 1, 30.0)
        assert second.retry(mail_id, 2, 30.0)
        assert second.due() == [] and second.unsettled() == 0  # waiting for its retry
        wall.at += dt.timedelta(seconds=30)
        assert second.take(mail_id, lease=120, attempts=3) == (MAIL, 3)
        wall.at += dt.timedelta(seconds=120)  # the third outbox died too
        assert second.take(mail_id, lease=120, attempts=3) is None
        assert [m["status"] for m in second.sent()] == ["failed"]
    finally:
        db.dispose()


#: A server process's outbox in the middle of a conversation: it claims mail MAIL_ID of
#: SANDBOX for 2 s and talks to a server that says nothing, until it is killed.
MID_SEND = """
import sys
from simulator.store.database import open_database
from simulator.store.schema import ROOT as ROOT_SANDBOX
from simulator.store.state import SqlMailbox
from simulator.web.mail import converse, to_email
url, sandbox, port, mail_id = sys.argv[1:]
mail, attempt = SqlMailbox(open_database(url), sandbox=sandbox).take(int(mail_id), lease=2.0)
converse("127.0.0.1", int(port), to_email(mail), 600.0)
"""


def test_a_mail_claimed_by_a_process_killed_mid_send_is_sent_once_after_the_lease(
    database_url: str, servers: Any, outboxes: Any
) -> None:
    """A server process claims the mail and is SIGKILLed in its conversation; once
    the lease (2 s) lapses, one of two other outboxes sends it, exactly once: on
    SQLite and PostgreSQL."""
    quiet = servers(silent)
    db = open_database(database_url)
    sink, sink_port = start_sink(mail_service(db, 0))
    try:
        service = mail_service(db, sink_port, mail_deadline_seconds=1.0, mail_lease_seconds=2.0)
        mail_id = service.mailbox.queue(NOW, MAIL)
        dying = subprocess.Popen(
            [sys.executable, "-c", MID_SEND, database_url, service.sandbox, str(quiet.port),
             str(mail_id)],
            cwd=ROOT,
        )  # fmt: skip
        try:
            until(lambda: quiet.connections == 1)  # claimed, and in its conversation
        finally:
            dying.send_signal(signal.SIGKILL)
            dying.wait(timeout=BOUND)
        assert dying.returncode == -signal.SIGKILL
        assert status(service, mail_id) == "sending" and service.mailbox.attempts(mail_id) == 1
        one, other = outboxes(), outboxes()
        one.adopt(service)
        other.adopt(service)
        until(lambda: status(service, mail_id) == "delivered")
        one.stop()
        other.stop()
        # Exactly once: a second copy would be filed by the sink as a mail of its own.
        assert [(m["id"], m["status"]) for m in service.mailbox.sent()] == [(mail_id, "delivered")]
        assert service.mailbox.attempts(mail_id) == 2
        assert [e["kind"] for e in service.log.entries()].count("mail_sent") == 1
    finally:
        sink.stop()
        db.dispose()


def test_a_mails_table_of_the_previous_renkei_gets_the_outbox_columns(database_url: str) -> None:
    """A database whose ``mails`` predates the lease: opened, it has ``attempts``, ``due``
    and ``lease``; the mail it left queued is sent as any other (attempts from 0)."""
    old = MetaData()
    Table(
        "mails", old,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("sandbox", String(32), nullable=False, server_default="root"),
        Column("at", String(40), nullable=False),
        Column("sender", String(254), nullable=False),
        Column("recipient", String(254), nullable=False),
        Column("subject", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("status", String(16), nullable=False),
    )  # fmt: skip
    plain = create_engine(database_url)
    try:
        old.create_all(plain)
        with plain.begin() as c:
            c.execute(
                insert(old.tables["mails"]),
                [
                    {"sandbox": "root", "at": NOW.isoformat(), "sender": MAIL.sender,
                     "recipient": MAIL.to, "subject": MAIL.subject, "body": MAIL.body,
                     "status": status}
                    for status in ("delivered", "queued")
                ],
            )  # fmt: skip
    finally:
        plain.dispose()
    for _ in range(2):  # the second opening finds nothing to add
        db = open_database(database_url)
        try:
            columns = {c["name"] for c in inspect(db).get_columns("mails")}
            assert {"attempts", "due", "lease"} <= columns
        finally:
            db.dispose()
    db = open_database(database_url)
    try:
        box = SqlMailbox(db)
        assert [m["status"] for m in box.sent()] == ["delivered", "queued"]
        [left] = box.due()
        assert box.take(left) == (MAIL, 1)
    finally:
        db.dispose()


def test_the_retry_waits_double_until_the_attempts_are_spent() -> None:
    """The documented backoff: 30 s, 1, 2 and 4 min, then given up after 5 attempts."""
    config = ServiceConfig(database_url="", admin_token="", pin_key=b"", secret_key=b"")
    assert [retry_wait(config, n) for n in range(1, 6)] == [30.0, 60.0, 120.0, 240.0, None]
    assert lease_seconds(config) == 120.0
    assert lease_seconds(replace(config, mail_lease_seconds=10.0)) == 31.0
