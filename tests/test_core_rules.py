"""Unit tests of the core's smaller rules: clock, kana, input rules, host, PIN,
grants, telephony, history, mail, and the message catalogue."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from helpers import MANUAL, MOVED_FROM, MOVED_TO, NEW, NO_CARD, OPEN_INSTANT

from renkei.contract.errors import ERRORS, TERMINAL
from simulator.core import errors, inputs, kana, messages
from simulator.core.bank import BankRules
from simulator.core.clock import (
    JST,
    ClockSetting,
    FixedClock,
    SandboxClock,
    SystemClock,
    next_jst_midnight,
    to_jst,
)
from simulator.core.grants import GrantPolicy
from simulator.core.history import HistoryPolicy, Transaction, months_before, page
from simulator.core.host import (
    Account,
    AccountKey,
    AccountStatus,
    Customer,
    PinVault,
    identity_matches,
    move_account,
    unusable_reason,
)
from simulator.core.mail import completion_mail
from simulator.core.memory import MemoryHost
from simulator.core.screens import DETOURS, End
from simulator.core.telephony import (
    CallChallenge,
    CallVerdict,
    InboundCall,
    issue_challenge,
    judge_call,
    mask_phone,
)

UTC = dt.UTC

# -- clock ------------------------------------------------------------------------------------


def test_clocks_answer_aware_jst() -> None:
    assert SystemClock().now().tzinfo is JST
    assert FixedClock(dt.datetime(2026, 1, 1, tzinfo=UTC)).now().hour == 9
    with pytest.raises(ValueError, match="naive"):
        to_jst(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_sandbox_clock_set_advance_freeze_and_reset() -> None:
    source = FixedClock(OPEN_INSTANT)
    clock = SandboxClock(source)
    assert clock.now() == OPEN_INSTANT and clock.setting.is_real
    target = dt.datetime(2027, 1, 2, 3, 4, tzinfo=JST)
    clock.set(target)
    source.advance(10)  # real time runs on, and so does the set clock
    assert clock.now() == target + dt.timedelta(seconds=10)
    clock.set(target, frozen=True)
    source.advance(10)
    assert clock.now() == target
    clock.advance(90)
    assert clock.now() == target + dt.timedelta(seconds=90)
    clock.reset()
    assert clock.now() == source.now()


def test_clock_setting_round_trips_as_plain_fields() -> None:
    real = OPEN_INSTANT
    setting = ClockSetting().set(real + dt.timedelta(days=3), real, frozen=False)
    assert setting.offset == dt.timedelta(days=3) and setting.frozen_at is None
    assert setting.read(real + dt.timedelta(hours=1)) == real + dt.timedelta(days=3, hours=1)


def test_r_err_host_3_next_midnight_is_jst_not_utc() -> None:
    """R-ERR-HOST-3: 翌日0時 is 0:00 in Japan: 15:00 UTC the day before."""
    instant = dt.datetime(2026, 11, 24, 14, 59, tzinfo=UTC)  # 23:59 JST
    assert next_jst_midnight(instant) == dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert next_jst_midnight(dt.datetime(2026, 11, 25, tzinfo=JST)) == dt.datetime(
        2026, 11, 26, tzinfo=JST
    )


# -- kana ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "on_file"),
    [
        ("ｷｬﾉﾝ", "ｷﾔﾉﾝ"),
        ("ﾃﾞｰﾀ ﾀﾛｳ", "ﾃﾞｰﾀﾀﾛｳ"),
        ("ﾃﾞ-ﾀ ﾀﾛｳ", "ﾃﾞｰﾀ ﾀﾛｳ"),
        ("ｼｮｳｼﾞ  ｯﾍﾟｲ", "ｼﾖｳｼﾞ ﾂﾍﾟｲ"),
        ("ｳﾞｨｯﾂ", "ｳﾞｲﾂﾂ"),
    ],
)
def test_r_flow_2_kana_names_compare_after_normalisation(typed: str, on_file: str) -> None:
    """R-FLOW-2: width, small kana, dashes and spaces do not make a mismatch."""
    assert kana.same_name(typed, on_file)


@pytest.mark.parametrize(
    ("typed", "on_file"), [("ﾃﾞｰﾀ ﾀﾛｳ", "ﾃﾞｰﾀ ｼﾞﾛｳ"), ("ﾃｰﾀ ﾀﾛｳ", "ﾃﾞｰﾀ ﾀﾛｳ"), ("ﾊﾟﾝ", "ﾊﾞﾝ")]
)
def test_r_flow_2_different_names_still_differ(typed: str, on_file: str) -> None:
    """R-FLOW-2: voiced marks and different kana are real differences."""
    assert not kana.same_name(typed, on_file)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("ﾃﾞｰﾀ ﾀﾛｳ", True),
        ("ｱ", True),
        ("データ タロウ", False),  # full-width katakana
        ("でーた", False),  # hiragana
        ("ﾀﾞﾀ 太郎", False),  # kanji
        ("DATA TARO", False),
        ("   ", False),
        ("ﾀﾛｳ\n", False),
    ],
)
def test_r_err_input_2_name_must_be_half_width_katakana(text: str, ok: bool) -> None:
    """R-ERR-INPUT-2: お名前 (半角カタカナ)."""
    assert kana.is_half_width_kana_name(text) is ok


def test_kana_to_half_width_as_the_bank_files_it() -> None:
    assert kana.to_half_width("データ タロウ") == "ﾃﾞｰﾀ ﾀﾛｳ"
    assert kana.to_half_width("きゃのん") == "ｷｬﾉﾝ"


# -- input rules ----------------------------------------------------------------------------

CUSTOMER = {
    "name_kana": "ﾃﾞｰﾀ ﾀﾛｳ",
    "birth_year": "1985",
    "birth_month": "4",
    "birth_day": "1",
    "phone": "09012343333",
    "email": "taro@example.jp",
    "email_confirm": "taro@example.jp",
}
TODAY = OPEN_INSTANT.date()


def test_r_flow_1_account_entry_is_read() -> None:
    """R-FLOW-1: 店番 3 digits, 科目 a Zengin code, 口座番号 7 digits; trimmed."""
    key = inputs.read_account({"branch_no": " 005", "account_type": "1", "account_no": "0000123"})
    assert key == AccountKey("005", "1", "0000123")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("branch_no", "05"),
        ("branch_no", "0051"),
        ("branch_no", "００５"),  # full-width digits: Python's \d would take them
        ("branch_no", "a05"),
        ("account_type", "3"),
        ("account_no", "123456"),
        ("account_no", "12345678"),
        ("account_no", "１２３４５６７"),
        ("account_no", "123 4567"),
        ("account_no", "1234567\x00"),
    ],
)
def test_r_err_input_2_account_fields_in_the_wrong_form(field: str, value: str) -> None:
    """R-ERR-INPUT-2 on ①: each field's own message, code ``invalid``."""
    form = {"branch_no": "005", "account_type": "1", "account_no": "0000123", field: value}
    with pytest.raises(errors.InvalidInput) as caught:
        inputs.read_account(form)
    assert [(e.code, e.field) for e in caught.value.errors] == [("invalid", field)]
    assert caught.value.errors[0].message == messages.INVALID[field]


