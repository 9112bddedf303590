"""The account API (INTERFACE.md §5, R-ACCT-3/4), behind OAuth bearer tokens.

JSON in camelCase as Japanese bank APIs write it; amounts are strings of yen;
empty optional fields are left out. Every rule — the 認可期間, the moved
account, the three-month history, paging — is the core's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from renkei.contract.api import ACCOUNTS_PATH, BALANCES_PATH, SCOPE_OF, TRANSACTIONS_PATH
from simulator.core.clock import to_jst
from simulator.core.errors import (
    AccountMoved,
    GrantInactive,
    InvalidParameter,
    RenkeiError,
)
from simulator.core.grants import Grant
from simulator.core.history import page
from simulator.core.host import Account, AccountKey
from simulator.web.responses import api_error, retry_after
from simulator.web.service import Service

#: Routed at the contract's paths (INTERFACE.md §5), so no prefix of its own.
api = Blueprint("api", __name__)
REALM = 'Bearer realm="renkei"'


def service() -> Service:
    the_service: Service = current_app.extensions["renkei.service"]
    return the_service


class ApiRefusal(Exception):
    def __init__(self, code: str, message: str, status: int, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.headers = code, message, status, headers


def _unauthorized(description: str) -> ApiRefusal:
    header = f'{REALM}, error="invalid_token", error_description="{description}"'
    return ApiRefusal("invalid_token", description, 401, {"WWW-Authenticate": header})


def authorize(scope: str) -> tuple[Grant, Account, dt.datetime]:
    """The grant behind the request's bearer token, checked for ``scope`` (RFC 6750)."""
    b = service()
    clock = b.clock()
    now = clock.now()
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        raise ApiRefusal(
            "invalid_token", "アクセストークンがありません。", 401, {"WWW-Authenticate": REALM}
        )
    token = b.tokens.by_access(auth[7:].strip())
    if token is None:
        raise _unauthorized("unknown token")
    if token.revoked_at is not None:
        raise _unauthorized("token revoked")
    if now >= token.access_expires_at:
        raise _unauthorized("token expired")
    try:
        b.connect_flow(clock).gate.check(now, b.faults())
    except RenkeiError as error:
        raise ApiRefusal(error.code, error.message, error.status, retry_after(error, now)) from None
    if scope not in token.scope.split():
        header = f'{REALM}, error="insufficient_scope", scope="{scope}"'
        raise ApiRefusal(
            "insufficient_scope", f"scope '{scope}' is required", 403, {"WWW-Authenticate": header}
        )
    grant = b.grants.get(token.grant_id)
    account = b.host.account(grant.account) if grant else None
    if grant is None:
        raise _unauthorized("grant not found")
    try:
        b.rules.grants.check(grant, account, now)
    except AccountMoved as error:
        raise ApiRefusal(error.code, error.message, error.status, {}) from None
    except GrantInactive as error:
        raise _unauthorized(error.code) from None
    assert account is not None
    return grant, account, now


def linked_account(grant: Grant) -> AccountKey:
    """The ``accountId`` asked for, which must be the grant's account (404 otherwise)."""
    wanted = request.args.get("accountId", "")
    if not wanted:
        error = InvalidParameter("accountId is required")
        raise ApiRefusal(error.code, error.message, 400, {})
    if wanted != str(grant.account):
        raise ApiRefusal("account_not_found", "ご指定の口座は連携されていません。", 404, {})
    return grant.account


def refusal_response(refusal: ApiRefusal) -> Response:
    return api_error(refusal.code, refusal.message, refusal.status, refusal.headers)


def base(now: dt.datetime) -> dict[str, str]:
    local = to_jst(now)
    return {"baseDate": local.date().isoformat(), "baseTime": local.strftime("%H:%M:%S+09:00")}


@api.errorhandler(ApiRefusal)
def _refused(refusal: ApiRefusal) -> Response:
    return refusal_response(refusal)


@api.get(ACCOUNTS_PATH)
def accounts() -> Response:
    _, account, _ = authorize(SCOPE_OF[ACCOUNTS_PATH])
    b = service()
    customer = b.host.customer(account.customer_id)
    entry: dict[str, Any] = {
        "accountId": str(account.key),
        "branchCode": account.key.branch_no,
        "branchName": b.scenario.branch_name(account.key.branch_no),
        "accountTypeCode": account.key.account_type,
        "accountTypeName": account.key.type_name,
        "accountNumber": account.key.account_no,
    }
    if customer is not None:
        entry["accountNameKana"] = customer.name_kana
    return jsonify({"accounts": [{k: v for k, v in entry.items() if v}]})


@api.get(BALANCES_PATH)
def balances() -> Response:
    grant, account, now = authorize(SCOPE_OF[BALANCES_PATH])
    linked_account(grant)
    return jsonify(
        {
            "balances": [
                {
                    "accountId": str(account.key),
                    "accountTypeCode": account.key.account_type,
                    "accountTypeName": account.key.type_name,
                    "balance": str(account.balance),
                    "withdrawableAmount": str(account.balance),
                    **base(now),
                }
            ]
        }
    )


def _date(name: str) -> dt.date | None:
    text = request.args.get(name, "")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        error = InvalidParameter(f"{name} must be a date like 2026-11-24")
        raise ApiRefusal(error.code, error.message, 400, {}) from None


@api.get(TRANSACTIONS_PATH)
def transactions() -> Response:
    grant, _, now = authorize(SCOPE_OF[TRANSACTIONS_PATH])
    key = linked_account(grant)
    b = service()
    today = to_jst(now).date()
    try:
        start, end = b.rules.history.period(_date("dateFrom"), _date("dateTo"), today)
    except RenkeiError as error:
        raise ApiRefusal(error.code, error.message, error.status, {}) from None
    after = request.args.get("nextItemKey") or None
    found = page(b.host.transactions(key), start, end, after)
    body: dict[str, Any] = {
        "accountId": str(key),
        "dateFrom": start.isoformat(),
        "dateTo": end.isoformat(),
        **base(now),
        "hasNext": found.has_next,
        "count": len(found.items),
        "transactions": [
            {
                "transactionDate": t.date.isoformat(),
                "valueDate": t.value_date.isoformat(),
                "transactionType": t.kind,
                "amount": str(t.amount),
                "remarks": t.remarks,
                "balance": str(t.balance),
                "itemKey": t.item_key,
            }
            for t in found.items
        ],
    }
    if found.next_item_key:
        body["nextItemKey"] = found.next_item_key
    return jsonify(body)
