"""Steps of features/banks.feature (R-PLAT-1..3): several credit unions on one platform.

The scenarios run in a sandbox made from the scenario renkei ships as ``platform``
(five credit unions, INTERFACE.md §10) with the operator's token, as
features/platform.feature makes its own (harness.steps.platform): one for the
whole run, made by the first scenario that asks and deleted when the run ends,
since making five banks costs more than a scenario; what a scenario changes in
it (faults, locks, the clock) is put back after it. Each bank is served at
``BASE/banks/CODE/``; what the features expect of each (its name, phone,
threshold, 認証先電話番号 and customers) is read from that scenario file
(:func:`harness.personas.load_banks`), as the tester of another implementation
would read its description. The congestion scenario makes a sandbox of its own
with a small capacity, deleted after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from pytest_bdd import given, parsers, then, when

from harness.driver import TIMEOUT, Platform, Sandbox, SandboxInfo, origin_of
from harness.embedded import Target
from harness.personas import BankPeople, Persona, load_banks, load_personas
from harness.steps.helpers import FAULTS, WEEKDAY, Visit, retry_after_is, start_visit, walk_to
from harness.steps.platform import (
    TTL_SECONDS,
    World,
    can_read_in,
    introspect_at,
    introspected_in,
    make_world,
    refused_in,
)
from renkei import resources
from renkei.contract import banks as contract
from renkei.contract import controls, oauth
from renkei.contract.screens import SCREEN_PATHS, Screen

#: The shipped platform scenario the features run in, and its file.
SCENARIO: Final = "platform"
#: The persona of each bank but the first that starts a flow where any customer will do.
ANYONE: Final = "happy"


@dataclass(repr=False)
class Banks:
    """The platform sandbox: its base (the first bank, §10), a World per bank (its
    base URL ``BASE/banks/CODE`` and its controls), what each bank is, and what
    the scenario changed, to put back after it."""

    info: SandboxInfo
    base: World
    banks: dict[str, World]
    people: dict[str, BankPeople]
    #: Worlds whose faults a scenario set, and accounts it may have locked (bank, account).
    faulted: set[str] = field(default_factory=set)
    locked: set[tuple[str, str]] = field(default_factory=set)
    #: The answer of the last control the scenario sent at the base.
    answer: requests.Response | None = None

    def __repr__(self) -> str:
        return f"Banks({self.info.base_url!r}, {sorted(self.banks)})"

    def bank(self, code: str) -> World:
        assert code in self.banks, f"no bank {code!r} on the platform (banks: {sorted(self.banks)})"
        return self.banks[code]

    def anyone(self, code: str) -> str:
        """The customer who starts a flow at bank ``code`` where any will do: the
        manual's at the first bank (the default scenario's), ``happy`` at the others."""
        return "manual" if code == next(iter(self.people)) else ANYONE

    def persona(self, code: str, persona_id: str) -> Persona:
        people = self.people[code].personas
        assert persona_id in people, f"bank {code} has no persona {persona_id!r}"
        return people[persona_id]

    def put_back(self) -> None:
        """After a scenario: its visits closed, faults off and locks undone where it
        set them, and the clock back on a weekday morning."""
        for world in (self.base, *self.banks.values()):
            for visit in world.visits:
                visit.close()
            world.visits.clear()
        if "platform" in self.faulted:
            self.base.controls.request(
                "PUT",
                controls.FAULTS_PATH,
                **dict.fromkeys(FAULTS.values(), False),
                scope="platform",
            )
        for code in self.faulted - {"platform"}:
            self.bank(code).controls.faults()
        self.faulted.clear()
        for code, account in self.locked:
            self.bank(code).controls.unlock(account)
        self.locked.clear()
        self.base.controls.frozen_at(WEEKDAY)

    def close(self) -> None:
        for world in (self.base, *self.banks.values()):
            world.close()


def _world(name: str, info: SandboxInfo, url: str) -> World:
    return World(
        name,
        info,
        Target(url, info.admin_token, info.telephony_secret),
        Sandbox(url, info.admin_token),
    )


@pytest.fixture(scope="session")
def shipped_platform(platform: Platform) -> Iterator[list[Banks]]:
    """The platform sandbox of the run, made on first use (a list: empty until then)."""
    made: list[Banks] = []
    yield made
    for banks in made:
        banks.close()
        platform.delete(banks.info.id)


@pytest.fixture
def banks(shipped_platform: list[Banks], platform: Platform) -> Iterator[Banks]:
    """The platform sandbox, as the scenario before left it put back."""
    if not shipped_platform:
        try:
            info = platform.create(SCENARIO, label="R-PLAT banks", ttl_seconds=TTL_SECONDS)
        except Exception as e:
            raise AssertionError(
                f"the target made no sandbox of the scenario {SCENARIO!r} (INTERFACE.md §9–§10): {e}"
            ) from None
        base = info.base_url.rstrip("/")
        people = load_banks(resources.scenario(SCENARIO))
        found = Banks(
            info,
            _world("base", info, base),
            {code: _world(code, info, base + contract.bank_base(code)) for code in people},
            people,
        )
        found.base.controls.faults_off()
        shipped_platform.append(found)
    here = shipped_platform[0]
    yield here
    here.put_back()


# -- the platform ----------------------------------------------------------------------------


@given("五つの信用組合のあるプラットフォームのサンドボックスで、平日の朝である")
def five_banks(banks: Banks) -> None:
    assert len(banks.banks) >= 5, banks
    banks.base.controls.frozen_at(WEEKDAY)


@given(parsers.parse('時計が土曜日の "{instant}" を指している'))
def platform_clock(banks: Banks, instant: str) -> None:
    """The platform's one clock (§10), set at the base."""
    banks.base.controls.set_clock(instant)


