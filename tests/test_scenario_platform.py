"""Several credit unions in one scenario (INTERFACE.md §10, R-PLAT-1): ``banks:``.

A platform file is read into a :class:`PlatformScenario` whose every bank is a
complete :class:`Scenario`; a one-bank file is read as a platform of that very
bank. The shipped ``scenarios/platform.yaml`` holds 中ノ郷信用組合 exactly as the
default scenario and four fictional credit unions; each of its personas is driven
through the core with its own bank's rules, and the table of docs/scenarios.md
is checked against the file.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import OPEN_INSTANT

from renkei import resources
from renkei.cli import main
from simulator.core import errors
from simulator.core.bank import PlatformRules
from simulator.core.clock import FixedClock
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.host import AccountKey, PinVault
from simulator.core.hours import DEFAULT_WINDOWS, OWN_WINDOW_RULE, ServiceCalendar
from simulator.core.screens import Screen
from simulator.core.telephony import InboundCall
from simulator.scenario import (
    Persona,
    PlatformScenario,
    Scenario,
    ScenarioError,
    load_platform,
    load_scenario,
    parse_platform,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenarios" / "default.yaml"
PLATFORM = ROOT / "scenarios" / "platform.yaml"
SOURCE = "scenarios/p.yaml"
TODAY = OPEN_INSTANT.date()


# -- a small platform file -----------------------------------------------------------------


def persona(pid: str, account_no: str, phone: str, pin: str) -> dict[str, Any]:
    return {
        "id": pid,
        "behaviour": f"{pid} (R-PLAT-1)",
        "name_kana": "ﾃｽﾄ ﾀﾛｳ",
        "birth_date": dt.date(1980, 1, 2),
        "phone": phone,
        "accounts": [
            {
                "branch_no": "001",
                "account_type": "1",
                "account_no": account_no,
                "opened_on": dt.date(2010, 4, 1),
                "card": {"issued_on": dt.date(2010, 4, 12), "pin": pin},
            }
        ],
    }


def bank(code: str, name: str, pool: str) -> dict[str, Any]:
    return {
        "code": code,
        "bank": {
            "name": name,
            "contact": {"phone": "03-0000-0001", "email": f"x{code}@example.jp"},
            "call_pool": [pool],
        },
        "branches": [{"code": "001", "name": "本店"}],
        "personas": [persona("happy", "1000001", "09000000001", "2580")],
    }


def base() -> dict[str, Any]:
    """A valid platform of three banks (the same persona id and account number in two)."""
    return {
        "description": "test platform",
        "platform": {"capacity_flows": 7, "mail_from": "p@example.jp"},
        "clients": [
            {
                "client_id": "creco",
                "client_secret": "creco-secret",
                "name": "しんくみアプリwithCRECO",
                "company": "アイ・ティ・リアライズ株式会社",
                "redirect_uris": ["http://127.0.0.1:8765/callback"],
            }
        ],
        "banks": [
            {"code": "9901", "scenario": "default"},
            bank("9902", "みなと架空信用組合", "0120990201"),
            bank("9903", "さくら試験信用組合", "0120990301"),
        ],
    }


def text(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def parsed(data: object) -> PlatformScenario:
    return parse_platform(text(data), SOURCE)


def test_the_base_platform_is_valid() -> None:
    p = parsed(base())
    assert not p.one_bank
    assert p.description == "test platform"
    assert p.codes == ("9901", "9902", "9903")
    assert p.first is p.banks[0] and p.first.rules.name == "中ノ郷信用組合"
    second = p.bank("9902")
    assert second is not None and second.rules.name == "みなと架空信用組合"
    assert p.bank("9999") is None
    assert [c.client_id for c in p.clients] == ["creco"]


def test_every_bank_is_a_complete_scenario_with_the_platforms_settings_and_apps() -> None:
    p = parsed(base())
    for b in p.banks:
        assert b.clients == p.clients
        assert b.rules.capacity.flows == 7
        assert b.rules.mail_from == "p@example.jp"
        assert b.client("creco") is not None
    assert p.rules == PlatformRules.of(p.first.rules)
    second = p.banks[1]
    assert second.source == SOURCE and second.path == "banks[1]" and second.code == "9902"
    assert second.rules.contact.email == "x9902@example.jp"
    # what the file leaves out keeps renkei's defaults
    assert second.rules.lockout.threshold == 5 and second.rules.contact.department == "事務部"


def test_persona_ids_and_account_numbers_may_repeat_across_banks() -> None:
    p = parsed(base())
    hosts = [b.build_host(PinVault(b"k"), TODAY) for b in p.banks[1:]]
    key = AccountKey("001", "1", "1000001")
    assert all(host.account(key) is not None for host in hosts)
    assert [b.persona("happy").phone for b in p.banks[1:]] == ["09000000001"] * 2


def test_a_bank_taken_from_a_shipped_scenario_is_all_of_it() -> None:
    """``scenario: default``: its rules (with the platform's settings), branches,
    personas and population; the platform's apps, not the scenario's."""
    p = parsed(base())
    default = load_scenario(DEFAULT)
    first = p.first
    assert first.code == "9901"
    assert first.branches == default.branches
    assert first.personas == default.personas
    assert first.population == default.population
    assert first.rules == PlatformRules.of(p.banks[1].rules).apply(default.rules)
    assert first.rules.lockout == default.rules.lockout
    assert first.rules.capacity.flows == 7
    assert first.clients == p.clients != default.clients


def test_build_errors_name_the_field_under_its_bank() -> None:
    data = base()
    data["banks"][2]["personas"][0]["birth_date"] = "today+1y"
    scenario = parsed(data).banks[2]
    with pytest.raises(ScenarioError) as caught:
        scenario.build_host(PinVault(b"k"), TODAY)
    assert str(caught.value).startswith(f"{SOURCE}: banks[2].personas[0].birth_date: 2027-11-24")


# -- one-bank files -----------------------------------------------------------------------


def test_a_one_bank_file_is_a_platform_of_that_very_bank() -> None:
    p = load_platform(DEFAULT)
    default = load_scenario(DEFAULT)
    assert p.one_bank
    assert p.banks == (default,)
    assert p.first == default and p.clients == default.clients
    assert p.description == default.description and p.source == default.source
    assert p.codes == () and p.bank("9901") is None
    assert default.code is None and default.path == ""


def test_a_one_bank_file_may_give_its_code() -> None:
    data = yaml.safe_load(DEFAULT.read_text("utf-8"))
    data["code"] = "9901"
    p = parsed(data)
    assert p.one_bank and p.codes == ("9901",) and p.bank("9901") == p.first
    assert parse_scenario(data, SOURCE).code == "9901"
    data["code"] = 9901
    with pytest.raises(ScenarioError, match=r"^scenarios/p\.yaml: code: must be a 金融機関コード"):
        parse_scenario(data, SOURCE)


def test_load_platform_reads_files_as_load_scenario_does(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text(base()), "utf-8")
    assert load_platform(path).codes == ("9901", "9902", "9903")
    with pytest.raises(ScenarioError, match="no such file"):
        load_platform(tmp_path / "absent.yaml")
    path.write_text("banks: [\n", "utf-8")
    with pytest.raises(ScenarioError, match=r": line \d+, column \d+: "):
        load_platform(path)


# -- every validation error ------------------------------------------------------------------


def at(path: str) -> Any:
    """A setter's target: ``banks.1.bank`` walks the data by keys and indexes."""

    def find(d: Any) -> Any:
        for part in filter(None, path.split(".")):
            d = d[int(part)] if part.isdigit() else d.setdefault(part, {})
        return d

    return find


def setting(path: str, key: str, value: object) -> Any:
    def edit(d: dict[str, Any]) -> None:
        at(path)(d)[key] = value

    return edit


def dropping(path: str, key: str) -> Any:
    def edit(d: dict[str, Any]) -> None:
        del at(path)(d)[key]

    return edit


def window(**fields: object) -> Any:
    """One ``extra_windows`` item of bank 9902: a good one changed by ``fields``."""
    item: dict[str, object] = {"days": {"weekday": "saturday", "nth": [2]}}
    item.update(start="01:00", end="05:00")
    item.update(fields)
    return setting("banks.1.bank", "extra_windows", [item])


def same_code(d: dict[str, Any]) -> None:
    d["banks"][2]["code"] = "9902"


def same_name(d: dict[str, Any]) -> None:
    d["banks"][2]["bank"]["name"] = "みなと架空信用組合"


def same_pool_number(d: dict[str, Any]) -> None:
    d["banks"][2]["bank"]["call_pool"] = ["0120990201"]


def default_pool_twice(d: dict[str, Any]) -> None:
    del d["banks"][2]["bank"]["call_pool"]  # renkei's default pool: the first bank's


def persona_twice(d: dict[str, Any]) -> None:
    d["banks"][1]["personas"].append(persona("happy", "1000002", "09000000002", "1111"))


def account_twice(d: dict[str, Any]) -> None:
    d["banks"][1]["personas"].append(persona("other", "1000001", "09000000002", "1111"))


BAD: list[tuple[str, Any, str]] = [
    ("no banks", setting("", "banks", []), "banks: must list at least one item"),
    ("banks not a list", setting("", "banks", {"code": "9901"}), "banks: must be a list"),
    ("no clients", dropping("", "clients"), "clients: missing"),
    (
        "personas at the top",
        setting("", "personas", []),
        "personas: in a platform file this is a bank's: give it in each item of banks",
    ),
    (
        "a platform setting at the top",
        setting("", "capacity_flows", 9),
        "capacity_flows: a platform setting: give it under platform:",
    ),
    (
        "unknown top key",
        setting("", "bankz", []),
        "bankz: unknown key (allowed: banks, clients, description, platform); "
        "did you mean 'banks'?",
    ),
    (
        "misspelt platform key",
        setting("platform", "capacity_flow", 9),
        "platform.capacity_flow: unknown key (allowed: capacity_flows, "
        "congestion_retry_after_seconds, flow_timeout_minutes, early_flow_seconds, "
        "early_flows_per_client, flow_lifetime_minutes, service_hours, mail_from); "
        "did you mean 'capacity_flows'?",
    ),
    (
        "bad platform value",
        setting("platform", "capacity_flows", 0),
        "platform.capacity_flows: must be a whole number from 1 to 1000000 (got a number 0)",
    ),
    (
        "a bank setting on the platform",
        setting("platform", "lockout_threshold", 3),
        "platform.lockout_threshold: unknown key",
    ),
    ("code missing", dropping("banks.1", "code"), "banks[1].code: missing"),
    (
        "code of 3 digits",
        setting("banks.1", "code", "990"),
        "banks[1].code: must be a 金融機関コード of 4 half-width digits (got '990')",
    ),
    (
        "code unquoted",
        setting("banks.1", "code", 9902),
        "banks[1].code: must be a 金融機関コード of 4 half-width digits, quoted "
        "(got the number 9902",
    ),
    ("code twice", same_code, "banks[2].code: code '9902' is also banks[1]'s"),
    (
        "name twice",
        same_name,
        "banks[2].bank.name: bank 'みなと架空信用組合' is also banks[1]'s",
    ),
    (
        "a number in two pools",
        same_pool_number,
        "banks[2].bank.call_pool: number '0120990201' is also banks[1]'s: "
        "each bank has 認証先電話番号 of its own",
    ),
    (
        "two banks on the default pool",
        default_pool_twice,
        "banks[2].bank: number '0120111111' is also banks[0]'s",
    ),
    ("bank missing", dropping("banks.1", "bank"), "banks[1].bank: missing"),
    ("bank not a mapping", setting("banks.1", "bank", "x"), "banks[1].bank: must be a mapping"),
    ("name missing", dropping("banks.1.bank", "name"), "banks[1].bank.name: missing"),
    ("contact missing", dropping("banks.1.bank", "contact"), "banks[1].bank.contact: missing"),
    (
        "contact null",
        setting("banks.1.bank", "contact", None),
        "banks[1].bank.contact: must be a mapping of department, phone, main_line, hours, email",
    ),
    (
        "contact e-mail missing",
        dropping("banks.1.bank.contact", "email"),
        "banks[1].bank.contact.email: missing",
    ),
    (
        "contact_phone in a platform bank",
        setting("banks.1.bank", "contact_phone", "03-0000-0001"),
        "banks[1].bank.contact_phone: unknown key",
    ),
    (
        "a platform setting in a bank",
        setting("banks.1.bank", "capacity_flows", 9),
        "banks[1].bank.capacity_flows: a setting of the whole platform, not of one bank: "
        "give it under platform:",
    ),
    (
        "service hours in a bank",
        setting("banks.2.bank", "service_hours", {"midnight_minutes": 2}),
        "banks[2].bank.service_hours: a setting of the whole platform",
    ),
    (
        "apps in a bank",
        setting("banks.1", "clients", []),
        "banks[1].clients: partner apps are registered once, on the platform: "
        "give them under clients: at the top",
    ),
    (
        "unknown bank item key",
        setting("banks.1", "persona", []),
        "banks[1].persona: unknown key (allowed: code, bank, branches, personas, description, "
        "population); did you mean 'personas'?",
    ),
    ("personas missing", dropping("banks.1", "personas"), "banks[1].personas: missing"),
    (
        "bad persona phone",
        setting("banks.2.personas.0", "phone", "0901234"),
        "banks[2].personas[0].phone: must be 10 or 11 half-width digits starting with 0, "
        "no hyphens (got '0901234')",
    ),
    (
        "persona id twice in a bank",
        persona_twice,
        "banks[1].personas[1].id: persona 'happy' is also banks[1].personas[0].id",
    ),
    (
        "account twice in a bank",
        account_twice,
        "banks[1].personas[1].accounts[0]: account 001-1-1000001 is also "
        "banks[1].personas[0].accounts[0]",
    ),
    (
        "unlisted branch",
        setting("banks.1.personas.0.accounts.0", "branch_no", "999"),
        "banks[1].personas[0].accounts[0].branch_no: branch 999 is not in branches",
    ),
    (
        "bad population",
        setting("banks.1", "population", {"customers": -1, "seed": 1}),
        "banks[1].population.customers: must be a whole number from 0 to 1000000",
    ),
    (
        "unknown shipped scenario",
        setting("banks.0", "scenario", "nosuch"),
        "banks[0].scenario: must be the name of a shipped scenario (default, load, platform) "
        "(got 'nosuch')",
    ),
    (
        "a platform as a bank",
        setting("banks.0", "scenario", "platform"),
        "banks[0].scenario: 'platform' is a platform: take a bank from a one-bank scenario",
    ),
    (
        "a shipped bank with sections of its own",
        setting("banks.0", "personas", []),
        "banks[0].personas: a bank taken from a scenario is all of it: give scenario or "
        "bank, branches, personas, population, not both",
    ),
    (
        "a shipped bank without a code",
        dropping("banks.0", "code"),
        "banks[0].code: missing",
    ),
    # -- bank.extra_windows --------------------------------------------------------------
    (
        "window list empty",
        setting("banks.1.bank", "extra_windows", []),
        "banks[1].bank.extra_windows: must list at least one item",
    ),
    (
        "window days missing",
        window(days=None),
        "banks[1].bank.extra_windows[0].days: must be daily, {weekday: …, nth: […]} or "
        "{day_of_month: […]} (got nothing (null))",
    ),
    (
        "window key misspelt",
        window(begin="01:00"),
        "banks[1].bank.extra_windows[0].begin: unknown key (allowed: days, start, end, label)",
    ),
    (
        "weekday unknown",
        window(days={"weekday": "satday"}),
        "banks[1].bank.extra_windows[0].days.weekday: must be a weekday: monday … sunday, "
        "or 月 火 水 木 金 土 日 (got 'satday')",
    ),
    (
        "nth of 6",
        window(days={"weekday": "土", "nth": [6]}),
        "banks[1].bank.extra_windows[0].days.nth[0]: must be a whole number from 1 to 5",
    ),
    (
        "nth twice",
        window(days={"weekday": "土", "nth": [2, 2]}),
        "banks[1].bank.extra_windows[0].days.nth[1]: 2 is also "
        "banks[1].bank.extra_windows[0].days.nth[0]",
    ),
    (
        "nth without weekday",
        window(days={"nth": [2]}),
        "banks[1].bank.extra_windows[0].days.nth: nth counts a weekday: give weekday too",
    ),
    (
        "weekday and day of month",
        window(days={"weekday": "土", "day_of_month": [1]}),
        "banks[1].bank.extra_windows[0].days.day_of_month: give weekday (with nth) or "
        "day_of_month, not both",
    ),
    (
        "no day at all",
        window(days={}),
        "banks[1].bank.extra_windows[0].days: give weekday (with nth), day_of_month, "
        "or write daily",
    ),
    (
        "day of month 32",
        window(days={"day_of_month": [32]}),
        "banks[1].bank.extra_windows[0].days.day_of_month[0]: must be a whole number from 1 to 31",
    ),
    (
        "time unquoted",
        window(start=60),
        'banks[1].bank.extra_windows[0].start: must be a time from 00:00 to 23:59 such as "01:00", '
        "quoted (got the number 60: YAML reads 01:00 as 60)",
    ),
    (
        "time of one digit",
        window(start="1:00"),
        "banks[1].bank.extra_windows[0].start: must be a time from 00:00 to 23:59",
    ),
    (
        "start at 24:00",
        window(start="24:00"),
        "banks[1].bank.extra_windows[0].start: must be a time from 00:00 to 23:59",
    ),
    (
        "end after 24:00",
        window(end="24:30"),
        "banks[1].bank.extra_windows[0].end: must be a time from 00:00 to 24:00",
    ),
    (
        "end at start",
        window(end="01:00"),
        "banks[1].bank.extra_windows[0].end: must differ from start "
        "(a window of a whole day never opens)",
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [(e, x) for _, e, x in BAD], ids=[n for n, *_ in BAD]
)
def test_a_bad_platform_is_refused_in_one_line_naming_the_field(edit: Any, expected: str) -> None:
    data = base()
    edit(data)
    with pytest.raises(ScenarioError) as caught:
        parsed(data)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: {expected}")
    assert "\n" not in message


def test_a_bad_platform_file_names_its_line_where_the_sandbox_answers_it() -> None:
    """POST /sandboxes names the line of the field the error names (INTERFACE.md §9):
    a field under ``banks[…]`` is found in the text as any other."""
    from simulator.web.platform import line_of

    data = base()
    data["banks"][2]["personas"][0]["phone"] = "0901234"
    written = text(data)
    with pytest.raises(ScenarioError) as caught:
        parse_platform(written, SOURCE)
    line = line_of(written, caught.value.path)
    assert line is not None
    assert written.splitlines()[line - 1].strip().replace("'", "") == "phone: 0901234"


def test_a_misspelt_window_key_in_a_one_bank_file_is_refused_too() -> None:
    """``extra_windows`` is a bank setting: a one-bank file may give it as well."""
    data = yaml.safe_load(DEFAULT.read_text("utf-8"))
    data["bank"]["extra_windows"] = [{"days": "daily", "start": "23:55", "end": "24:00"}]
    rules = parse_scenario(data, SOURCE).rules
    assert [w.label for w in rules.own_windows] == ["毎日の23:55~24:00"]
    assert rules.windows[: len(DEFAULT_WINDOWS)] == DEFAULT_WINDOWS
    data["bank"]["extra_windows"][0]["days"] = "weekly"
    with pytest.raises(ScenarioError, match=r"bank\.extra_windows\[0\]\.days: must be daily"):
        parse_scenario(data, SOURCE)


# -- a bank's own windows -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "start", "end", "label"),
    [
        ({"weekday": "saturday", "nth": [2]}, "01:00", "05:00", "毎月第2土曜日の1:00~5:00"),
        ({"weekday": "月", "nth": [1, 3]}, "02:00", "06:00", "毎月第1および第3月曜日の2:00~6:00"),
        ({"weekday": "wednesday"}, "03:00", "03:30", "毎週水曜日の3:00~3:30"),
        ({"day_of_month": [15]}, "22:00", "02:00", "毎月15日の22:00~翌2:00"),
        (
            {"day_of_month": [5, 20, "last"]},
            "21:00",
            "24:00",
            "毎月5日、20日および末日の21:00~24:00",
        ),
        ("daily", "23:50", "00:10", "毎日の23:50~翌0:10"),
    ],
)
def test_an_own_window_is_labelled_as_faq_3_q1_writes_its_windows(
    days: object, start: str, end: str, label: str
) -> None:
    data = base()
    window(days=days, start=start, end=end)(data)
    rules = parsed(data).banks[1].rules
    (own,) = rules.own_windows
    assert (own.rule, own.label) == (OWN_WINDOW_RULE, label)
    assert own.start == dt.time.fromisoformat(start)
    assert rules.windows == (*DEFAULT_WINDOWS, own)


def test_an_own_window_may_carry_the_banks_own_label() -> None:
    data = base()
    window(label="システム更改作業のため")(data)
    assert parsed(data).banks[1].rules.own_windows[0].label == "システム更改作業のため"


def test_own_windows_close_that_bank_alone() -> None:
    """毎月第2土曜日の1:00~5:00 of bank 9902: 12 December 2026 is the 2nd Saturday."""
    data = base()
    window()(data)
    p = parsed(data)
    instant = dt.datetime(2026, 12, 12, 2, 0, tzinfo=OPEN_INSTANT.tzinfo)
    closed = [b.code for b in p.banks if not ServiceCalendar(b.rules.windows).is_open(instant)]
    assert closed == ["9902"]


# -- the shipped platform scenario ---------------------------------------------------------


@pytest.fixture(scope="module")
def platform() -> PlatformScenario:
    return load_platform(resources.scenario("platform"))


def test_the_platform_is_shipped_and_found_by_name() -> None:
    assert "platform" in resources.scenario_names()
    assert resources.find_scenario("platform") == resources.scenario("platform")
    assert resources.shown(resources.scenario("platform")) == "scenarios/platform.yaml"


def test_its_first_bank_is_the_default_scenarios_bank_exactly(platform: PlatformScenario) -> None:
    """中ノ郷信用組合: rules, branches, personas and population as scenarios/default.yaml;
    the apps too; the code 9901 is renkei's (the manual gives none)."""
    default = load_scenario(DEFAULT)
    first = platform.first
    assert first.code == "9901"
    assert first.rules == default.rules
    assert first.branches == default.branches
    assert first.personas == default.personas
    assert first.population == default.population
    assert first.clients == default.clients == platform.clients
    assert PlatformRules.of(default.rules) == platform.rules


def test_five_credit_unions_that_differ_where_the_manual_leaves_it_open(
    platform: PlatformScenario,
) -> None:
    banks = platform.banks
    assert platform.codes == ("9901", "9902", "9903", "9904", "9905")
    names = [b.rules.name for b in banks]
    assert names[0] == "中ノ郷信用組合"
    # invented names, said to be so in their very name
    assert all(("架空" in n or "試験" in n) and n.endswith("信用組合") for n in names[1:])
    assert len({b.rules.lockout.threshold for b in banks}) == len(banks)
    pools = [set(b.rules.call_pool) for b in banks]
    assert sum(len(p) for p in pools) == len(set().union(*pools))
    assert len({b.rules.contact.phone for b in banks}) == len(banks)
    assert len({b.rules.contact.email for b in banks}) == len(banks)
    assert len({tuple(b.branches) for b in banks}) == len(banks)
    for b in banks[1:]:
        assert b.rules.contact.email.endswith(".example")
        assert len(b.rules.own_windows) == 1
        # Japan assigns no local number starting with 0: the phone cannot be real.
        assert b.rules.contact.phone.split("-")[1].startswith("0")
    assert len({b.rules.own_windows for b in banks}) == len(banks)


def test_every_fictional_bank_has_its_personas_none_of_them_the_defaults(
    platform: PlatformScenario,
) -> None:
    default = load_scenario(DEFAULT)
    taken_pins = {a.card.pin for p in default.personas for a in p.accounts if a.card}
    taken_phones = {p.phone for p in default.personas}
    for b in platform.banks[1:]:
        ids = {p.id for p in b.personas}
        assert {"happy", "identity", "lockout"} <= ids, b.code
        for p in b.personas:
            assert p.phone not in taken_phones, (b.code, p.id)
            assert all(a.card is None or a.card.pin not in taken_pins for a in p.accounts)


def customer_form(persona: Persona, phone: str | None = None) -> dict[str, str]:
    birth = persona.birth_date.resolve(TODAY)
    return {
        "name_kana": persona.name_kana,
        "birth_year": str(birth.year),
        "birth_month": f"{birth.month:02d}",
        "birth_day": f"{birth.day:02d}",
        "phone": phone or persona.phone,
        "email": "tester@example.jp",
        "email_confirm": "tester@example.jp",
    }


def engine_of(bank: Scenario) -> tuple[ConnectFlow, Any]:
    vault = PinVault(b"platform-test-key")
    host = bank.build_host(vault, TODAY)
    clock = FixedClock(OPEN_INSTANT)
    return ConnectFlow(bank.rules, host, host, vault, clock, random.Random(3)), host


def start(engine: ConnectFlow, key: AccountKey) -> FlowState:
    flow = engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), "s", "c")
    account = {"branch_no": key.branch_no, "account_type": key.account_type}
    engine.submit_account(flow, {**account, "account_no": key.account_no})
    return flow


