"""Sandbox and operator controls (INTERFACE.md §6), behind the admin token."""

from __future__ import annotations

import datetime as dt
import hmac
import math
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from simulator.core.clock import JST, next_jst_midnight, to_jst
from simulator.core.errors import InputRejected
from simulator.core.faults import Faults
from simulator.core.grants import Grant
from simulator.core.host import AccountKey
from simulator.core.inputs import read_account
from simulator.web.bank import Bank
from simulator.web.mail import settled_mail
from simulator.web.responses import api_error, could_be_id

sandbox = Blueprint("sandbox", __name__, url_prefix="/sandbox")
admin = Blueprint("admin", __name__, url_prefix="/admin")


class BadRequest(Exception):
    pass


def bank() -> Bank:
    the_bank: Bank = current_app.extensions["renkei.bank"]
    return the_bank


def require_admin() -> Response | None:
    expected = bank().config.admin_token
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or not hmac.compare_digest(
        given[7:].strip().encode(), expected.encode()
    ):
        response = api_error("unauthorized", "the admin token is required", 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="renkei-admin"'
        return response
    return None


sandbox.before_request(require_admin)
admin.before_request(require_admin)


@sandbox.errorhandler(BadRequest)
@admin.errorhandler(BadRequest)
def _bad(error: BadRequest) -> Response:
    return api_error("invalid_parameter", str(error), 400)


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and not request.data:
        return {}
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


#: Where the sandbox clock, maintenance windows and ``reset``'s day may be: the
#: years a sandbox is useful for. Without a bound, 0001-01-01 or 9999-12-31 made
#: the date arithmetic of every later request overflow (a 500; found by the
#: hostile-input campaign, issue 7 item 4).
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=JST)
LATEST = dt.datetime(2100, 1, 1, tzinfo=JST)
WHEN = "from 2000-01-01 to 2099-12-31 (JST)"


def within(value: dt.datetime, name: str) -> dt.datetime:
    if not EARLIEST <= value < LATEST:
        raise BadRequest(f"'{name}' must be {WHEN}")
    return value


def instant(data: dict[str, Any], name: str) -> dt.datetime:
    text = data.get(name)
    message = f"'{name}' must be an ISO-8601 date-time with an offset, {WHEN}"
    if not isinstance(text, str):
        raise BadRequest(message)
    try:
        value = dt.datetime.fromisoformat(text)
        if value.utcoffset() is None:
            raise ValueError(text)
        return within(to_jst(value), name)
    except (ValueError, OverflowError):
        raise BadRequest(message) from None


def clock_state() -> dict[str, Any]:
    clock = bank().clock()
    setting = clock.setting
    return {
        "now": clock.now().isoformat(),
        "frozen": setting.frozen_at is not None,
        "real": setting.is_real,
        "offset_seconds": setting.offset.total_seconds(),
    }


@sandbox.get("/clock")
def get_clock() -> Response:
    return jsonify(clock_state())


@sandbox.put("/clock")
def put_clock() -> Response:
    data = body()
    frozen = data.get("frozen", False)
    if not isinstance(frozen, bool):
        raise BadRequest("'frozen' must be true or false")
    clock = bank().clock()
    clock.set(instant(data, "now"), frozen=frozen)
    bank().save_clock(clock)
    return jsonify(clock_state())


@sandbox.post("/clock/advance")
def advance_clock() -> Response:
    seconds = body().get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise BadRequest("'seconds' must be a number, zero or more")
    if not math.isfinite(seconds) or seconds > 10 * 365 * 86400:
        raise BadRequest("'seconds' may move the clock at most ten years")
    clock = bank().clock()
    within(clock.now() + dt.timedelta(seconds=seconds), "now + seconds")
    clock.advance(float(seconds))
    bank().save_clock(clock)
    return jsonify(clock_state())


@sandbox.delete("/clock")
def real_clock() -> Response:
    clock = bank().clock()
    clock.reset()
    bank().save_clock(clock)
    return jsonify(clock_state())


def faults_state(faults: Faults) -> dict[str, bool]:
    return {
        "congestion": faults.congestion,
        "system_error": faults.system_error,
        "service_suspended": faults.service_suspended,
    }


@sandbox.get("/faults")
def get_faults() -> Response:
    return jsonify(faults_state(bank().faults()))


@sandbox.put("/faults")
def put_faults() -> Response:
    data = body()
    unknown = set(data) - {"congestion", "system_error", "service_suspended"}
    if unknown:
        raise BadRequest(f"unknown fault(s): {', '.join(sorted(unknown))}")
    if not all(isinstance(v, bool) for v in data.values()):
        raise BadRequest("each fault is true or false")
    current = faults_state(bank().faults())
    faults = Faults(**{**current, **data})
    bank().save_faults(faults)
    return jsonify(faults_state(faults))


@sandbox.post("/maintenance")
def add_maintenance() -> Response:
    data = body()
    label = data.get("label", "その他システムメンテナンス")
    if not isinstance(label, str):
        raise BadRequest("'label' must be text")
    try:
        bank().add_maintenance(instant(data, "start"), instant(data, "end"), label)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return jsonify({"maintenance": bank().maintenance()})


@sandbox.get("/maintenance")
def list_maintenance() -> Response:
    return jsonify({"maintenance": bank().maintenance()})


