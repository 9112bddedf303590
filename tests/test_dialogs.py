"""The エラー dialog of the screens (simulator/web/screen_model.py, base.html).

An empty field on ①, ② or ⑤ brings 「エラー」「入力されていない項目があります。」
(R-ERR-INPUT-1); a wrong PIN on ⑤ repeats R-ERR-HOST-2's message in the same
dialog over the screen (画面⑤ エラー事例), beside the message on the screen.
The server draws the dialog open, so that it is read without script
(renkei.js makes it modal; the browser run checks that in Chromium,
tests/test_browser.py). Neither dialog changes what the answers say: the
JSON's ``errors`` and the HTML's ``data-error-code`` name the same codes as
before, once each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from bankdriver import (
    ACCOUNT,
    Customer,
    PartnerApp,
    bank_config,
    csrf_from_html,
    walk_json,
)

from harness.driver import Sandbox
from harness.personas import load_personas
from renkei.contract.answers import html_error_codes
from simulator.core import messages
from simulator.scenario import load_scenario
from simulator.web.server import RunningServer, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "dialogs-admin"
WRONG_PIN = load_personas()["lockout-pin"]
IDENTITY = load_personas()["identity"]
#: The dialog as the server draws it: open, before any script runs.
DIALOG = re.compile(r"<dialog [^>]*>.*?</dialog>", re.S)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_in_thread(
        bank_config(tmp_path_factory.mktemp("bank"), ADMIN),
        load_scenario(ROOT / "scenarios/default.yaml"),
    )
    # A Tuesday 10:15 JST, frozen: inside service hours whatever the real time.
    Sandbox(running.url, ADMIN).set_clock("2026-11-24T10:15:00+09:00")
    yield running
    running.stop()


@pytest.fixture
def unlock(bank: RunningServer) -> Iterator[None]:
    """The wrong answers of a test count toward the day's lockout: lifted after it."""
    yield
    for persona in (WRONG_PIN, IDENTITY):
        Sandbox(bank.url, ADMIN).unlock(persona.account_id)


def post_html(customer: Customer, path: str, data: dict[str, str]) -> requests.Response:
    """The screen at ``path`` posted as a browser posts its form: HTML in, HTML out."""
    page = customer.html(path)
    form = {"csrf_token": csrf_from_html(page.text), **data}
    return customer.session.post(customer.base + path, data=form, timeout=10)


def dialog_of(html: str) -> str:
    found = DIALOG.findall(html)
    assert len(found) == 1, html
    return str(found[0])


def test_an_empty_field_brings_the_dialog_in_json_and_html(bank: RunningServer) -> None:
    """R-ERR-INPUT-1 on ①: the dialog's title and message from the catalogue, the
    focus for 「OK」 on the first empty field; the errors as before."""
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA201")
    answer = customer.post("/connect/account", {"account_type": "1"})
    assert answer.status == 422
    body = answer.body
    assert (body["dialog_title"], body["dialog"], body["dialog_focus"]) == (
        messages.DIALOG_TITLE,
        messages.REQUIRED_DIALOG,
        "branch_no",
    )
    assert [(e["code"], e["field"]) for e in body["errors"]] == [
        ("required", None),
        ("required", "branch_no"),
        ("required", "account_no"),
    ]
    page = post_html(customer, "/connect/account", {"account_type": "1"})
    assert page.status_code == 422
    dialog = dialog_of(page.text)
    assert " open " in dialog and 'data-focus="branch_no"' in dialog
    assert 'data-error-code="required"' in dialog
    assert f'<p class="dialog-title" id="dialog-title">{messages.DIALOG_TITLE}</p>' in dialog
    assert messages.REQUIRED_DIALOG in dialog and 'method="dialog"' in dialog
    assert html_error_codes(page.text) == ["required", "required", "required"]


def test_the_first_empty_field_takes_the_focus(bank: RunningServer) -> None:
    """② with only the name given: the focus goes to 生年月日 (年), the first empty one."""
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA202")
    answer = customer.post("/connect/customer", {"name_kana": "ﾃﾞｰﾀ ﾀﾛｳ"})
    assert answer.status == 422 and answer.body["dialog"] == messages.REQUIRED_DIALOG
    assert answer.body["dialog_focus"] == "birth_year"


@pytest.mark.usefixtures("unlock")
def test_a_wrong_pin_shows_the_dialog_beside_the_message(bank: RunningServer) -> None:
    """R-FLOW-5, R-ERR-HOST-2 on ⑤: the identity message on the screen and, in the
    dialog, the same text verbatim; the code named once in either form."""
    p = WRONG_PIN
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    person = p.details()
    walk_json(bank.url, app, customer, until="SOA211", account=p.account, person=person)
    wrong = "0000" if p.pin != "0000" else "9999"
    answer = customer.post("/connect/pin", {"pin": wrong})
    assert answer.status == 422 and answer.body["screen_id"] == "SOA211"
    identity = messages.MESSAGES["identity_mismatch"]
    assert answer.body["errors"] == [
        {"code": "identity_mismatch", "message": identity, "field": None}
    ]
    assert (answer.body["dialog_title"], answer.body["dialog"], answer.body["dialog_focus"]) == (
        messages.DIALOG_TITLE,
        identity,
        "pin",
    )
    page = post_html(customer, "/connect/pin", {"pin": wrong})
    assert page.status_code == 422 and 'content="SOA211"' in page.text
    dialog = dialog_of(page.text)
    assert identity in dialog and 'data-focus="pin"' in dialog and " open " in dialog
    # the dialog repeats the screen's message; only the message carries the code
    assert "data-error-code" not in dialog
    assert html_error_codes(page.text) == ["identity_mismatch"]
    assert page.text.count(identity) == 2


@pytest.mark.usefixtures("unlock")
def test_the_identity_error_on_customer_details_has_no_dialog(bank: RunningServer) -> None:
    """② shows R-ERR-HOST-2 on the screen alone: the manual draws the dialog for ⑤."""
    p = IDENTITY
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA202", account=p.account)
    wrong_day = "28" if p.birth[2] != "28" else "27"
    answer = customer.post("/connect/customer", p.details(birth_day=wrong_day))
    assert answer.status == 422 and [e["code"] for e in answer.body["errors"]] == [
        "identity_mismatch"
    ]
    assert answer.body["dialog"] is None and answer.body["dialog_focus"] is None
    page = post_html(customer, "/connect/customer", p.details(birth_day=wrong_day))
    assert "<dialog" not in page.text
    assert html_error_codes(page.text) == ["identity_mismatch"]


def test_a_screen_without_errors_has_no_dialog(bank: RunningServer) -> None:
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    shown = walk_json(bank.url, app, customer, until="SOA201", account=ACCOUNT)
    assert (shown.body["dialog"], shown.body["dialog_title"]) == (None, None)
    assert "<dialog" not in customer.html("/connect/account").text
