"""The completion e-mail over SMTP (R-AUTHZ-5) and the embedded sink.

By default ``renkei serve`` starts an SMTP server of its own on loopback
(aiosmtpd) which keeps every message it receives in the mailbox that
``GET /sandbox/mail`` lists; with ``--smtp HOST:PORT`` the mail goes to a real
server instead. Either way it is a real SMTP conversation, and a failure is
logged while the authorization stands. The mailbox keeps each mail's status:
``queued``, ``sending``, ``sent`` (the server took it), ``delivered`` (renkei's
own sink received it) or ``failed``.
"""

from __future__ import annotations

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
from simulator.web.service import Service

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


class Outbox:
    """This process's mail sender: one thread that holds each SMTP conversation, for
    the mail of every sandbox the process serves (INTERFACE.md §9).

    One worker for all of them, rather than one per sandbox, so that a server that
    creates and deletes sandboxes all day keeps one thread: a thread of a sandbox
    would have to be stopped when the sandbox goes, and a request still in flight
    in it would start another. A sandbox's Service is held only while a mail of
    its own waits in the queue; a mail of a sandbox deleted meanwhile is gone from
    the database with the rest of its data, and :meth:`deliver` finds nothing."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Service, int]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # The Services whose left-behind mail was taken up; weak, so that a Service the
        # platform dropped is not kept alive by its having once sent mail.
        self._recovered: weakref.WeakSet[Service] = weakref.WeakSet()

    def post(self, service: Service, mail_id: int) -> None:
        self.adopt(service)
        self.queue.put((service, mail_id))

    def adopt(self, service: Service) -> None:
        """Start the thread if it is not running, and on ``service``'s first use take
        up the mail it left ``queued`` in a process that ended (another process's
        outbox may hold some of it: :meth:`SqlMailbox.claim` gives each to one)."""
        with self._lock:
            # Not alive in a server process forked after the thread had started.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="renkei-outbox", daemon=True)
                self._thread.start()
            if service in self._recovered:
                return
            self._recovered.add(service)
        for mail_id in service.mailbox.queued():
            self.queue.put((service, mail_id))

    def _run(self) -> None:
        while True:
            service, mail_id = self.queue.get()
            try:
                self.deliver(service, mail_id)
            except Exception:  # the sender must outlive one bad mail
                log.exception("renkei: the outbox could not handle mail %s", mail_id)
            finally:
                del service  # not kept alive by the wait for the next mail

    def deliver(self, service: Service, mail_id: int) -> None:
        mail = service.mailbox.claim(mail_id)
        if mail is None:
            return  # another process's outbox has it, or its sandbox was deleted
        message = to_email(mail)
        message[MAIL_ID_HEADER] = str(mail_id)
        message[SANDBOX_HEADER] = service.sandbox
        assert service.config.smtp_host is not None
        try:
            with smtplib.SMTP(
                service.config.smtp_host, service.config.smtp_port, timeout=5
            ) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            service.mailbox.mark(mail_id, "failed")
            service.note("mail_failed", to=mail.to, mail_id=mail_id, error=str(error))
            return
        # The embedded sink may have marked it "delivered" already.
        service.mailbox.mark(mail_id, "sent")
        service.note("mail_sent", to=mail.to, mail_id=mail_id)


#: The one outbox of this process.
OUTBOX = Outbox()


def settled_mail(service: Service) -> list[dict[str, Any]]:
    """The mailbox once no mail is waiting for its SMTP conversation (at most
    :data:`SETTLE_SECONDS`), so that a tester who reads it right after 「許可する」
    sees the mail — whichever server process queued it."""
    OUTBOX.adopt(service)  # sends what a process that ended left queued
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
