"""The completion e-mail over SMTP (R-AUTHZ-5) and the embedded sink.

By default ``renkei serve`` starts an SMTP server of its own on loopback
(aiosmtpd) which keeps every message it receives in the mailbox that
``GET /sandbox/mail`` lists; with ``--smtp HOST:PORT`` the mail goes to a real
server instead. Either way it is a real SMTP conversation, and a failure is
logged while the authorization stands. The mailbox keeps each mail's status:
``queued`` (also while it waits to be tried again), ``sending``, ``sent`` (the
server took it), ``delivered`` (renkei's own sink received it) or ``failed``
(given up).

No server can hold the outbox: a whole conversation (connect, greeting, EHLO,
MAIL, RCPT, DATA, QUIT) has a deadline, at which its socket is shut and the mail
tried again later; a mail an outbox claimed is held under a lease, and taken by
another outbox when the lease lapses (its holder died). The figures are the
``mail_*`` fields of :class:`~simulator.web.service.ServiceConfig`; the rules are
in docs/hardening.md, "The completion mail: leases and deadlines".
"""

from __future__ import annotations

import contextlib
import logging
import queue
import smtplib
import socket
import threading
import time
import weakref
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from renkei.contract.sandboxes import is_sandbox_id
from simulator.core.flow import FlowState
from simulator.core.grants import Grant
from simulator.core.mail import Mail, completion_mail
from simulator.store.state import SqlMailbox
from simulator.web.service import Service, ServiceConfig

log = logging.getLogger("renkei")