@when(parsers.parse('プラットフォーム全体に障害 "{fault}" を起こす'))
def platform_fault(banks: Banks, fault: str) -> None:
    banks.faulted.add("platform")
    answer = banks.base.controls.request(
        "PUT", controls.FAULTS_PATH, **{FAULTS[fault]: True, contract.SCOPE: contract.PLATFORM}
    )
    assert answer.status_code == 200, (answer.status_code, answer.text)
    banks.answer = answer


@then("その答えはプラットフォーム全体の障害であると示す")
def says_platform(banks: Banks) -> None:
    assert banks.answer is not None, "no control was sent"
    assert banks.answer.json().get(contract.SCOPE) == contract.PLATFORM, banks.answer.text


@when(
    parsers.parse(
        'プラットフォーム全体の障害が解消し、信用組合 "{code}" だけに障害 "{fault}" を起こす'
    )
)
def one_bank_fault(banks: Banks, code: str, fault: str) -> None:
    off = banks.base.controls.request(
        "PUT",
        controls.FAULTS_PATH,
        **dict.fromkeys(FAULTS.values(), False),
        **{contract.SCOPE: contract.PLATFORM},
    )
    assert off.status_code == 200, (off.status_code, off.text)
    banks.faulted.add(code)
    banks.bank(code).controls.faults(**{FAULTS[fault]: True})


# -- customers at a bank ---------------------------------------------------------------------


def begin_at(banks: Banks, code: str, persona_id: str) -> Visit:
    world = banks.bank(code)
    visit = start_visit(world.target, banks.persona(code, persona_id))
    world.visits.append(visit)
    return visit


@when(parsers.parse('お客様 "{persona_id}" が信用組合 "{code}" で API連携認証を始める'))
def begin_at_bank(banks: Banks, persona_id: str, code: str) -> None:
    begin_at(banks, code, persona_id)


@when(parsers.parse('お客様 "{persona_id}" がサンドボックスの基底 URL で API連携認証を始める'))
def begin_at_base(banks: Banks, persona_id: str) -> None:
    first = next(iter(banks.people))
    visit = start_visit(banks.base.target, banks.persona(first, persona_id))
    banks.base.visits.append(visit)


@when(parsers.parse('信用組合 "{code}" で画面 "{screen}" まで正しく進む'))
def walk_at_bank(banks: Banks, code: str, screen: str) -> None:
    walk_to(banks.bank(code).visit, screen)


@when(
    parsers.parse(
        'お客様 "{persona_id}" が信用組合 "{code}" で API連携認証を最後まで済ませ、'
        "連携元アプリがトークンを受け取る"
    )
)
def complete_at_bank(banks: Banks, persona_id: str, code: str) -> None:
    visit = _allowed(banks, code, persona_id)
    visit.tokens = visit.app.exchange(str(visit.returned))
    assert visit.tokens.get("access_token"), visit.tokens


@when(
    parsers.parse(
        'お客様 "{persona_id}" が信用組合 "{code}" で「許可する」まで済ませ、'
        "連携元アプリが認可コードを受け取る"
    )
)
def allowed_at_bank(banks: Banks, persona_id: str, code: str) -> None:
    _allowed(banks, code, persona_id)