def test_r_err_input_1_required_beats_invalid_in_the_dialog() -> None:
    """R-ERR-INPUT-1: one empty field brings the dialog; other faults are listed too."""
    with pytest.raises(errors.RequiredMissing) as caught:
        inputs.read_account({"branch_no": "5", "account_type": "1"})
    assert [(e.code, e.field) for e in caught.value.errors] == [
        ("required", None),
        ("invalid", "branch_no"),
        ("required", "account_no"),
    ]


def test_r_flow_2_customer_entry_is_read() -> None:
    entry = inputs.read_customer(CUSTOMER, TODAY)
    assert entry.birth_date == dt.date(1985, 4, 1)
    assert (entry.name_kana, entry.phone, entry.email) == (
        "ﾃﾞｰﾀ ﾀﾛｳ",
        "09012343333",
        "taro@example.jp",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name_kana": "ｱ" * 49}, "name_kana"),
        ({"name_kana": "データ"}, "name_kana"),
        ({"birth_year": "85"}, "birth_year"),
        ({"birth_year": "1899"}, "birth_year"),
        ({"birth_year": "2027"}, "birth_year"),  # a birth date after today
        ({"birth_month": "13"}, "birth_month"),
        ({"birth_day": "32"}, "birth_day"),
        ({"birth_month": "2", "birth_day": "30"}, "birth_day"),  # impossible date
        ({"birth_year": "2023", "birth_month": "2", "birth_day": "29"}, "birth_day"),
        ({"phone": "090-1234-3333"}, "phone"),
        ({"phone": "090123433"}, "phone"),  # 9 digits
        ({"phone": "090123433331"}, "phone"),  # 12 digits
        ({"phone": "9012343333"}, "phone"),  # no leading 0
        ({"email": "a" * 60 + "@x.jp", "email_confirm": "a" * 60 + "@x.jp"}, "email"),
        ({"email": "taro@", "email_confirm": "taro@"}, "email"),
        ({"email_confirm": "taro@example.com"}, "email_confirm"),
    ],
)
def test_r_err_input_2_customer_fields_in_the_wrong_form(
    changes: dict[str, str], field: str
) -> None:
    """R-ERR-INPUT-2 on ②: lengths (48, 64, 10/11), half-width only, real dates, e-mails equal."""
    with pytest.raises(errors.InvalidInput) as caught:
        inputs.read_customer({**CUSTOMER, **changes}, TODAY)
    assert [e.field for e in caught.value.errors] == [field]