FICTIONAL = ["9902", "9903", "9904", "9905"]


@pytest.mark.parametrize("code", FICTIONAL)
def test_the_happy_persona_links_with_its_banks_pool_and_period(
    platform: PlatformScenario, code: str
) -> None:
    """R-FLOW-1..6, R-PLAT-1: the bank's own 認証先電話番号 and 認可期間."""
    bank = platform.bank(code)
    assert bank is not None
    engine, _ = engine_of(bank)
    persona = bank.persona("happy")
    spec = persona.accounts[0]
    assert spec.card is not None
    flow = start(engine, spec.key)
    engine.submit_customer(flow, customer_form(persona))
    engine.decide_phone(flow)
    assert flow.challenge is not None and flow.challenge.to_number in bank.rules.call_pool
    call = InboundCall(persona.phone, flow.challenge.to_number)
    assert engine.receive_call(call, [flow]).verified
    engine.confirm_call(flow)
    engine.submit_pin(flow, {"pin": spec.card.pin})
    assert flow.screen is Screen.CONSENT
    grant = engine.decide(flow, {"decision": "allow", "agree": "1"})
    assert grant is not None and grant.account == spec.key
    assert grant.expires_at - grant.granted_at == dt.timedelta(days=bank.rules.grants.days)


@pytest.mark.parametrize("code", FICTIONAL)
def test_the_lockout_persona_locks_at_its_banks_threshold(
    platform: PlatformScenario, code: str
) -> None:
    """R-ERR-HOST-2/3/4, R-PLAT-1: threshold-1 failures are identity_mismatch, the next locks."""
    bank = platform.bank(code)
    assert bank is not None
    engine, host = engine_of(bank)
    persona = bank.persona("lockout")
    key = persona.accounts[0].key
    flow = start(engine, key)
    wrong = customer_form(persona, phone="09000000000")
    for _ in range(bank.rules.lockout.threshold - 1):
        with pytest.raises(errors.IdentityMismatch):
            engine.submit_customer(flow, wrong)
    with pytest.raises(errors.LockedNow):
        engine.submit_customer(flow, wrong)
    with pytest.raises(errors.B84):
        engine.submit_customer(start(engine, key), customer_form(persona))
    identity = bank.persona("identity")
    with pytest.raises(errors.IdentityMismatch):
        engine.submit_customer(
            start(engine, identity.accounts[0].key), customer_form(identity, "09000000000")
        )
    assert host.failures(identity.accounts[0].key, TODAY) == 1