def _allowed(banks: Banks, code: str, persona_id: str) -> Visit:
    """Screens ① to ⑥ with the right answers and 「許可する」: back at the app with a code."""
    visit = begin_at(banks, code, persona_id)
    walk_to(visit, Screen.CONSENT.value)
    visit.press(SCREEN_PATHS[Screen.CONSENT.value], {"decision": "allow", "agree": "1"})
    assert visit.returned, (visit.last.status, visit.last.body)
    assert "code" in dict(parse_qsl(urlsplit(visit.returned).query)), visit.returned
    return visit


@when(
    parsers.parse(
        'お客様 "{persona_id}" が信用組合 "{code}" で画面②の本人認証をその信用組合の規定回数だけ誤る'
    )
)
def fail_to_threshold(banks: Banks, persona_id: str, code: str) -> None:
    """The bank's own threshold (R-ERR-HOST-3, R-PLAT-1) of identity failures on ②."""
    visit = begin_at(banks, code, persona_id)
    banks.locked.add((code, visit.persona.account_id))
    walk_to(visit, Screen.CUSTOMER.value)
    answers = []
    for _ in range(banks.people[code].lockout_threshold):
        wrong = visit.persona.details(name_kana="ﾍﾞﾂｼﾞﾝ ﾃﾞｽ")
        answer = visit.press(SCREEN_PATHS[Screen.CUSTOMER.value], wrong)
        answers.append((answer.status, tuple(answer.codes)))
    visit.tokens = {"answers": answers}


# -- what a bank answers ---------------------------------------------------------------------


@then(
    parsers.parse(
        '信用組合 "{code}" の画面 "{screen}" にその信用組合の名前とお問い合わせ先の電話番号が'
        "表示される"
    )
)
def shows_its_bank(banks: Banks, code: str, screen: str) -> None:
    answer = banks.bank(code).visit.last
    people = banks.people[code]
    assert (answer.status, answer.screen_id) == (200, screen), (answer.status, answer.body)
    assert answer.body.get("bank_name") == people.name, answer.body.get("bank_name")
    assert answer.body.get("contact_phone") == people.phone, answer.body.get("contact_phone")


@then(parsers.parse('基底 URL の画面 "{screen}" に信用組合 "{code}" の名前が表示される'))
def base_is_first(banks: Banks, screen: str, code: str) -> None:
    answer = banks.base.visit.last
    assert (answer.status, answer.screen_id) == (200, screen), (answer.status, answer.body)
    assert answer.body.get("bank_name") == banks.people[code].name, answer.body


@then("信用組合ごとのメタデータの issuer はその信用組合の URL である")
def issuers(banks: Banks) -> None:
    """RFC 8414: each bank's metadata, at the origin's well-known path with the
    issuer's path after it and under the bank's base, names that bank's URL."""
    origin = origin_of(banks.info.base_url)
    base_path = urlsplit(banks.info.base_url).path.rstrip("/")
    session = banks.base.controls.session
    for code, world in banks.banks.items():
        for url in (
            origin + contract.metadata_path(base_path, code),
            world.target.url + oauth.METADATA_PATH,
        ):
            r = session.get(url, timeout=TIMEOUT)
            assert r.status_code == 200, (url, r.status_code, r.text)
            assert r.json()["issuer"] == world.target.url, (url, r.json()["issuer"])


@then(parsers.parse('最後の答えだけがロックの "{locked}" で、その前はどれも "{failed}" である'))
def locked_at_last(banks: Banks, locked: str, failed: str) -> None:
    visits = [v for w in banks.banks.values() for v in w.visits if "answers" in v.tokens]
    assert visits, "no bank was failed to its threshold"
    answers = visits[-1].tokens["answers"]
    expected = [(422, (failed,))] * (len(answers) - 1) + [(403, (locked,))]
    assert answers == expected, answers


@then(parsers.parse('画面④でかける番号は信用組合 "{code}" の認証先電話番号の一つである'))
def dials_its_pool(banks: Banks, code: str) -> None:
    answer = banks.bank(code).visit.last
    assert answer.screen_id == Screen.CALL.value, answer.body
    assert answer.body["call_to"] in banks.people[code].call_pool, (
        answer.body["call_to"],
        banks.people[code].call_pool,
    )


def _as_worlds(banks: Banks) -> dict[str, World]:
    return dict(banks.banks)


@then(parsers.parse('信用組合 "{issuer}" のアクセストークンで信用組合 "{name}" の口座照会ができる'))
def reads_at_bank(banks: Banks, issuer: str, name: str) -> None:
    can_read_in(_as_worlds(banks), issuer, name)


