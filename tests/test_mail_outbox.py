"""The completion mail's outbox (R-AUTHZ-5): recorded first, sent by a thread.

「許可する」 no longer waits for the SMTP conversation; the mail is in the
mailbox as ``queued`` before the answer, and a mail that a process left queued
when it died is sent by the next outbox. ``GET /sandbox/mail`` waits until the
queue has settled, so a tester reading it right after 「許可する」 sees the mail.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import requests
from bankdriver import bank_config

from simulator.core.clock import JST
from simulator.core.mail import Mail
from simulator.scenario import load_scenario
from simulator.web.server import start_in_thread

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