def test_two_banks_is_one_customer_at_two_banks(platform: PlatformScenario) -> None:
    """R-PLAT-2: the same person (name, birth date, phone) at 9902 and 9903."""
    people = [b.persona("two-banks") for b in platform.banks if b.code in ("9902", "9903")]
    assert len(people) == 2
    (a, b) = people
    assert (a.name_kana, a.birth_date, a.phone) == (b.name_kana, b.birth_date, b.phone)


def test_every_shipped_bank_builds(platform: PlatformScenario) -> None:
    for bank in platform.banks:
        host = bank.build_host(PinVault(b"k"), TODAY)
        assert {p.id for p in bank.personas} <= set(host.customers)


# -- docs/scenarios.md ----------------------------------------------------------------------


def docs_rows() -> list[list[str]]:
    """The rows of the platform scenario's persona table in docs/scenarios.md."""
    doc = (ROOT / "docs" / "scenarios.md").read_text("utf-8")
    section = doc.split("## The platform scenario's banks and personas", 1)[1]
    section = section.split("\n## ", 1)[0]
    persona_table = section.split("| bank | id |", 1)[1]
    rows = []
    for line in persona_table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


def test_the_docs_table_lists_every_persona_of_the_fictional_banks(
    platform: PlatformScenario,
) -> None:
    rows = docs_rows()
    listed = {(r[0], r[1]): r for r in rows}
    expected = {(str(b.code), p.id): p for b in platform.banks[1:] for p in b.personas}
    assert set(listed) == set(expected)
    for where, persona in expected.items():
        row = listed[where]
        assert row[2] == ", ".join(str(a.key) for a in persona.accounts), where
        pins = ", ".join(a.card.pin if a.card else "—" for a in persona.accounts)
        assert row[3] == pins, where
        assert row[4] == persona.phone, where


