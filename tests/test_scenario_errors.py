"""The scenario loader refuses bad files, naming the file and the field.

A typo in a scenario must not pass silently: each case below changes one thing
in a valid scenario and expects the path of that field in the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulator.core.host import AccountKey, PinVault
from simulator.dates import DateSpec, parse_date
from simulator.scenario import ScenarioError, load_scenario, parse_scenario

SOURCE = "scenarios/x.yaml"
TODAY = dt.date(2026, 11, 24)


def base() -> dict[str, Any]:
    """A small valid scenario, as yaml.safe_load would give it."""
    return {
        "branches": [{"code": "115", "name": "錦糸町支店"}, {"code": "022", "name": "向島支店"}],
        "clients": [
            {
                "client_id": "creco",
                "client_secret": "creco-secret",
                "name": "しんくみアプリwithCRECO",
                "company": "アイ・ティ・リアライズ株式会社",
                "redirect_uris": ["http://127.0.0.1:8765/callback"],
            }
        ],
        "personas": [
            {
                "id": "manual",
                "behaviour": "happy path (R-FLOW-1)",
                "name_kana": "ﾃﾞｰﾀ ﾀﾛｳ",
                "birth_date": dt.date(1985, 4, 1),
                "phone": "09012343333",
                "accounts": [
                    {
                        "branch_no": "115",
                        "account_type": "1",
                        "account_no": "1100026",
                        "opened_on": dt.date(2008, 4, 1),
                        "card": {"issued_on": dt.date(2008, 4, 15), "pin": "1357"},
                    }
                ],
            },
            {
                "id": "other",
                "behaviour": "a second customer (R-ERR-HOST-2)",
                "name_kana": "ｽｽﾞｷ ﾊﾅｺ",
                "birth_date": "1990-01-02",
                "phone": "0336221234",
                "accounts": [
                    {
                        "branch_no": "115",
                        "account_type": "1",
                        "account_no": "2000001",
                        "opened_on": "today-3d",
                    }
                ],
            },
        ],
    }


Edit = Callable[[dict[str, Any]], None]


def acct(d: dict[str, Any], i: int = 0, j: int = 0) -> dict[str, Any]:
    account: dict[str, Any] = d["personas"][i]["accounts"][j]
    return account


def setter(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: object) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        path(d)[key] = value

    return edit


def dropper(path: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        del path(d)[key]

    return edit


def persona0(d: dict[str, Any]) -> dict[str, Any]:
    persona: dict[str, Any] = d["personas"][0]
    return persona


def bank(d: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = d.setdefault("bank", {})
    return section


def client0(d: dict[str, Any]) -> dict[str, Any]:
    client: dict[str, Any] = d["clients"][0]
    return client


def same_account_twice(d: dict[str, Any]) -> None:
    acct(d, 1)["account_no"] = "1100026"


def persona_id_twice(d: dict[str, Any]) -> None:
    d["personas"][1]["id"] = "manual"


def move_onto_existing(d: dict[str, Any]) -> None:
    acct(d)["moved_to"] = "115-1-2000001"


def closed_with_money(d: dict[str, Any]) -> None:
    acct(d).update(status="closed", balance=1000)


BAD: list[tuple[str, Edit, str]] = [
    (
        "short branch",
        setter(acct, "branch_no", "12"),
        "personas[0].accounts[0].branch_no: must be 3 half-width digits (got '12')",
    ),
    ("unquoted branch", setter(acct, "branch_no", 9), "personas[0].accounts[0].branch_no: "),
    ("科目 3", setter(acct, "account_type", "3"), "personas[0].accounts[0].account_type: "),
    ("6-digit number", setter(acct, "account_no", "110002"), "accounts[0].account_no: must be 7"),
    (
        "full-width digits",
        setter(acct, "account_no", "１１０００２６"),
        "personas[0].accounts[0].account_no: ",
    ),
    (
        "5-digit PIN",
        setter(acct, "card", {"issued_on": "2008-04-15", "pin": "13579"}),
        "personas[0].accounts[0].card.pin: must be 4 half-width digits (got '13579')",
    ),
    ("hyphenated phone", setter(persona0, "phone", "090-1234-3333"), "personas[0].phone: "),
    ("9-digit phone", setter(persona0, "phone", "031234567"), "personas[0].phone: "),
    ("full-width kana", setter(persona0, "name_kana", "データ タロウ"), "personas[0].name_kana: "),
    ("small kana on file", setter(persona0, "name_kana", "ｷｬﾉﾝ ﾊﾅｺ"), "personas[0].name_kana: "),
    ("49 characters", setter(persona0, "name_kana", "ｱ" * 49), "personas[0].name_kana: "),
    (
        "misspelt key",
        setter(acct, "acount_no", "1100026"),
        "personas[0].accounts[0].acount_no: unknown key",
    ),
    ("missing key", dropper(persona0, "birth_date"), "personas[0].birth_date: missing"),
    (
        "missing section",
        lambda d: d.pop("clients"),
        "scenarios/x.yaml: clients: missing",
    ),
    ("unknown section", setter(lambda d: d, "persona", []), "scenarios/x.yaml: persona: unknown"),
    (
        "duplicate account",
        same_account_twice,
        "personas[1].accounts[0]: account 115-1-1100026 is also personas[0].accounts[0]",
    ),
    (
        "move onto an account",
        move_onto_existing,
        "personas[1].accounts[0]: account 115-1-2000001 is also personas[0].accounts[0].moved_to",
    ),
    ("duplicate persona", persona_id_twice, "personas[1].id: persona 'manual' is also"),
    ("accounts not a list", setter(persona0, "accounts", "115-1-1100026"), "accounts: must be a"),
    ("no accounts", setter(persona0, "accounts", []), "personas[0].accounts: must list at least"),
    ("unlisted branch", setter(acct, "branch_no", "999"), "branch_no: branch 999 is not in"),
    ("bad date", setter(acct, "opened_on", "yesterday"), "personas[0].accounts[0].opened_on: "),
    ("impossible date", setter(persona0, "birth_date", "1985-02-30"), "personas[0].birth_date: "),
    (
        "timestamp",
        setter(persona0, "birth_date", dt.datetime(1985, 4, 1, 9, 0)),  # noqa: DTZ001
        "personas[0].birth_date: must be a date without a time",
    ),
    ("status moved", setter(acct, "status", "moved"), "personas[0].accounts[0].status: "),
    ("closed with money", closed_with_money, "accounts[0].balance: a closed account"),
    ("negative balance", setter(acct, "balance", -1), "personas[0].accounts[0].balance: "),
    ("bad move", setter(acct, "moved_to", "022-1-222"), "personas[0].accounts[0].moved_to: "),
    ("move across 科目", setter(acct, "moved_to", "022-4-2222222"), "moved_to: a move keeps"),
    (
        "history months",
        setter(acct, "history", {"months": 0, "per_month": 5}),
        "accounts[0].history.months: ",
    ),
    ("lockout 0", setter(bank, "lockout_threshold", 0), "bank.lockout_threshold: "),
    ("lockout yes", setter(bank, "lockout_threshold", True), "bank.lockout_threshold: "),
    ("landline in pool", setter(bank, "call_pool", ["0312345678"]), "bank.call_pool[0]: "),
    (
        "unquoted pool",
        setter(bank, "call_pool", ["0120111111", 120222222]),
        "bank.call_pool[1]: ",
    ),
    ("pool twice", setter(bank, "call_pool", ["0120111111"] * 2), "bank.call_pool[1]: "),
    (
        "hours",
        setter(bank, "service_hours", {"midnight_minutes": 0}),
        "bank.service_hours.midnight_minutes: ",
    ),
    ("unknown bank key", setter(bank, "lockout", 5), "bank.lockout: unknown key"),
    ("bad scope", setter(client0, "scopes", ["accounts", "payments"]), "clients[0].scopes[1]: "),
    ("relative URI", setter(client0, "redirect_uris", ["/callback"]), "redirect_uris[0]: "),
    (
        "fragment in URI",
        setter(client0, "redirect_uris", ["http://127.0.0.1:8765/cb#x"]),
        "clients[0].redirect_uris[0]: ",
    ),
    ("secret missing", dropper(client0, "client_secret"), "clients[0].client_secret: missing"),
    (
        "population",
        setter(lambda d: d, "population", {"customers": -1, "seed": 1}),
        "population.customers: ",
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [(e, x) for _, e, x in BAD], ids=[n for n, *_ in BAD]
)
def test_bad_scenario_is_refused_naming_the_field(edit: Edit, expected: str) -> None:
    data = base()
    edit(data)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, SOURCE)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: ")
    assert expected in message


def test_the_base_scenario_is_valid() -> None:
    """The cases above fail for their one change, not for the base."""
    scenario = parse_scenario(base(), SOURCE)
    assert [p.id for p in scenario.personas] == ["manual", "other"]


def test_a_misspelt_key_gets_a_suggestion() -> None:
    data = base()
    acct(data)["acount_no"] = acct(data).pop("account_no")
    with pytest.raises(ScenarioError, match="did you mean 'account_no'"):
        parse_scenario(data, SOURCE)


def test_a_number_where_a_code_belongs_says_to_quote_it() -> None:
    data = base()
    acct(data)["branch_no"] = 9  # what YAML makes of 011
    with pytest.raises(ScenarioError, match="quoted"):
        parse_scenario(data, SOURCE)


# -- the file itself --------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("personas: [\n  {id: a\n", "line "),
        ("branches: []\nbranches: []\n", "duplicate key 'branches'"),
        ("", "empty"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("personas:\n  - birth_date: 1985-02-30\n", "invalid YAML value"),
        ("\tbank: {}\n", "line 1"),
    ],
    ids=["syntax", "duplicate key", "empty", "a list", "impossible timestamp", "tab"],
)
def test_bad_yaml_is_refused_naming_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_a_duplicate_key_deep_in_the_file_names_its_line(tmp_path: Path) -> None:
    text = "branches:\n  - code: '115'\n    name: 本店\n    code: '116'\n"
    with pytest.raises(ScenarioError, match=r"line 4, column 5: duplicate key 'code'"):
        load_scenario(write(tmp_path, text))


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "absent.yaml")


def test_a_file_that_is_not_utf8_is_a_scenario_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes("branches: 本店".encode("shift_jis"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(path)


# -- errors only a day can tell ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("opened_on", "today+1d", "personas[0].accounts[0].opened_on: 2026-11-25 is after today"),
        (
            "card",
            {"issued_on": "2008-03-01", "pin": "1357"},
            "card.issued_on: 2008-03-01 is before",
        ),
    ],
)
def test_build_refuses_dates_that_make_no_sense_on_the_day(
    field: str, value: object, expected: str
) -> None:
    data = base()
    acct(data)[field] = value
    scenario = parse_scenario(data, SOURCE)
    with pytest.raises(ScenarioError) as caught:
        scenario.build_host(PinVault(b"k"), TODAY)
    assert expected in str(caught.value)


def test_build_refuses_a_birth_date_after_today() -> None:
    data = base()
    persona0(data)["birth_date"] = "today+1y"
    with pytest.raises(ScenarioError, match=r"personas\[0\]\.birth_date: 2027-11-24"):
        parse_scenario(data, SOURCE).build_host(PinVault(b"k"), TODAY)


# -- relative dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("today", TODAY, TODAY),
        ("today-3d", TODAY, dt.date(2026, 11, 21)),
        ("today+7d", TODAY, dt.date(2026, 12, 1)),
        ("today+2w", TODAY, dt.date(2026, 12, 8)),
        ("today-1m", dt.date(2026, 3, 31), dt.date(2026, 2, 28)),
        ("today+1m", dt.date(2026, 12, 15), dt.date(2027, 1, 15)),
        ("today-1y", dt.date(2028, 2, 29), dt.date(2027, 2, 28)),
        ("2025-01-06", TODAY, dt.date(2025, 1, 6)),
    ],
)
def test_relative_dates_resolve_against_the_build_day(
    text: str, today: dt.date, expected: dt.date
) -> None:
    spec = parse_date(text)
    assert spec is not None
    assert spec.resolve(today) == expected
    assert spec.is_relative == text.startswith("today")


@pytest.mark.parametrize(
    "text", ["tomorrow", "today-3", "today+d", "today*2d", "2025-1-6", "2025-13-01"]
)
def test_not_a_date(text: str) -> None:
    assert parse_date(text) is None


def test_relative_dates_in_a_scenario_follow_the_day() -> None:
    """A date written ``today-3d`` is three days before whatever day the host is built for."""
    scenario = parse_scenario(base(), SOURCE)
    assert scenario.personas[1].accounts[0].opened_on == DateSpec("today-3d", days=-3)
    for day in (TODAY, dt.date(2030, 3, 2)):
        host = scenario.build_host(PinVault(b"k"), day)
        account = host.account(AccountKey("115", "1", "2000001"))
        assert account is not None and account.opened_on == day - dt.timedelta(days=3)
