"""The bulk population and the generated history (明細) it shares with the personas."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re

import pytest

from simulator.core.history import DEPOSIT, WITHDRAWAL, months_before
from simulator.core.host import AccountKey, AccountStatus, PinVault, unusable_reason
from simulator.core.kana import is_half_width_kana_name
from simulator.core.memory import MemoryHost
from simulator.population import (
    ACCOUNT_NUMBERS,
    BulkCustomer,
    add_population,
    filed_kana,
    populate,
)
from simulator.statements import generate_history

TODAY = dt.date(2026, 11, 24)
BRANCHES = ("001", "011", "022", "033", "115")
#: Half-width katakana (large only), digits, capitals, space and ( ) - . as statements print.
STATEMENT_TEXT = re.compile(r"[\uff66\uff70-\uff9f A-Z0-9()\-.]+")
SMALL_KANA = re.compile(r"[\uff67-\uff6f]")


@pytest.fixture(scope="module")
def people() -> list[BulkCustomer]:
    return populate(2_000, seed=7, today=TODAY, branches=BRANCHES)


# -- the population -----------------------------------------------------------------------


def test_same_seed_same_population_byte_for_byte() -> None:
    a = populate(300, seed=11, today=TODAY, branches=BRANCHES)
    b = populate(300, seed=11, today=TODAY, branches=BRANCHES)
    assert repr(a) == repr(b)


def test_another_seed_another_population() -> None:
    a = populate(50, seed=1, today=TODAY, branches=BRANCHES)
    b = populate(50, seed=2, today=TODAY, branches=BRANCHES)
    assert [p.customer for p in a] != [p.customer for p in b]
    assert [acc.key for p in a for acc in p.accounts] != [acc.key for p in b for acc in p.accounts]


def test_r_flow_2_phones_are_ones_screen_2_accepts(people: list[BulkCustomer]) -> None:
    """R-FLOW-2: 10-digit landlines or 11-digit 070/080/090 mobiles, digits only."""
    phones = [p.customer.phone for p in people]
    for phone in phones:
        assert phone.isascii() and phone.isdigit(), phone
        if len(phone) == 11:
            assert phone[:3] in ("070", "080", "090"), phone
        else:
            assert len(phone) == 10 and phone[0] == "0", phone
            assert phone[:3] not in ("070", "080", "090") and not phone.startswith("0120")
    share_mobile = sum(len(p) == 11 for p in phones) / len(phones)
    assert 0.6 < share_mobile < 0.9  # both kinds are there


def test_r_flow_2_names_are_half_width_kana_as_filed(people: list[BulkCustomer]) -> None:
    """R-FLOW-2: names pass the screen's check, at most 48, with no small kana."""
    for p in people:
        name = p.customer.name_kana
        assert is_half_width_kana_name(name), name
        assert len(name) <= 48 and " " in name
        assert not SMALL_KANA.search(name), name
        assert p.customer.name_kanji.count(" ") == 1


def test_kana_and_kanji_are_one_name() -> None:
    """The pair methods: the kana reading belongs to the kanji drawn with it."""
    people = populate(400, seed=3, today=TODAY, branches=BRANCHES)
    readings: dict[str, set[str]] = {}
    for p in people:
        family_kanji = p.customer.name_kanji.split(" ")[0]
        readings.setdefault(family_kanji, set()).add(p.customer.name_kana.split(" ")[0])
    # 斎藤 and 斉藤 share サイトウ; no kanji may have two readings.
    assert all(len(r) == 1 for r in readings.values())
    assert len(readings) > 20


def test_small_kana_are_filed_large() -> None:
    assert filed_kana("キョウスケ ジュン") == "ｷﾖｳｽｹ ｼﾞﾕﾝ"


def test_account_keys_are_unique_and_avoid_taken_ones(people: list[BulkCustomer]) -> None:
    keys = [a.key for p in people for a in p.accounts]
    assert len(keys) == len(set(keys))
    assert all(int(k.account_no) in ACCOUNT_NUMBERS and k.branch_no in BRANCHES for k in keys)
    taken = set(keys[:500])
    more = populate(2_000, seed=8, today=TODAY, branches=BRANCHES, taken=taken)
    assert not taken & {a.key for p in more for a in p.accounts}


def test_customer_ids_are_unique_though_names_repeat(people: list[BulkCustomer]) -> None:
    ids = [p.customer.customer_id for p in people]
    names = [p.customer.name_kana for p in people]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) < len(names)  # the name pool is small: never key on a name