def test_r_err_input_2_edges_that_are_accepted() -> None:
    """R-FLOW-2: 48 kana, 64-character e-mail, 10-digit landline, 29 Feb of a leap year."""
    email = "a" * 58 + "@x.jp"
    assert len(email) == 63
    email += "p"
    entry = inputs.read_customer(
        {
            **CUSTOMER,
            "name_kana": "ｱ" * 48,
            "email": email,
            "email_confirm": email,
            "phone": "0336221234",
            "birth_year": "2024",
            "birth_month": "02",
            "birth_day": "29",
        },
        TODAY,
    )
    assert entry.birth_date == dt.date(2024, 2, 29) and len(entry.email) == 64


def test_r_err_input_1_every_empty_field_of_screen_2() -> None:
    """R-ERR-INPUT-1 on ②: 「必ず入力して下さい。」 under each of the seven fields."""
    with pytest.raises(errors.RequiredMissing) as caught:
        inputs.read_customer({}, TODAY)
    fields = [e.field for e in caught.value.errors]
    assert fields == [None, *CUSTOMER]
    assert {e.message for e in caught.value.errors[1:]} == {"必ず入力して下さい。"}


@pytest.mark.parametrize("pin", ["135", "13570", "１３５７", "13a7"])
def test_r_err_input_2_pin_is_4_half_width_digits(pin: str) -> None:
    """R-FLOW-5, R-ERR-INPUT-2: 暗証番号 (半角数字4桁)."""
    with pytest.raises(errors.InvalidInput):
        inputs.read_pin({"pin": pin})
    with pytest.raises(errors.RequiredMissing):
        inputs.read_pin({"pin": ""})
    assert inputs.read_pin({"pin": "0000"}) == "0000"


def test_r_flow_6_consent_form() -> None:
    """R-FLOW-6: allow with the box ticked; deny without; anything else refused."""
    assert inputs.read_consent({"decision": "allow", "agree": "1"}) is True
    assert inputs.read_consent({"decision": "deny"}) is False
    with pytest.raises(errors.InvalidInput):
        inputs.read_consent({"decision": "maybe"})
    with pytest.raises(errors.RequiredMissing):
        inputs.read_consent({"decision": "allow", "agree": "0"})


# -- host ----------------------------------------------------------------------------------------


def test_r_acct_1_2_3_which_accounts_can_be_linked(host: MemoryHost) -> None:
    """R-ACCT-1/2/3 and R-ERR-HOST-1: the reason each account is refused, or None."""
    assert unusable_reason(host.account(MANUAL), TODAY) is None
    assert unusable_reason(None, TODAY) == "no such account"
    assert unusable_reason(host.account(NO_CARD), TODAY) == "no cash card"
    assert unusable_reason(host.account(AccountKey("115", "2", "1100026")), TODAY) == (
        "not an ordinary deposit account"
    )
    assert unusable_reason(host.account(AccountKey("115", "1", "2000003")), TODAY) == "closed"
    assert unusable_reason(host.account(MOVED_FROM), TODAY) == f"moved to {MOVED_TO}"
    assert unusable_reason(host.account(MOVED_TO), TODAY) is None


def test_r_acct_2_a_new_account_becomes_usable_when_its_card_is_issued(host: MemoryHost) -> None:
    """R-ACCT-2: no card on the day of opening and some days after; then usable."""
    account = host.account(NEW)
    assert account is not None and account.card is not None
    issued = account.card.issued_on
    assert unusable_reason(account, issued - dt.timedelta(days=1)) == "cash card not yet issued"
    assert unusable_reason(account, issued) is None