def to_email(mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    return message


def send_completion_mail(service: Service, flow: FlowState, grant: Grant) -> None:
    """Queue the notice to the address given on ②; never let a failure undo the grant.

    The mail is recorded first (``queued``) and its SMTP conversation is held by
    this process's :class:`Outbox`, so that 「許可する」 answers without waiting for the
    mail server — it was the slowest step of the flow. A mail left
    ``queued`` by a process that died is sent by the next process that sends or
    lists the mail of that sandbox (:meth:`Outbox.adopt`)."""
    if not flow.email or not service.config.smtp_host:
        service.note("mail_skipped", flow.flow_id, reason="no SMTP server configured")
        return
    client = service.clients[flow.client_id]
    mail = completion_mail(service.rules, grant, client.name, flow.email)
    mail_id = service.mailbox.queue(service.clock().now(), mail)
    service.note("mail_queued", flow.flow_id, to=mail.to, mail_id=mail_id)
    OUTBOX.post(service, mail_id)


#: The header that tells renkei's own sink which queued mail it receives.
MAIL_ID_HEADER = "X-Renkei-Mail-Id"
#: And whose: the sandbox that queued it (INTERFACE.md §9; mail ids are the server's).
SANDBOX_HEADER = "X-Renkei-Sandbox"
#: How long GET /sandbox/mail waits for queued mail to be sent.
SETTLE_SECONDS = 5.0


#: The most a server may answer in one conversation: EHLO's list of extensions is
#: well under a kilobyte, so a server that goes on past this only fills memory.
REPLY_BYTES = 64 * 1024


def retry_wait(config: ServiceConfig, attempt: int) -> float | None:
    """How long after its ``attempt``-th conversation failed a mail waits to be tried
    again: ``mail_retry_seconds``, doubled after each further attempt (30 s, 1, 2 and
    4 min by default); None once ``mail_attempts`` were made (given up)."""
    if attempt >= config.mail_attempts:
        return None
    return float(config.mail_retry_seconds * 2 ** (attempt - 1))


def lease_seconds(config: ServiceConfig) -> float:
    """How long a claim holds a mail: never less than the deadline and a second more,
    so that a live conversation's mail is not taken over while it is being held."""
    return max(config.mail_lease_seconds, config.mail_deadline_seconds + 1.0)


#: How often an outbox that has seen no Service looks for due mail.
DEFAULT_SWEEP_SECONDS = 30.0
#: What the outbox's queue carries besides mail: look at the time again; end.
_WAKE, _STOP = "wake", "stop"


def sweep_seconds(config: ServiceConfig) -> float:
    """How often an outbox looks for a Service's due mail: the shorter of the first
    retry wait and a quarter of the lease (30 s by default), so that a retry goes at
    most that late and a mail whose outbox died waits at most the lease and that."""
    return max(min(config.mail_retry_seconds, lease_seconds(config) / 4), 0.05)


class _Capped:
    """The server's replies as smtplib reads them, refused past :data:`REPLY_BYTES`."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.left = REPLY_BYTES

    def readline(self, size: int = -1) -> bytes:
        line: bytes = self.raw.readline(size)
        self.left -= len(line)
        if self.left < 0:
            raise OSError(f"the server answered more than {REPLY_BYTES} bytes")
        return line

    def close(self) -> None:
        self.raw.close()


class DeadlineSMTP(smtplib.SMTP):
    """smtplib's client whose whole conversation ends by ``deadline`` (``time.monotonic``).

    smtplib's timeout bounds each socket operation, not the conversation: a server
    that sends a ``220-`` line every few seconds, never the last, keeps it reading
    for ever. :meth:`expire`, called by a timer at the deadline, shuts the socket,
    which ends any read or write under way; connecting is bounded by the time left.
    (Resolving the name of ``--smtp`` is not: give an address, or a name that
    resolves at once, as ``/etc/hosts`` does.)
    The EHLO name is the connected socket's own address (RFC 5321 §4.1.3), so that
    smtplib does not look the machine's name up in DNS, which no timeout bounds."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._guard = threading.Lock()
        self._live: socket.socket | None = None
        super().__init__(local_hostname="localhost", timeout=self._left())

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError("the deadline passed")
        return left

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # smtplib's own _get_socket is this call, bounded by the time left; then each
        # read and write may take a second past the deadline, so that it is the
        # deadline's timer that ends the conversation (the timeout stays as a backstop).
        sock = socket.create_connection((host, port), self._left(), self.source_address)
        sock.settimeout(self._left() + 1.0)
        with self._guard:
            if self.expired:
                sock.close()
                raise TimeoutError("the deadline passed")
            self._live = sock
        address = sock.getsockname()[0]
        self.local_hostname = f"[IPv6:{address}]" if ":" in address else f"[{address}]"
        return sock

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:
            self.file = _Capped(self.sock.makefile("rb"))
        return super().getreply()

    def expire(self) -> None:
        """End the conversation now, from any thread."""
        with self._guard:
            self.expired = True
            sock = self._live
        if sock is not None:
            with contextlib.suppress(OSError):  # closed already
                sock.shutdown(socket.SHUT_RDWR)


def converse(host: str, port: int, message: EmailMessage, deadline_seconds: float) -> None:
    """Send ``message`` in one SMTP conversation of at most ``deadline_seconds``;
    raises :class:`TimeoutError` when that passed, else smtplib's errors or OSError."""
    smtp = DeadlineSMTP(time.monotonic() + deadline_seconds)
    watchdog = threading.Timer(deadline_seconds, smtp.expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        code, reply = smtp.connect(host, port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, reply)
        smtp.send_message(message)
        # The server has taken the mail: how it says goodbye does not matter.
        with contextlib.suppress(OSError, smtplib.SMTPException):
            smtp.quit()
    except (OSError, smtplib.SMTPException) as error:
        if smtp.expired or time.monotonic() >= smtp.deadline:
            raise TimeoutError(
                f"the SMTP conversation passed its deadline of {deadline_seconds:g} s"
            ) from error
        raise
    finally:
        watchdog.cancel()
        smtp.close()


def permanent(error: Exception) -> bool:
    """Whether the server refused the mail for good (a 5xx reply, RFC 5321 §4.2.1):
    trying again would be refused again. Anything else (no answer, a 4xx, a
    connection lost, the deadline) may go another time."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


class Outbox:
    """This process's mail sender: one thread that holds each SMTP conversation, for
    the mail of every sandbox the process serves (INTERFACE.md §9).

    One worker for all of them, rather than one per sandbox, so that a server that
    creates and deletes sandboxes all day keeps one thread: a thread of a sandbox
    would have to be stopped when the sandbox goes, and a request still in flight
    in it would start another. A sandbox's Service is held only while a mail of
    its own waits in the queue; a mail of a sandbox deleted meanwhile is gone from
    the database with the rest of its data, and :meth:`deliver` finds nothing.

    Mail comes to the thread when it is queued (:meth:`post`), and when the thread
    looks for it: at a Service's first use and at each reading of its mailbox
    (:meth:`look`), and every ``sweep_seconds`` for every Service it has seen
    (:meth:`_sweep`), so that a mail due to be tried again, or claimed by an outbox
    that died, is found."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Service, int] | str] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # The Services whose mail this outbox has looked for; weak, so that a Service
        # the platform dropped is not kept alive by its having once sent mail.
        self._recovered: weakref.WeakSet[Service] = weakref.WeakSet()
        # What waits in the queue, so that looking again does not queue it twice.
        self._waiting: set[tuple[int, int]] = set()
        #: How often the thread looks at every Service it has seen (:meth:`_sweep`).
        self.sweep_seconds = DEFAULT_SWEEP_SECONDS

    def post(self, service: Service, mail_id: int) -> None:
        self.adopt(service)
        self._put(service, mail_id)

    def _put(self, service: Service, mail_id: int) -> None:
        with self._lock:
            if (id(service), mail_id) in self._waiting:
                return
            self._waiting.add((id(service), mail_id))
        self.queue.put((service, mail_id))

    def adopt(self, service: Service, *, again: bool = False) -> None:
        """Start the thread if it is not running, and on ``service``'s first use (or
        ``again``) look for the mail it may send (:meth:`look`)."""
        with self._lock:
            known = service in self._recovered
            self._recovered.add(service)
            self.sweep_seconds = min(self.sweep_seconds, sweep_seconds(service.config))
            # Not alive in a server process forked after the thread had started.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="renkei-outbox", daemon=True)
                self._thread.start()
        if not known:
            self.queue.put(_WAKE)  # to wait no longer than this Service's sweep
        if again or not known:
            self.look(service)

    def look(self, service: Service) -> None:
        """Queue the mail of ``service`` that is due: left ``queued`` by a process that
        ended, waiting for a retry whose time came, or claimed under a lease that
        lapsed (another process's outbox may want it too: :meth:`SqlMailbox.take`
        gives each to one)."""
        for mail_id in service.mailbox.due():
            self._put(service, mail_id)

    def stop(self) -> None:
        """End the thread once it has handled what is queued (an outbox of a test)."""
        self.queue.put(_STOP)
        thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        swept = time.monotonic()
        while True:
            try:
                item = self.queue.get(timeout=max(swept + self.sweep_seconds - time.monotonic(), 0))
            except queue.Empty:
                item = _WAKE
            if item == _STOP:
                return
            if not isinstance(item, str):
                self._handle(*item)
            del item  # the Service is not kept alive by the wait for the next mail
            if time.monotonic() >= swept + self.sweep_seconds:
                self._sweep()
                swept = time.monotonic()

    def _handle(self, service: Service, mail_id: int) -> None:
        with self._lock:
            self._waiting.discard((id(service), mail_id))
        try:
            self.deliver(service, mail_id)
        except Exception:  # the sender must outlive one bad mail
            log.exception("renkei: the outbox could not handle mail %s", mail_id)

    def _sweep(self) -> None:
        """Queue the due mail of every Service seen, by one query per database (not
        per sandbox: a server may hold hundreds); the sweep's period becomes the
        shortest of theirs."""
        services = list(self._recovered)
        databases: dict[int, dict[str, Service]] = {}
        for service in services:
            databases.setdefault(id(service.db), {})[service.sandbox] = service
        for served in databases.values():
            first = next(iter(served.values()))
            try:
                due = SqlMailbox.due_everywhere(first.db, first.mailbox.wall)
            except Exception:  # one database's trouble is not the others'
                log.exception("renkei: the outbox could not look for due mail")
                continue
            for sandbox, mail_id in due:
                if sandbox in served:  # a sandbox this process has no Service of waits
                    self._put(served[sandbox], mail_id)
        every = [sweep_seconds(s.config) for s in services]
        self.sweep_seconds = min(every, default=DEFAULT_SWEEP_SECONDS)

    def deliver(self, service: Service, mail_id: int) -> None:
        """One conversation for the mail, if this outbox gets it; a failure is logged
        and the mail tried again later (:func:`retry_wait`) or given up."""
        config = service.config
        taken = service.mailbox.take(
            mail_id, lease=lease_seconds(config), attempts=config.mail_attempts
        )
        if taken is None:
            return  # another outbox has it, it is not due, or its sandbox was deleted
        mail, attempt = taken
        message = to_email(mail)
        message[MAIL_ID_HEADER] = str(mail_id)
        message[SANDBOX_HEADER] = service.sandbox
        assert config.smtp_host is not None
        try:
            converse(config.smtp_host, config.smtp_port, message, config.mail_deadline_seconds)
        except (OSError, smtplib.SMTPException) as error:
            wait = None if permanent(error) else retry_wait(config, attempt)
            if service.mailbox.retry(mail_id, attempt, wait):
                detail: dict[str, Any] = {"gave_up": True} if wait is None else {"retry_in": wait}
                service.note(
                    "mail_failed", to=mail.to, mail_id=mail_id, attempt=attempt,
                    error=str(error), **detail,
                )  # fmt: skip
            return
        # The embedded sink may have marked it "delivered" already; a mail gone meanwhile
        # was its sandbox's, deleted with all its rows, and gets no log line of its own.
        if service.mailbox.mark(mail_id, "sent", attempt=attempt) or service.mailbox.attempts(
            mail_id
        ):
            service.note("mail_sent", to=mail.to, mail_id=mail_id, attempt=attempt)


#: The one outbox of this process.
OUTBOX = Outbox()


def settled_mail(service: Service) -> list[dict[str, Any]]:
    """The mailbox once no mail is waiting for its SMTP conversation (at most
    :data:`SETTLE_SECONDS`), so that a tester who reads it right after 「許可する」
    sees the mail — whichever server process queued it."""
    OUTBOX.adopt(service, again=True)  # what is due: left by a process that ended, a retry
    deadline = time.monotonic() + SETTLE_SECONDS
    while service.mailbox.unsettled() and time.monotonic() < deadline:
        time.sleep(0.02)
    return service.mailbox.sent()


class SinkHandler:
    """aiosmtpd handler: every message received goes into the mailbox."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        queued = str(parsed.get(MAIL_ID_HEADER) or "")
        whose = str(parsed.get(SANDBOX_HEADER) or "")
        # The sink runs beside the root's Service; a sandbox's own mail is marked in
        # that sandbox's mailbox (mail of any other sender is filed at the root).
        mailbox = self.service.mailbox
        if is_sandbox_id(whose):
            mailbox = SqlMailbox(self.service.db, sandbox=whose)
        if queued.isdigit() and mailbox.mark(int(queued), "delivered", was=("sending", "sent")):
            return "250 Message accepted for delivery"  # renkei's own queued mail
        body = parsed.get_body(("plain",))
        mail = Mail(
            sender=str(parsed["From"] or envelope.mail_from),
            to=", ".join(envelope.rcpt_tos),
            subject=str(parsed["Subject"] or ""),
            body=body.get_content() if body is not None else "",
        )
        self.service.mailbox.record(self.service.clock().now(), mail, "delivered")
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A loopback port free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(service: Service, port: int = 0) -> tuple[Any, int]:
    """Start the embedded SMTP sink on 127.0.0.1; answers the controller and its port."""
    # aiosmtpd checks its server by connecting to the port it was given, so
    # "any port" must be made concrete first.
    port = port or free_port()
    controller = Controller(SinkHandler(service), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port