def test_r_acct_1_2_the_population_has_every_kind_of_account(
    people: list[BulkCustomer],
) -> None:
    """R-ACCT-1/2: mostly linkable 普通, some without card, not yet issued, closed, other 科目."""
    host = MemoryHost()
    add_population(host, PinVault(b"k"), people)
    reasons = [unusable_reason(a, TODAY) for a in host.accounts.values()]
    assert reasons.count(None) > 0.75 * len(reasons)
    for reason in ("no cash card", "closed", "not an ordinary deposit account"):
        assert reason in reasons
    assert "cash card not yet issued" in reasons


def test_pins_are_kept_for_the_load_tools_and_hashed_in_the_host(
    people: list[BulkCustomer],
) -> None:
    vault = PinVault(b"k")
    host = MemoryHost()
    add_population(host, vault, people[:50])
    for p in people[:50]:
        for a in p.accounts:
            account = host.account(a.key)
            assert account is not None
            if a.pin is None:
                assert account.card is None
            else:
                assert re.fullmatch(r"[0-9]{4}", a.pin)
                assert account.card is not None and a.pin not in account.card.pin_hash
                assert vault.verify(account, a.pin)


def test_history_ends_at_each_balance(people: list[BulkCustomer]) -> None:
    for p in people:
        for a in p.accounts:
            if a.history:
                assert a.history[-1].balance == a.balance
            if a.status is AccountStatus.CLOSED:
                assert a.balance == 0 and a.history == ()


# -- the history generator ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_r_acct_4_history_keeps_its_rules(seed: int) -> None:
    """R-ACCT-4: N months back from today, sorted keys, never negative, ends at the balance."""
    rng = random.Random(seed)
    months, per_month = rng.randint(1, 6), rng.randint(1, 12)
    closing = rng.choice([0, 500, 120_000, 3_000_000])
    opened = rng.choice([None, TODAY - dt.timedelta(days=rng.randrange(200))])
    items = generate_history(rng, TODAY, months, per_month, closing, opened_on=opened)
    start = months_before(TODAY, months)
    if opened is not None:
        start = max(start, opened)
    assert all(start <= t.date <= TODAY and t.value_date == t.date for t in items)
    keys = [t.item_key for t in items]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert [t.date for t in items] == sorted(t.date for t in items)
    assert all(t.balance >= 0 and t.amount > 0 for t in items)
    if items:
        assert items[-1].balance == closing
    for before, after in itertools.pairwise(items):
        change = after.amount if after.kind == DEPOSIT else -after.amount
        assert after.balance == before.balance + change
    for t in items:
        assert STATEMENT_TEXT.fullmatch(t.remarks), t.remarks
        assert t.kind in (DEPOSIT, WITHDRAWAL)


def test_history_covers_every_month_and_looks_like_a_statement() -> None:
    items = generate_history(random.Random(1), TODAY, 5, 8, 352_800)
    months = {(t.date.year, t.date.month) for t in items}
    assert len(months) >= 5
    assert items[0].date < months_before(TODAY, 4)
    remarks = " ".join(t.remarks for t in items)
    assert ("ｷﾕｳﾖ" in remarks) or ("ﾈﾝｷﾝ" in remarks)
    for kind in ("ｺｳﾌﾘ", "ｶ-ﾄﾞ", "ﾌﾘｺﾐ"):
        assert kind in remarks
    per_month = len(items) / 5
    assert 6 <= per_month <= 10


def test_history_is_repeatable_for_a_seed() -> None:
    a = generate_history(random.Random("0:115-1-1100026"), TODAY, 4, 6, 10_000)
    b = generate_history(random.Random("0:115-1-1100026"), TODAY, 4, 6, 10_000)
    c = generate_history(random.Random("1:115-1-1100026"), TODAY, 4, 6, 10_000)
    assert a == b and a != c


def test_history_starts_no_earlier_than_the_account() -> None:
    opened = TODAY - dt.timedelta(days=10)
    items = generate_history(random.Random(5), TODAY, 3, 20, 50_000, opened_on=opened)
    assert items and min(t.date for t in items) >= opened


def test_history_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        generate_history(random.Random(0), TODAY, 0, 5, 100)
    with pytest.raises(ValueError):
        generate_history(random.Random(0), TODAY, 3, 5, -1)


def test_population_keys_are_account_keys(people: list[BulkCustomer]) -> None:
    key = people[0].accounts[0].key
    assert AccountKey.parse(str(key)) == key