@sandbox.post("/reset")
def reset() -> Response:
    """Back to the scenario. renkei's extension: ``{"today": "YYYY-MM-DD"}`` builds
    the scenario's data as on that day instead of the real one, so that a replayed
    trace (``renkei replay``) meets the host the twin simulated."""
    today = body().get("today")
    day: dt.date | None = None
    if today is not None:
        try:
            day = dt.date.fromisoformat(today) if isinstance(today, str) else None
        except ValueError:
            day = None
        if day is None or not EARLIEST.date() <= day < LATEST.date():
            raise BadRequest(f"'today' must be a date YYYY-MM-DD, {WHEN}")
    try:
        bank().reset(day)
    except ValueError as error:
        # The scenario cannot be built as on that day (a persona born or an
        # account opened after it): ScenarioError says which.
        raise BadRequest(f"the scenario cannot be built as on {day}: {error}") from None
    return jsonify({"reset": True, "clock": clock_state(), "faults": faults_state(Faults())})


@sandbox.get("/mail")
def mail() -> Response:
    return jsonify({"mail": settled_mail(bank())})


@sandbox.get("/oplog")
def oplog() -> Response:
    return jsonify({"entries": bank().log.entries()})


# -- operator controls ---------------------------------------------------------------------


@admin.get("/locks")
def locks() -> Response:
    b = bank()
    now = b.clock().now()
    rule = b.rules.lockout
    found = b.host.locks(now.date(), rule.threshold)
    return jsonify(
        {
            "locks": [
                {
                    "account": str(key),
                    "failures": count,
                    "locked_until": next_jst_midnight(now).isoformat(),
                }
                for key, count in found
            ]
        }
    )


@admin.delete("/locks/<account>")
def unlock(account: str) -> Response:
    b = bank()
    try:
        key = AccountKey.parse(account)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    now = b.clock().now()
    b.host.clear(key, now.date())
    b.note("unlocked", account=str(key))
    return jsonify({"account": str(key), "locked": False})


def grant_json(grant: Grant, now: dt.datetime) -> dict[str, Any]:
    policy = bank().rules.grants
    return {
        "grant_id": grant.grant_id,
        "client_id": grant.client_id,
        "account": str(grant.account),
        "scopes": list(grant.scopes),
        "granted_at": grant.granted_at.isoformat(),
        "expires_at": grant.expires_at.isoformat(),
        "ends_at": policy.ends_at(grant).isoformat(),
        "active": policy.is_active(grant, now),
        "revoked_at": grant.revoked_at.isoformat() if grant.revoked_at else None,
        "revoked_by": grant.revoked_by,
        "uninstalled_at": grant.uninstalled_at.isoformat() if grant.uninstalled_at else None,
    }


@admin.get("/grants")
def grants() -> Response:
    now = bank().clock().now()
    return jsonify({"grants": [grant_json(g, now) for g in bank().grants.all()]})


@admin.post("/grants/<grant_id>/revoke")
def revoke_grant(grant_id: str) -> Response:
    """R-AUTHZ-3: the bank ends the link at the customer's request."""
    grant = bank().revoke_grant(grant_id, by="bank") if could_be_id(grant_id) else None
    if grant is None:
        return api_error("not_found", f"no grant {grant_id}", 404)
    return jsonify(grant_json(grant, bank().clock().now()))


@sandbox.post("/grants/<grant_id>/uninstall")
def uninstall(grant_id: str) -> Response:
    """R-AUTHZ-4: the partner reports the app uninstalled; the grace period starts."""
    b = bank()
    grant = b.grants.get(grant_id) if could_be_id(grant_id) else None
    if grant is None:
        return api_error("not_found", f"no grant {grant_id}", 404)
    now = b.clock().now()
    grant = b.rules.grants.uninstalled(grant, now)
    b.grants.save(grant)
    b.note("uninstalled", grant_id=grant_id)
    return jsonify(grant_json(grant, now))


def account_key(data: Any, name: str) -> AccountKey:
    """An account as screen ① takes it (3-digit branch, a Zengin type, 7 digits):
    text only, so that a move cannot file an account under a number no customer
    could type (the campaign moved one to ``"\\x00-1-1"``)."""
    shape = f"'{name}' must be an object with branch_no, account_type, account_no"
    if not isinstance(data, dict):
        raise BadRequest(shape)
    fields = ("branch_no", "account_type", "account_no")
    if not all(isinstance(data.get(k), str) for k in fields):
        raise BadRequest(f"{shape}, each a string")
    try:
        return read_account({k: data[k] for k in fields})
    except InputRejected as error:
        wrong = ", ".join(sorted({e.field or "" for e in error.field_errors}))
        raise BadRequest(f"'{name}': {wrong} not valid (3 digits, 1/2/4/9, 7 digits)") from None


@admin.post("/accounts/move")
def move() -> Response:
    """R-ACCT-3: 移管 to another branch."""
    data = body()
    old, new = account_key(data.get("from"), "from"), account_key(data.get("to"), "to")
    b = bank()
    try:
        opened = b.host.move(old, new, b.clock().now().date())
    except KeyError:
        return api_error("not_found", f"no account {old}", 404)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    b.note("moved", **{"from": str(old), "to": str(new)})
    return jsonify({"from": str(old), "to": str(opened.key), "status": "moved"})