def test_r_acct_3_moving_keeps_customer_card_and_history(host: MemoryHost) -> None:
    """R-ACCT-3: 移管 leaves the old number MOVED and opens the new one."""
    old, new = host.account(MOVED_FROM), host.account(MOVED_TO)
    assert old is not None and new is not None
    assert old.status is AccountStatus.MOVED and old.moved_to == MOVED_TO
    assert new.status is AccountStatus.OPEN and new.customer_id == old.customer_id
    assert new.card == old.card
    with pytest.raises(ValueError, match="only an open account"):
        move_account(old, AccountKey("033", "1", "3333333"), TODAY)
    with pytest.raises(ValueError, match="exists already"):
        host.move(MANUAL, MOVED_TO, TODAY)


def test_r_flow_2_identity_needs_all_three_items() -> None:
    """R-FLOW-2: name, birth date and phone must all agree."""
    taro = Customer("c", "ﾃﾞｰﾀ ﾀﾛｳ", dt.date(1985, 4, 1), "09012343333")
    assert identity_matches(taro, "ﾃﾞｰﾀﾀﾛｳ", dt.date(1985, 4, 1), "09012343333")
    assert not identity_matches(taro, "ﾃﾞｰﾀﾀﾛｳ", dt.date(1985, 4, 2), "09012343333")
    assert not identity_matches(taro, "ﾃﾞｰﾀﾀﾛｳ", dt.date(1985, 4, 1), "0901234333")
    assert not identity_matches(taro, "ﾃﾞｰﾀｼﾞﾛｳ", dt.date(1985, 4, 1), "09012343333")


def test_r_flow_5_r_authz_2_pin_is_a_keyed_hash(vault: PinVault) -> None:
    """R-FLOW-5, R-AUTHZ-2: only an HMAC is kept; without the key it proves nothing."""
    card = vault.card("card-x", TODAY, "1357")
    assert "1357" not in card.pin_hash and len(card.pin_hash) == 64
    account = Account(MANUAL, "c", TODAY, card=card)
    assert vault.verify(account, "1357") and not vault.verify(account, "1358")
    assert not PinVault(b"another key").verify(account, "1357")
    assert not vault.verify(Account(NO_CARD, "c", TODAY), "1357")
    assert vault.card("card-y", TODAY, "1357").pin_hash != card.pin_hash  # per card
    assert "secret" not in repr(vault)


def test_account_key_round_trip() -> None:
    key = AccountKey.parse("115-1-1100026")
    assert key == MANUAL and str(key) == "115-1-1100026" and key.type_name == "普通預金"
    for bad in ("115-1", "115-x-1100026", "１１５-1-1100026"):
        with pytest.raises(ValueError, match="not an account"):
            AccountKey.parse(bad)


# -- grants ------------------------------------------------------------------------------------

NOW = OPEN_INSTANT


def test_r_authz_1_r_flow_9_grant_lasts_30_days() -> None:
    """R-AUTHZ-1, R-FLOW-9: active for 30 days from 「許可する」, then over."""
    policy = GrantPolicy()
    grant = policy.grant("g", "creco", MANUAL, ("accounts",), NOW)
    assert policy.is_active(grant, NOW + dt.timedelta(days=30) - dt.timedelta(microseconds=1))
    assert not policy.is_active(grant, NOW + dt.timedelta(days=30))
    with pytest.raises(errors.GrantInactive) as caught:
        policy.check(grant, None, NOW + dt.timedelta(days=31))
    assert caught.value.oauth_error == "invalid_grant"
    assert GrantPolicy(days=7).grant("g", "c", MANUAL, (), NOW).expires_at == NOW + dt.timedelta(7)


def test_r_authz_3_revocation_by_the_bank_is_immediate() -> None:
    """R-AUTHZ-3: ended at once by the bank at the customer's request."""
    policy = GrantPolicy()
    grant = policy.revoke(policy.grant("g", "creco", MANUAL, (), NOW), NOW, by="bank")
    assert grant.revoked_by == "bank" and not policy.is_active(grant, NOW)
    assert policy.revoke(grant, NOW + dt.timedelta(1), by="app") == grant  # first one stands


def test_r_authz_4_uninstall_keeps_the_link_for_the_grace_period() -> None:
    """R-AUTHZ-4: after the uninstall notice the link goes on for 14 days (default)."""
    policy = GrantPolicy()
    grant = policy.uninstalled(policy.grant("g", "creco", MANUAL, (), NOW), NOW)
    assert policy.is_active(grant, NOW + dt.timedelta(days=13, hours=23))
    assert not policy.is_active(grant, NOW + dt.timedelta(days=14))
    late = policy.uninstalled(policy.grant("g", "c", MANUAL, (), NOW), NOW + dt.timedelta(25))
    assert policy.ends_at(late) == NOW + dt.timedelta(days=30)  # never past the 認可期間


