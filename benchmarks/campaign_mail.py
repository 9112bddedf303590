"""Campaign: the completion mail's outbox against servers that never finish, and a
process killed in the middle of a conversation. On demand only.

    .venv/bin/python benchmarks/campaign_mail.py [--rounds 3] [--deadline 2]
        [--lease 3] [--database-url URL]

Each round, on 127.0.0.1 only, with renkei's own outbox (simulator.web.mail) and
its own SQLite file (or ``--database-url``):

1. **drip**: a server that sends a ``220-`` line every second and never the last;
   measured, from the mail's posting, until the outbox has abandoned the
   conversation and written its retry;
2. **silent**: a server that accepts and says nothing; the same;
3. **killed**: a child process claims the mail (lease ``--lease``), talks to the
   silent server and is SIGKILLed; measured, from its claim, until another outbox
   has delivered the mail to renkei's sink (the lease and at most one sweep,
   a quarter lease).

It prints each figure, its bound (the deadline; the lease and a quarter lease)
and exits 1 when one is over its bound by more than a second, or a mail was
delivered other than once. Each round takes about the deadline twice and the
lease once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from renkei.args import OneLineParser, positive_int  # noqa: E402
from simulator.core.clock import JST  # noqa: E402
from simulator.core.mail import Mail  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402
from simulator.store.database import open_database  # noqa: E402
from simulator.web.mail import Outbox, lease_seconds, start_sink, sweep_seconds  # noqa: E402
from simulator.web.service import Service, ServiceConfig  # noqa: E402

MAIL = Mail(
    sender="api-renkei@webcenter.anser.or.jp", to="taro@example.jp", subject="件名", body="本文"
)
#: The longest a test server talks to one connection (it is closed long before).
TALK_SECONDS = 3600
CHILD = """
import sys
from simulator.store.database import open_database
from simulator.store.state import SqlMailbox
from simulator.web.mail import converse, to_email
url, sandbox, port, mail_id, lease = sys.argv[1:]
box = SqlMailbox(open_database(url), sandbox=sandbox)
mail, attempt = box.take(int(mail_id), lease=float(lease))
converse("127.0.0.1", int(port), to_email(mail), 600.0)
"""


def serve(speak: Callable[[socket.socket], None]) -> tuple[socket.socket, list[int]]:
    """A loopback server speaking ``speak`` to each connection; answers its listening
    socket (close it to stop) and the count of connections so far."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen = [0]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            seen[0] += 1
            threading.Thread(target=talk, args=(conn,), daemon=True).start()

    def talk(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client went
            speak(conn)

    threading.Thread(target=accept, daemon=True).start()
    return listener, seen


def drip(conn: socket.socket) -> None:
    for _ in range(TALK_SECONDS):
        conn.sendall(b"220-still greeting\r\n")
        if select.select([conn], [], [], 1.0)[0] and not conn.recv(4096):
            return


def silent(conn: socket.socket) -> None:
    for _ in range(TALK_SECONDS * 10):
        if select.select([conn], [], [], 0.1)[0] and not conn.recv(4096):
            return


def wait(what: Callable[[], bool], bound: float) -> float:
    """Seconds until ``what()`` holds (at most ``bound``, else SystemExit)."""
    start = time.monotonic()
    while not what():
        if time.monotonic() - start > bound:
            raise SystemExit(f"campaign_mail: nothing happened within {bound:g} s")
        time.sleep(0.005)
    return time.monotonic() - start


def status(service: Service, mail_id: int) -> str:
    return next(str(m["status"]) for m in service.mailbox.sent() if m["id"] == mail_id)


class Campaign:
    """The servers, renkei's sink and an outbox, on one database."""

    def __init__(self, url: str, deadline: float, lease: float) -> None:
        self.url, self.deadline, self.lease = url, deadline, lease
        #: The longest one wait may take: twice what the rules allow, and 10 s.
        self.bound = 2 * (deadline + lease) + 10
        self.db = open_database(url)
        self.scenario = load_scenario(ROOT / "scenarios/default.yaml")
        self.dripping, _ = serve(drip)
        self.quiet, self.connections = serve(silent)
        self.sink, self.sink_port = start_sink(self.service(0))
        self.outbox = Outbox()
        self.now = dt.datetime.now(JST)  # noqa: TID251 - the mails' date only

    def service(self, port: int) -> Service:
        """A sandbox of its own, mailing to 127.0.0.1:``port``."""
        config = ServiceConfig(
            database_url=self.url, admin_token="campaign", pin_key=b"p" * 32,
            secret_key=b"s" * 32, smtp_host="127.0.0.1", smtp_port=port,
            sandbox_id=secrets.token_hex(8), mail_deadline_seconds=self.deadline,
            mail_lease_seconds=self.lease, mail_retry_seconds=600.0,
        )  # fmt: skip
        return Service(config, self.scenario, db=self.db, seed=False)

    def abandoned(self, server: socket.socket) -> float:
        """Seconds from posting a mail to ``server`` until its retry is written."""
        stuck = self.service(int(server.getsockname()[1]))
        mail_id = stuck.mailbox.queue(self.now, MAIL)
        self.outbox.post(stuck, mail_id)
        return wait(
            lambda: stuck.mailbox.attempts(mail_id) == 1 and status(stuck, mail_id) == "queued",
            self.bound,
        )

    def taken_over(self) -> tuple[float, float, bool]:
        """Seconds from a child's claim (it is killed in its conversation) until the
        mail is delivered by this outbox; the bound; whether it was delivered once."""
        sent = self.service(self.sink_port)
        mail_id = sent.mailbox.queue(self.now, MAIL)
        before = self.connections[0]
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, self.url, sent.sandbox,
             str(self.quiet.getsockname()[1]), str(mail_id), str(self.lease)],
            cwd=ROOT,
        )  # fmt: skip
        wait(lambda: self.connections[0] > before, self.bound)
        claimed = time.monotonic()  # the child has claimed it, and is in its conversation
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=self.bound)
        self.outbox.adopt(sent)
        wait(lambda: status(sent, mail_id) == "delivered", self.bound)
        took = time.monotonic() - claimed
        bound = lease_seconds(sent.config) + sweep_seconds(sent.config)
        return took, bound, [m["status"] for m in sent.mailbox.sent()] == ["delivered"]

    def close(self) -> None:
        self.outbox.stop()
        self.sink.stop()
        self.dripping.close()
        self.quiet.close()
        self.db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--deadline", type=float, default=2.0, help="seconds (2)")
    parser.add_argument("--lease", type=float, default=3.0, help="seconds (3)")
    parser.add_argument("--database-url", metavar="URL")
    args = parser.parse_args(argv)
    rows: list[tuple[str, float, float]] = []
    once = True
    with tempfile.TemporaryDirectory() as tmp:
        campaign = Campaign(
            args.database_url or f"sqlite:///{Path(tmp) / 'mail.db'}", args.deadline, args.lease
        )
        try:
            for _ in range(args.rounds):
                rows.append(("drip", campaign.abandoned(campaign.dripping), args.deadline))
                rows.append(("silent", campaign.abandoned(campaign.quiet), args.deadline))
                took, bound, single = campaign.taken_over()
                rows.append(("killed", took, bound))
                once &= single
        finally:
            campaign.close()
    print(f"{'case':8} {'seconds':>8} {'bound':>8}")
    over = False
    for name, took, bound in rows:
        late = took > bound + 1.0
        over |= late
        print(f"{name:8} {took:8.2f} {bound:8.2f}{'  OVER' if late else ''}")
    print("killed mid-send, delivered exactly once: " + ("yes" if once else "NO"))
    return 1 if over or not once else 0


if __name__ == "__main__":
    sys.exit(main())
