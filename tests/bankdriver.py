"""Walks for the end-to-end tests, over the harness's driver (``harness/driver.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.driver import Answer, PartnerApp, Phone, csrf_from_html, query
from harness.driver import Browser as Customer
from harness.personas import Persona, load_personas
from simulator.web.service import ServiceConfig

REDIRECT = "http://127.0.0.1:8765/callback"
#: The manual's own customer (INTERFACE.md §8), as the default scenario has it.
MANUAL = load_personas()["manual"]
CUSTOMER = MANUAL.details(email="taro@example.jp", email_confirm="taro@example.jp")
ACCOUNT = MANUAL.account
#: The telephony gateway's secret of the in-process banks (:func:`bank_config`), which
#: every call carries (INTERFACE.md §4).
TELEPHONY = "bankdriver-telephony-secret"

__all__ = [
    "ACCOUNT",
    "CUSTOMER",
    "REDIRECT",
    "TELEPHONY",
    "Answer",
    "Customer",
    "PartnerApp",
    "bank_config",
    "call",
    "csrf_from_html",
    "link",
    "query",
    "walk_json",
    "walk_persona",
]


def bank_config(path: Path, admin: str) -> ServiceConfig:
    """A sandbox bank's configuration for the in-process servers of the tests:
    SQLite in ``path``, fixed keys, the admin token ``admin``, the gateway's secret
    :data:`TELEPHONY`."""
    return ServiceConfig(
        database_url=f"sqlite:///{path / 'bank.db'}",
        admin_token=admin,
        pin_key=b"p" * 32,
        secret_key=b"s" * 32,
        telephony_secret=TELEPHONY,
    )


def call(
    base: str, caller: str, to: str, caller_id: str = "shown", secret: str = TELEPHONY
) -> dict[str, Any]:
    """The customer's phone rings the 認証先電話番号 (the carrier reports it, with the
    gateway's ``secret``)."""
    return Phone(base, caller, secret=secret).call(to, caller_id)


def walk_json(
    base: str,
    app: PartnerApp,
    customer: Customer,
    until: str = "SOA206",
    account: dict[str, str] | None = None,
    person: dict[str, str] | None = None,
    pin: str = MANUAL.pin,
) -> Answer:
    """Walk the flow in JSON with right answers until screen ``until`` is shown."""
    r = customer.session.get(app.authorize_url(), allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text
    steps: list[tuple[str, str, dict[str, str] | None]] = [
        ("SOA201", "/connect/account", account or ACCOUNT),
        ("SOA202", "/connect/customer", person or CUSTOMER),
        ("SOA208", "/connect/phone", None),
        ("SOA209", "/connect/call", None),
        ("SOA211", "/connect/pin", {"pin": pin}),
    ]
    for screen, path, data in steps:
        shown = customer.get(path)
        assert shown.status == 200 and shown.body["screen_id"] == screen, shown
        if screen == until:
            return shown
        if screen == "SOA209":
            phone = (person or CUSTOMER)["phone"]
            assert call(base, phone, shown.body["call_to"])["verified"]
        done = customer.post(path, data)
        assert done.status == 303, done
    shown = customer.get("/connect/consent")
    assert shown.body["screen_id"] == "SOA206"
    return shown


def walk_persona(base: str, authorize_url: str, persona: Persona, secret: str = TELEPHONY) -> str:
    """``persona`` follows ``authorize_url`` through the six screens in JSON with right
    answers, the phone giving the gateway ``secret`` (a §9 sandbox's, or the
    in-process bank's), and allows: answers where ⑥ sent the browser back to the app."""
    customer = Customer(base)
    phone = Phone(base, persona.phone, secret=secret)
    try:
        r = customer.session.get(authorize_url, allow_redirects=False, timeout=10)
        assert r.status_code == 303, r.text
        person = persona.details(email="p@example.jp", email_confirm="p@example.jp")
        steps = [
            ("/connect/account", persona.account),
            ("/connect/customer", person),
            ("/connect/phone", None),
            ("/connect/call", None),
            ("/connect/pin", {"pin": persona.pin}),
        ]
        for path, data in steps:
            shown = customer.get(path)
            assert shown.status == 200, (path, shown)
            if path == "/connect/call":
                assert phone.call(shown.body["call_to"])["verified"]
            done = customer.post(path, data)
            assert done.status == 303, (path, done)
        done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
        assert done.status == 302 and done.location, done
        return done.location
    finally:
        customer.close()
        phone.close()


def link(base: str) -> tuple[PartnerApp, dict[str, Any]]:
    """The manual's customer links the app end to end; answers the app and its tokens."""
    app, customer = PartnerApp(base), Customer(base)
    walk_json(base, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.status == 302 and done.location, done
    return app, app.exchange(done.location)