def test_r_acct_3_a_grant_on_a_moved_account_answers_account_moved(host: MemoryHost) -> None:
    """R-ACCT-3: the old branch/number can no longer be refreshed."""
    policy = GrantPolicy()
    grant = policy.grant("g", "creco", MOVED_FROM, ("accounts",), NOW)
    with pytest.raises(errors.AccountMoved) as caught:
        policy.check(grant, host.account(MOVED_FROM), NOW)
    assert caught.value.status == 403
    policy.check(policy.grant("g", "creco", MANUAL, (), NOW), host.account(MANUAL), NOW)


# -- telephony ---------------------------------------------------------------------------------


def test_r_flow_3_phone_is_masked_but_the_last_four() -> None:
    """R-FLOW-3: 「*******3333」."""
    assert mask_phone("09012343333") == "*******3333"
    assert mask_phone("0336221234") == "******1234"


@pytest.mark.parametrize(
    ("dialled", "setting", "shown", "destination"),
    [
        ("0120111111", "shown", True, "0120111111"),
        ("0120111111", "withheld", False, "0120111111"),
        ("1860120111111", "withheld", True, "0120111111"),
        ("1840120111111", "shown", False, "0120111111"),
    ],
)
def test_r_flow_4_184_and_186(dialled: str, setting: str, shown: bool, destination: str) -> None:
    """R-FLOW-4: 186 shows the caller ID and 184 withholds it, whatever the setting."""
    call = InboundCall("09012343333", dialled, setting)
    assert call.caller_id_shown is shown and call.destination == destination


def test_r_err_call_3_verdicts() -> None:
    """R-ERR-CALL-2/3: each way a call can fail to verify has its own verdict."""
    challenge = CallChallenge("09012343333", "0120111111", NOW)
    good = InboundCall("09012343333", "0120111111")
    assert judge_call(good, challenge, NOW) is CallVerdict.VERIFIED
    assert judge_call(InboundCall("09012343333", "0120111111", "withheld"), challenge, NOW) is (
        CallVerdict.WITHHELD
    )
    assert judge_call(InboundCall("0311112222", "0120111111"), challenge, NOW) is (
        CallVerdict.WRONG_CALLER
    )
    assert judge_call(InboundCall("09012343333", "0120222222"), challenge, NOW) is (
        CallVerdict.WRONG_NUMBER
    )
    late = NOW + dt.timedelta(seconds=120, microseconds=1)
    assert judge_call(good, challenge, late) is CallVerdict.TOO_LATE
    assert judge_call(good, challenge, NOW + dt.timedelta(seconds=120)) is CallVerdict.VERIFIED


def test_r_flow_4_draw_is_repeatable_for_a_seed() -> None:
    pool = ("0120111111", "0120222222", "0120333333")
    draws = [issue_challenge(pool, "09012343333", NOW, random.Random(3)).to_number for _ in "ab"]
    assert draws[0] == draws[1]
    with pytest.raises(ValueError, match="empty"):
        issue_challenge((), "09012343333", NOW, random.Random(3))


# -- history ------------------------------------------------------------------------------------


def test_r_acct_4_about_three_months_back() -> None:
    """R-ACCT-4: the host keeps about 3 months: back to the same day 3 months ago."""
    policy = HistoryPolicy()
    assert policy.earliest(dt.date(2026, 11, 24)) == dt.date(2026, 8, 24)
    assert months_before(dt.date(2026, 5, 31), 3) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2026, 2, 15), 3) == dt.date(2025, 11, 15)
    assert policy.period(dt.date(2026, 8, 24), None, dt.date(2026, 11, 24)) == (
        dt.date(2026, 8, 24),
        dt.date(2026, 11, 24),
    )
    with pytest.raises(errors.HistoryOutOfRange) as caught:
        policy.period(dt.date(2026, 8, 23), None, dt.date(2026, 11, 24))
    assert "2026-08-24" in caught.value.message and caught.value.status == 400
    with pytest.raises(errors.InvalidParameter):
        policy.period(dt.date(2026, 11, 2), dt.date(2026, 11, 1), dt.date(2026, 11, 24))
    assert policy.period(None, None, TODAY) == (TODAY, TODAY)  # no dates: today


