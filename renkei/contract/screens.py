"""INTERFACE.md §2: the six screens, their paths and the form fields each posts.

A field's format is declared once here. The bank's input rules
(``simulator.core.inputs``) read the patterns and lengths, the OpenAPI document
is built from them, and the tester's generators draw values that match them or
deliberately miss them. The manual's wording of each rule lives in the message
catalogue (``simulator.core.messages``), not here.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final


class Screen(enum.Enum):
    """A screen, by its 画面ID (SOA202 is not printed in the manual: ours)."""

    ACCOUNT = "SOA201"  # ① ご利用口座情報入力
    CUSTOMER = "SOA202"  # ② お客様情報入力
    PHONE = "SOA208"  # ③ 電話番号の確認
    CALL = "SOA209"  # ④ 電話番号認証
    PIN = "SOA211"  # ⑤ キャッシュカード暗証番号認証
    CONSENT = "SOA206"  # ⑥ 情報連携認可


#: 科目 codes of screen ① (Zengin), with the names its select shows.
ACCOUNT_TYPES: Final[dict[str, str]] = {
    "1": "普通預金",
    "2": "当座預金",
    "4": "貯蓄預金",
    "9": "その他",
}

#: The longest name ② accepts, in half-width characters.
MAX_NAME_LENGTH: Final = 48
#: The longest e-mail address ② accepts.
MAX_EMAIL_LENGTH: Final = 64
#: Half-width katakana (U+FF66..U+FF9F: ｦ…ﾝ, ｰ, ﾞ, ﾟ), the half-width space and the
#: punctuation the Zengin character set allows in names.
KANA_NAME_PATTERN: Final = r"[\uff66-\uff9f .\-()]+"
#: What an e-mail address of ② must look like (local part @ domain with a dot).
EMAIL_PATTERN: Final = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"


@dataclass(frozen=True)
class Field:
    """One form field: what the bank accepts, in the terms of JSON Schema.

    ``pattern`` is matched against the whole value (Python's ``re.fullmatch``;
    anchored for JSON Schema by :meth:`json_schema`); ``choices`` lists every
    accepted value where there are few.
    """

    name: str
    description: str
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    max_length: int | None = None

    def matches(self, value: str) -> bool:
        """Whether ``value`` has this field's form (lengths, pattern, choices)."""
        if self.max_length is not None and len(value) > self.max_length:
            return False
        if self.choices and value not in self.choices:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None

    def json_schema(self) -> dict[str, object]:
        schema: dict[str, object] = {"type": "string", "description": self.description}
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.pattern is not None:
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


def _digits(n: int) -> str:
    return f"[0-9]{{{n}}}"


FIELDS: Final[dict[str, Field]] = {
    f.name: f
    for f in (
        Field("branch_no", "店番: 3 half-width digits", _digits(3)),
        Field(
            "account_type",
            "科目 (Zengin code); only 1 普通預金 links",
            choices=("1", "2", "4", "9"),
        ),
        Field("account_no", "口座番号: 7 half-width digits", _digits(7)),
        Field(
            "name_kana",
            "お名前 (半角カナ), as registered",
            KANA_NAME_PATTERN,
            max_length=MAX_NAME_LENGTH,
        ),
        Field("birth_year", "生年月日: the year, 4 digits", _digits(4)),
        Field("birth_month", "生年月日: the month, 1-12", r"0?[1-9]|1[0-2]"),
        Field("birth_day", "生年月日: the day, 1-31", r"0?[1-9]|[12][0-9]|3[01]"),
        Field("phone", "the registered phone: 10 or 11 digits from 0", r"0[0-9]{9,10}"),
        Field(
            "email", "e-mail for the completion mail", EMAIL_PATTERN, max_length=MAX_EMAIL_LENGTH
        ),
        Field(
            "email_confirm",
            "the same e-mail again",
            EMAIL_PATTERN,
            max_length=MAX_EMAIL_LENGTH,
        ),
        Field("pin", "キャッシュカード暗証番号: 4 half-width digits", _digits(4)),
        Field("decision", "許可する (allow) or 拒否する (deny)", choices=("allow", "deny")),
        Field("agree", "the agreement box, ticked: 1 (posted with 「許可する」)", choices=("1",)),
    )
}


@dataclass(frozen=True)
class ScreenContract:
    """A screen as the outside sees it: its id, number, path and posted fields."""

    screen: Screen
    number: str
    path: str
    fields: tuple[Field, ...]
    requirement: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _fields(*names: str) -> tuple[Field, ...]:
    return tuple(FIELDS[n] for n in names)


SCREENS: Final[dict[Screen, ScreenContract]] = {
    s.screen: s
    for s in (
        ScreenContract(
            Screen.ACCOUNT,
            "①",
            "/connect/account",
            _fields("branch_no", "account_type", "account_no"),
            "R-FLOW-1",
        ),
        ScreenContract(
            Screen.CUSTOMER,
            "②",
            "/connect/customer",
            _fields(
                "name_kana",
                "birth_year",
                "birth_month",
                "birth_day",
                "phone",
                "email",
                "email_confirm",
            ),
            "R-FLOW-2",
        ),
        ScreenContract(Screen.PHONE, "③", "/connect/phone", (), "R-FLOW-3"),
        ScreenContract(Screen.CALL, "④", "/connect/call", (), "R-FLOW-4"),
        ScreenContract(Screen.PIN, "⑤", "/connect/pin", _fields("pin"), "R-FLOW-5"),
        ScreenContract(
            Screen.CONSENT, "⑥", "/connect/consent", _fields("agree", "decision"), "R-FLOW-6"
        ),
    )
}

#: 画面ID → path, in the order a flow meets the screens.
SCREEN_PATHS: Final[dict[str, str]] = {s.screen.value: s.path for s in SCREENS.values()}
#: 画面IDs in order.
SCREEN_IDS: Final[tuple[str, ...]] = tuple(SCREEN_PATHS)
#: 「中止する」 (INTERFACE.md §2).
CANCEL_PATH: Final = "/connect/cancel"
#: 「連携元画面へ」 (INTERFACE.md §1).
RETURN_PATH: Final = "/connect/return"
#: The cookie that carries the flow id between the screens (INTERFACE.md §2).
FLOW_COOKIE: Final = "renkei_flow"
#: The hidden field every screen form carries back (INTERFACE.md §2).
CSRF_FIELD: Final = "csrf_token"
#: Where every screen, 中止 and 「連携元画面へ」 are (INTERFACE.md §2): a request
#: under it is the customer's browser, and is answered with a page.
SCREEN_PREFIX: Final = "/connect"