@then(
    parsers.parse(
        '信用組合 "{issuer}" のアクセストークンは信用組合 "{name}" の口座APIで '
        '{status:d} "{code}" で断られる'
    )
)
def refused_at_bank(banks: Banks, issuer: str, name: str, status: int, code: str) -> None:
    refused_in(_as_worlds(banks), issuer, name, status, code)


@then(
    parsers.parse(
        '信用組合 "{issuer}" のアクセストークンは信用組合 "{name}" のイントロスペクションで'
        "{state}である"
    )
)
def introspected_at_bank(banks: Banks, issuer: str, name: str, state: str) -> None:
    introspected_in(_as_worlds(banks), issuer, name, state)


@then(
    parsers.parse(
        '信用組合 "{issuer}" のリフレッシュトークンは信用組合 "{name}" のトークンエンドポイントで '
        '"{error}" で断られる'
    )
)
def refresh_refused_at_bank(banks: Banks, issuer: str, name: str, error: str) -> None:
    visit = banks.bank(issuer).with_tokens
    r = visit.app.http.post(
        banks.bank(name).target.url + oauth.TOKEN_PATH,
        data={"grant_type": "refresh_token", "refresh_token": visit.tokens["refresh_token"]},
        auth=(visit.app.client_id, visit.app.client_secret),
        timeout=TIMEOUT,
    )
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json().get("error") == error, r.text
    # Still good where it was issued: the refusal is the other bank's, not a spent token.
    back = introspect_at(banks.bank(issuer).target.url, visit.app, visit.tokens["refresh_token"])
    assert back.json().get("active") is True, back.text


def _code_of(banks: Banks) -> tuple[Visit, str]:
    visits = [v for w in banks.banks.values() for v in w.visits if v.returned]
    assert visits, "no partner app received an authorization code"
    visit = visits[-1]
    return visit, dict(parse_qsl(urlsplit(str(visit.returned)).query))["code"]


def _exchange_at(visit: Visit, base: str, code: str) -> requests.Response:
    return visit.app.http.post(
        base + oauth.TOKEN_PATH,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": visit.app.redirect_uri,
            "code_verifier": visit.app.verifier,
        },
        auth=(visit.app.client_id, visit.app.client_secret),
        timeout=TIMEOUT,
    )


@then(
    parsers.parse(
        'その認可コードは信用組合 "{name}" のトークンエンドポイントで "{error}" で断られる'
    )
)
def code_refused_at_bank(banks: Banks, name: str, error: str) -> None:
    visit, code = _code_of(banks)
    r = _exchange_at(visit, banks.bank(name).target.url, code)
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json().get("error") == error, r.text


@then(parsers.parse('その認可コードで信用組合 "{name}" のトークンを受け取れる'))
def code_good_at_its_bank(banks: Banks, name: str) -> None:
    """The refusal elsewhere did not spend the code (RFC 6749 §4.1.2 spends it where used)."""
    visit, code = _code_of(banks)
    r = _exchange_at(visit, banks.bank(name).target.url, code)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json().get("access_token"), r.text


@then(
    parsers.parse(
        'どの信用組合で API連携認証を始めてもステータス {status:d} でエラー "{code}" が表示される'
    )
)
def refused_everywhere(banks: Banks, status: int, code: str) -> None:
    for bank in banks.banks:
        answer = begin_at(banks, bank, banks.anyone(bank)).last
        assert (answer.status, answer.codes) == (status, [code]), (bank, answer.status, answer.body)


@then(
    parsers.parse(
        '信用組合 "{closed}" ではステータス {status:d} でエラー "{code}" が表示され、'
        'ほかの信用組合では画面 "{screen}" が表示される'
    )
)
def refused_at_one(banks: Banks, closed: str, status: int, code: str, screen: str) -> None:
    for bank in banks.banks:
        answer = begin_at(banks, bank, banks.anyone(bank)).last
        if bank == closed:
            assert (answer.status, answer.codes) == (status, [code]), (bank, answer.body)
        else:
            assert (answer.status, answer.screen_id) == (200, screen), (bank, answer.body)


# -- congestion on a platform of its own -------------------------------------------------------


