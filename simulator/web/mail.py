"""The completion e-mail over SMTP (R-AUTHZ-5) and the embedded sink.

By default ``renkei serve`` starts an SMTP server of its own on loopback
(aiosmtpd) which keeps every message it receives in the mailbox that
``GET /sandbox/mail`` lists; with ``--smtp HOST:PORT`` the mail goes to a real
server instead. Either way it is a real SMTP conversation, and a failure is
logged while the authorization stands.
"""

from __future__ import annotations

import smtplib
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from simulator.core.flow import FlowState
from simulator.core.grants import Grant
from simulator.core.mail import Mail, completion_mail
from simulator.web.bank import Bank


def to_email(mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    return message


def send_completion_mail(bank: Bank, flow: FlowState, grant: Grant) -> None:
    """Send the notice to the address given on ②; never let a failure undo the grant."""
    if not flow.email or not bank.config.smtp_host:
        bank.note("mail_skipped", flow.flow_id, reason="no SMTP server configured")
        return
    client = bank.clients[flow.client_id]
    mail = completion_mail(bank.rules, grant, client.name, flow.email)
    now = bank.clock().now()
    try:
        with smtplib.SMTP(bank.config.smtp_host, bank.config.smtp_port, timeout=5) as smtp:
            smtp.send_message(to_email(mail))
    except (OSError, smtplib.SMTPException) as error:
        bank.mailbox.record(now, mail, "failed")
        bank.note("mail_failed", flow.flow_id, to=mail.to, error=str(error))
        return
    if not bank.config.embedded_mail:
        bank.mailbox.record(now, mail, "sent")
    bank.note("mail_sent", flow.flow_id, to=mail.to)


class SinkHandler:
    """aiosmtpd handler: every message received goes into the mailbox."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        body = parsed.get_body(("plain",))
        mail = Mail(
            sender=str(parsed["From"] or envelope.mail_from),
            to=", ".join(envelope.rcpt_tos),
            subject=str(parsed["Subject"] or ""),
            body=body.get_content() if body is not None else "",
        )
        self.bank.mailbox.record(self.bank.clock().now(), mail, "delivered")
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A loopback port free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(bank: Bank, port: int = 0) -> tuple[Any, int]:
    """Start the embedded SMTP sink on 127.0.0.1; answers the controller and its port."""
    # aiosmtpd checks its server by connecting to the port it was given, so
    # "any port" must be made concrete first.
    port = port or free_port()
    controller = Controller(SinkHandler(bank), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port