def test_r_acct_4_pages_of_at_most_500_oldest_first() -> None:
    """R-ACCT-4 and INTERFACE.md §5: paging by itemKey."""
    day = dt.date(2026, 11, 1)
    items = [Transaction(f"{i:06d}", day, day, "1", 1, "ｱ", i) for i in range(1203)]
    first = page(items, day, day)
    assert len(first.items) == 500 and first.has_next and first.next_item_key == "000499"
    second = page(items, day, day, first.next_item_key)
    third = page(items, day, day, second.next_item_key)
    assert second.items[0].item_key == "000500" and len(third.items) == 203
    assert not third.has_next and third.next_item_key is None


# -- completion mail -------------------------------------------------------------------------------


def test_r_authz_5_completion_mail() -> None:
    """R-AUTHZ-5: to the address given on ②, from the bank's sender, no secret in it."""
    rules = BankRules()
    grant = GrantPolicy().grant("g", "creco", MANUAL, ("accounts",), NOW)
    mail = completion_mail(rules, grant, "しんくみアプリwithCRECO", "taro@example.jp")
    assert mail.to == "taro@example.jp"
    assert mail.sender.endswith("@webcenter.anser.or.jp")
    assert "しんくみアプリwithCRECO" in mail.body and "30日" in mail.body
    assert "***0026" in mail.body and "1100026" not in mail.body
    assert "1357" not in mail.body


# -- the message catalogue ------------------------------------------------------------------------

INTERFACE = Path(__file__).resolve().parents[2] / "shared" / "spec" / "INTERFACE.md"


def test_every_code_of_interface_3_has_its_verbatim_message() -> None:
    """INTERFACE.md §3: each manual message in the catalogue byte for byte."""
    if not INTERFACE.exists():
        pytest.skip("shared/spec/INTERFACE.md is not beside this checkout")
    section = INTERFACE.read_text("utf-8").split("## 3. Error codes")[1].split("## 4.")[0]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| R-ERR")]
    assert len(rows) == 12
    for row in rows:
        requirement, code, text = row[1].strip(), row[2].strip().strip("`"), row[3].strip()
        cls = errors.BY_CODE[code]
        assert cls.requirement == requirement
        if code in ("required", "invalid") or text.startswith("the project"):
            continue
        assert messages.MESSAGES[code] == text, code


def test_required_texts_are_the_manuals() -> None:
    """R-ERR-INPUT-1: 「エラー」「入力されていない項目があります。」「必ず入力して下さい。」."""
    assert (messages.DIALOG_TITLE, messages.REQUIRED_DIALOG, messages.REQUIRED_FIELD) == (
        "エラー",
        "入力されていない項目があります。",
        "必ず入力して下さい。",
    )


def test_every_error_class_has_a_message_and_a_status() -> None:
    for code, cls in errors.BY_CODE.items():
        assert cls.code == code
        assert cls.status in (400, 401, 403, 410, 422, 500, 503)
        assert cls.requirement.startswith("R-")
        assert code in messages.MESSAGES or code in ("required", "invalid")


def test_what_follows_an_error_is_on_its_class_from_the_contract() -> None:
    """INTERFACE.md §1–§3: whether 「連携元画面へ」 is offered beside an error, whether
    the service refused it, whether a 5xx is meant and whether it ends the flow are
    class attributes read from the contract's row, not lists kept beside it."""
    for code, cls in errors.BY_CODE.items():
        row = ERRORS[code]
        assert cls.kind is row.kind
        assert cls.returns_beside is row.returns_beside, code
        assert cls.refusal is row.refusal, code
        assert cls.deliberate_5xx is row.deliberate_5xx, code
        assert cls.terminal is (code in TERMINAL), code
    assert errors.AccountUnavailable.returns_beside and errors.Congested.refusal
    assert not errors.IdentityMismatch.returns_beside and not errors.IdentityMismatch.refusal
    assert errors.OutOfHours.deliberate_5xx and not errors.SystemError_.deliberate_5xx


def test_a_terminal_error_ends_the_flow_wherever_the_table_detours_it() -> None:
    """R-ERR-HOST-3/4, R-ERR-CALL-4: the classes the contract calls terminal are the
    ones the screen table sends to the end, and every detour to the end is one."""
    ending = {d.error for d in DETOURS if d.target is End.FAILED}
    assert ending == {cls for cls in errors.BY_CODE.values() if cls.terminal}
    for d in DETOURS:
        assert d.error.terminal is (d.target is End.FAILED), d