def small_platform(capacity: int, first: str, second: str) -> str:
    """A platform scenario of two banks with room for ``capacity`` flows in all: the
    default scenario's bank, and a second of one customer. Its one partner app may
    hold every slot with early flows (renkei's share of them is another scenario's)."""
    return f"""\
description: two banks sharing {capacity} flows (features/banks.feature)
platform:
  capacity_flows: {capacity}
  early_flows_per_client: {capacity}
clients:
  - client_id: creco
    client_secret: creco-secret
    name: しんくみアプリwithCRECO
    company: アイ・ティ・リアライズ株式会社
    redirect_uris: [http://127.0.0.1:8765/callback]
    scopes: [accounts, transactions]
banks:
  - code: "{first}"
    scenario: default
  - code: "{second}"
    bank:
      name: 受付枠試験信用組合
      contact:
        phone: 03-0000-9802
        email: api-support@uketsuke-shiken.example
      call_pool: ["0120980201"]
    branches:
      - {{code: "001", name: 本店}}
    personas:
      - id: happy
        behaviour: one customer, to start flows
        name_kana: ｼｹﾝ ﾊﾅｺ
        name_kanji: 試験 花子
        birth_date: 1990-01-01
        phone: "09000980201"
        accounts:
          - branch_no: "001"
            account_type: "1"
            account_no: "1000001"
            opened_on: 2010-04-01
            card: {{issued_on: 2010-04-10, pin: "1234"}}
"""


@dataclass
class Small:
    """The congestion scenario's platform of two banks: each bank's World and the one
    customer of each that starts flows (the default scenario's ``manual`` at the
    first, the second's only customer)."""

    banks: dict[str, World]
    customers: dict[str, Persona]

    def begin(self, code: str) -> Visit:
        bank = self.banks[code]
        visit = start_visit(bank.target, self.customers[code])
        bank.visits.append(visit)
        return visit


@given(
    parsers.parse(
        '受付枠が {capacity:d} 件の、二つの信用組合 "{first}" と "{second}" のプラットフォームの'
        "サンドボックスがある"
    ),
    target_fixture="small",
)
def small_platform_given(
    platform: Platform, worlds: dict[str, World], capacity: int, first: str, second: str
) -> Small:
    scenario = small_platform(capacity, first, second)
    world = make_world(platform, scenario, worlds, "小さな", requirement="R-PLAT-3")
    base = world.info.base_url.rstrip("/")
    found = {
        code: _world(code, world.info, base + contract.bank_base(code)) for code in (first, second)
    }
    for bank in found.values():
        worlds[f"小さな {bank.name}"] = bank  # closed with the sandbox, deleted once
        bank.deleted = True
    customers = {
        first: load_personas(resources.scenario())["manual"],
        second: Persona(
            "happy", "001", "1", "1000001", "ｼｹﾝ ﾊﾅｺ", ("1990", "1", "1"), "09000980201", "1234"
        ),
    }
    return Small(found, customers)


@when(
    parsers.parse(
        '信用組合 "{first}" で 1 人、信用組合 "{second}" で 1 人のお客様が API連携認証を始める'
    )
)
def one_each(small: Small, first: str, second: str) -> None:
    for code in (first, second):
        answer = small.begin(code).last
        assert (answer.status, answer.screen_id) == (200, Screen.ACCOUNT.value), answer.body


@then(
    parsers.parse(
        'どちらの信用組合でも次のお客様にはステータス {status:d} でエラー "{code}" が表示される'
    )
)
def congested_both(small: Small, status: int, code: str) -> None:
    for bank in small.banks:
        answer = small.begin(bank).last
        assert (answer.status, answer.codes) == (status, [code]), (bank, answer.status, answer.body)


@then(
    parsers.parse(
        'どちらの信用組合でも次のお客様にはステータス {status:d} でエラー "{code}" と'
        " Retry-After {seconds:d} 秒が表示される"
    )
)
def congested_both_until(small: Small, status: int, code: str, seconds: int) -> None:
    """renkei's rule (docs/hardening.md): the Retry-After of a full platform is when
    the rule frees its first slot."""
    for bank in small.banks:
        answer = small.begin(bank).last
        assert (answer.status, answer.codes) == (status, [code]), (bank, answer.status, answer.body)
        retry_after_is(answer, str(seconds))


@when(parsers.parse("プラットフォームの時計が {seconds:d} 秒進む"))
def small_clock_advances(small: Small, seconds: int) -> None:
    """The platform's one clock (INTERFACE.md §10), through its first bank's controls."""
    first = next(iter(small.banks.values()))
    first.controls.advance(seconds)


@then(parsers.parse('どちらの信用組合でも次のお客様には画面 "{screen}" が表示される'))
def admitted_both(small: Small, screen: str) -> None:
    for bank in small.banks:
        answer = small.begin(bank).last
        assert (answer.status, answer.screen_id) == (200, screen), (bank, answer.body)
