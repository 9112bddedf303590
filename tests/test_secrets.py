"""No PIN anywhere (R-AUTHZ-2, R-AUTHZ-6) and the web security headers.

The manual's customer is given the PIN 7391 (a number that appears nowhere else
in the scenario); a customer types a wrong PIN (4826) once and then the right
one, links, and the app reads the accounts. Then the database file (with its
WAL), the server's log, every HTML screen shown and every mail sent are
searched for either PIN as a number of its own (a hex hash may contain the
digits; a PIN stored or shown would stand alone or after ``pin``): none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import TOKEN, Server

from harness.driver import Answer, Browser, PartnerApp, Phone, Sandbox
from harness.embedded import free_port
from harness.personas import load_personas

ROOT = Path(__file__).resolve().parents[1]
RIGHT, WRONG = "7391", "4826"
MANUAL = load_personas()["manual"]
OPEN = "2026-12-02T10:00:00+09:00"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    text = (ROOT / "scenarios" / "default.yaml").read_text(encoding="utf-8")
    assert text.count(f'pin: "{MANUAL.pin}"') == 1 and RIGHT not in text and WRONG not in text
    scenario = tmp_path / "secret.yaml"
    scenario.write_text(text.replace(f'pin: "{MANUAL.pin}"', f'pin: "{RIGHT}"'), encoding="utf-8")
    s = Server(tmp_path / "data", free_port(), scenario, log=tmp_path / "server.log")
    s.start()
    try:
        yield s
    finally:
        s.stop()


def standalone(pin: str) -> re.Pattern[bytes]:
    """The PIN as a number of its own: not inside a longer run of digits or hex."""
    return re.compile(rb"(?<![0-9A-Za-z])" + pin.encode() + rb"(?![0-9A-Za-z])")


def test_no_pin_in_the_database_logs_screens_or_mail(server: Server, tmp_path: Path) -> None:
    sandbox = Sandbox(server.url, TOKEN)
    sandbox.set_clock(OPEN, frozen=False)
    browser, app = Browser(server.url), PartnerApp(server.url)
    pages: list[bytes] = []

    def go(answer: Answer) -> Answer:
        if answer.status == 303 and answer.location and answer.location.startswith("/"):
            pages.append(browser.html(answer.location).content)  # what a person sees
            answer = browser.get(answer.location)
        return answer

    go(browser.open(app.authorize_url()))
    go(browser.post("/connect/account", MANUAL.account))
    go(browser.post("/connect/customer", MANUAL.details()))
    shown = go(browser.post("/connect/phone"))
    Phone(server.url, MANUAL.phone, admin_token=TOKEN).call(str(shown.body["call_to"]))
    go(browser.post("/connect/call"))
    wrong = browser.post("/connect/pin", {"pin": WRONG})
    assert wrong.codes == ["identity_mismatch"]
    pages.append(browser.html("/connect/pin").content)
    go(browser.post("/connect/pin", {"pin": RIGHT}))
    done = browser.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.location and "code=" in done.location
    tokens = app.exchange(done.location)
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 200
    mails = sandbox.mail()
    assert mails, "the completion mail (R-AUTHZ-5) was not sent"
    server.stop()  # the log and the WAL as they are at rest

    places: dict[str, bytes] = {
        "log": (tmp_path / "server.log").read_bytes(),
        "mail": repr(mails).encode(),
        "screens": b"\n".join(pages),
    }
    for db_file in sorted((tmp_path / "data").glob("renkei.db*")):
        places[db_file.name] = db_file.read_bytes()
    assert "renkei.db" in places and len(pages) >= 5
    for pin in (RIGHT, WRONG):
        found = [name for name, data in places.items() if standalone(pin).search(data)]
        assert found == [], f"PIN {pin} found in {found}"
    # The same search finds a number that is meant to be there (the account number).
    assert standalone(MANUAL.account_no).search(places["screens"])
    assert standalone(MANUAL.account_no).search(places["renkei.db"])


def test_security_headers_on_screens_tokens_and_api(server: Server) -> None:
    browser, app = Browser(server.url), PartnerApp(server.url)
    Sandbox(server.url, TOKEN).set_clock(OPEN, frozen=False)
    first = browser.open(app.authorize_url())
    screen = browser.html("/connect/account")
    token = app.token_request(grant_type="authorization_code", code="nothing")
    for response_headers in (first.headers, screen.headers, token.headers):
        assert response_headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response_headers["Content-Security-Policy"]
        assert response_headers["X-Frame-Options"] == "DENY"
        assert response_headers["X-Content-Type-Options"] == "nosniff"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # ④'s countdown is a file of the bank's own origin, allowed by script-src 'self'.
    assert b"<script>" not in screen.content
