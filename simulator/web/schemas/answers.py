"""What the OAuth server (INTERFACE.md §1), the screens (§2) and the account API
(§5) answer (the telephony gateway's report and answer, §4, are in
:mod:`simulator.web.schemas.telephony`).

An optional member the bank leaves out when it has nothing to say is
``NotRequired``, never null (§5: "Optional fields that are empty are left out").
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import WithJsonSchema
from typing_extensions import TypedDict

from renkei.contract.api import TRANSACTION_TYPES
from renkei.contract.screens import FIELDS, SCREEN_IDS
from simulator.web.schemas import Day, Scope, Timestamp

AccountType = Annotated[str, WithJsonSchema(FIELDS["account_type"].json_schema())]
ScreenId = Annotated[
    str | None, WithJsonSchema({"type": ["string", "null"], "enum": [*SCREEN_IDS, None]})
]


class Error(TypedDict):
    """INTERFACE.md §5's error, also that of the gateway and the controls."""

    errorCode: str
    errorMessage: str


class OAuthError(TypedDict):
    """RFC 6749 §5.2."""

    error: str
    error_description: NotRequired[str]
    state: NotRequired[str]


class ScreenError(TypedDict):
    code: str
    message: str
    #: Null for a dialog or an error of the whole screen.
    field: str | None


class Screen(TypedDict):
    """The JSON model of a screen, or of the page that ends the flow (INTERFACE.md §2)."""

    screen_id: ScreenId
    title: str
    csrf_token: str | None
    errors: list[ScreenError]
    return_url: NotRequired[str | None]
    masked_phone: NotRequired[str]
    call_to: NotRequired[str]
    call_deadline: NotRequired[Timestamp]
    client_name: NotRequired[str]
    scopes: NotRequired[list[Scope]]
    expires_in_days: NotRequired[int]


class Metadata(TypedDict):
    """RFC 8414 §2: what it requires, and what a partner app reads to start the flow
    (the other members are RFC 8414's and RFC 9207's as they define them)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    response_types_supported: list[str]
    scopes_supported: list[Scope]
    code_challenge_methods_supported: list[str]


class Token(TypedDict):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str
    expires_in: int
    refresh_token: NotRequired[str]
    scope: NotRequired[str]


class Revoked(TypedDict):
    """RFC 7009 §2.2: an empty answer."""


class Introspection(TypedDict):
    """RFC 7662 §2.2."""

    active: bool
    client_id: NotRequired[str]
    scope: NotRequired[str]
    exp: NotRequired[int]


class Account(TypedDict):
    accountId: str
    branchCode: str
    branchName: NotRequired[str]
    accountTypeCode: AccountType
    accountTypeName: NotRequired[str]
    accountNumber: str
    accountNameKana: NotRequired[str]


class Accounts(TypedDict):
    accounts: list[Account]


class Balance(TypedDict):
    accountId: str
    accountTypeCode: AccountType
    accountTypeName: str
    balance: str
    withdrawableAmount: str
    baseDate: Day
    baseTime: str


class Balances(TypedDict):
    balances: list[Balance]


class Transaction(TypedDict):
    transactionDate: Day
    valueDate: Day
    transactionType: Annotated[
        str, WithJsonSchema({"type": "string", "enum": list(TRANSACTION_TYPES)})
    ]
    amount: str
    remarks: str
    balance: str
    itemKey: str


class Transactions(TypedDict):
    """明細, oldest first, at most 500 a page (R-ACCT-4)."""

    accountId: str
    dateFrom: Day
    dateTo: Day
    baseDate: Day
    baseTime: str
    hasNext: bool
    count: int
    transactions: list[Transaction]
    nextItemKey: NotRequired[str]