def test_the_docs_say_which_names_and_codes_are_fictional(platform: PlatformScenario) -> None:
    doc = (ROOT / "docs" / "scenarios.md").read_text("utf-8")
    section = doc.split("## The platform scenario's banks and personas", 1)[1].split("\n## ")[0]
    assert "fictional" in section and "9901" in section
    for bank in platform.banks:
        row = section.split(f"\n| {bank.code} | {bank.rules.name} | ", 1)[1].split("\n", 1)[0]
        cells = [cell.strip() for cell in row.split("|")]
        assert cells[0] == ", ".join(f"{b.code} {b.name}" for b in bank.branches)
        assert cells[1] == str(bank.rules.lockout.threshold)
        assert cells[2] == ", ".join(bank.rules.call_pool)
        assert cells[3] == f"{bank.rules.grants.days} days"
        assert cells[4] == ("; ".join(w.label for w in bank.rules.own_windows) or "none")
        assert cells[5].startswith(f"{bank.rules.contact.department} {bank.rules.contact.phone}")


# -- renkei scenario check ------------------------------------------------------------------


def test_scenario_check_lists_each_bank_and_its_personas(
    platform: PlatformScenario, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scenario", "check", "platform", "--today", "2026-11-24"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scenarios/platform.yaml: a platform of 5 banks — ")
    assert "Banks (5)" in out
    assert "Partner apps (registered on the platform)" in out
    for bank in platform.banks:
        heading = f"\nBank {bank.code} {bank.rules.name}"
        assert heading in out
        section = out.split(heading, 1)[1].split("\nBank ", 1)[0]
        assert f"lockout after        {bank.rules.lockout.threshold} identity failures" in section
        assert ", ".join(bank.rules.call_pool) in section
        for w in bank.rules.own_windows:
            assert w.label in section
        assert f"Personas ({len(bank.personas)})" in section
        for p in bank.personas:
            assert f"\n{p.id} " in section
        assert "Built for 2026-11-24: " in section
    assert "毎月第2土曜日の1:00~5:00" in out.split("Banks (5)")[1].split("\nBank ")[0]


def test_scenario_check_of_a_one_bank_file_shows_no_platform_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scenario", "check", "default", "--today", "2026-11-24"]) == 0
    out = capsys.readouterr().out
    assert "金融機関コード" not in out and "own windows" not in out and "Banks (" not in out
    assert "capacity             200 flows" in out


def test_scenario_check_of_a_bad_platform_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = copy.deepcopy(base())
    data["banks"][2]["personas"][0]["phone"] = "0901234"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text(data), "utf-8")
    assert main(["scenario", "check", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(
        rf"renkei: {re.escape(str(bad))}: banks\[2\]\.personas\[0\]\.phone: must be 10 or 11 "
        r"half-width digits starting with 0, no hyphens \(got '0901234'\)\n",
        captured.err,
    )
