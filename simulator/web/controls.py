"""Sandbox and operator controls (INTERFACE.md §6), behind the admin token.

Each control is declared once, with :func:`control`: its route, the model its
JSON body is validated with (:mod:`simulator.web.schemas.controls`), what it
answers and the errors it may answer. :data:`CONTROLS` is that declaration,
from which ``/openapi.json`` describes the controls.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel
from werkzeug.wrappers import Response

from renkei.contract import controls as paths
from simulator.core.clock import next_jst_midnight
from simulator.core.faults import Faults
from simulator.core.grants import Grant
from simulator.core.host import AccountKey
from simulator.web.mail import settled_mail
from simulator.web.responses import api_error, could_be_id
from simulator.web.schemas import Refused, read_body
from simulator.web.schemas import controls as schemas
from simulator.web.schemas.controls import (
    EARLIEST,
    LATEST,
    WHEN,
    AdvanceClock,
    MaintenanceWindow,
    Move,
    Reset,
    SetClock,
    SwitchFaults,
)
from simulator.web.service import Service

# The paths are the contract's whole (renkei.contract.controls), not under a prefix.
sandbox = Blueprint("sandbox", __name__)
admin = Blueprint("admin", __name__)

View = Callable[..., Response]
M = TypeVar("M", bound=BaseModel)


class BadRequest(Exception):
    pass


@dataclass(frozen=True)
class Control:
    """One control as the document describes it: its path in OpenAPI's form
    (``/admin/locks/{account}``), what its body is (a model) and what it answers
    (a ``TypedDict`` of :mod:`simulator.web.schemas.controls`), the statuses it
    answers besides 200 and 401, and the schemas of its path parameters."""

    method: str
    path: str
    summary: str
    answer: type
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    parameters: dict[str, dict[str, object]] = field(default_factory=dict)


#: Every control, in the order declared.
CONTROLS: list[Control] = []


def control(
    blueprint: Blueprint,
    method: str,
    rule: str,
    answer: type,
    body: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    parameters: dict[str, dict[str, object]] | None = None,
) -> Callable[[View], View]:
    """Route the view at ``rule`` and declare it in :data:`CONTROLS`; the view's
    docstring is the operation's summary. A view with a ``body`` model is handed
    the validated body as ``body``; a body the model refuses is a 400 naming the
    field, before the view runs."""

    def declare(view: View) -> View:
        @functools.wraps(view)
        def run(**path: Any) -> Response:
            if body is not None:
                path["body"] = read(body)
            return view(**path)

        blueprint.route(rule, methods=[method])(run)
        CONTROLS.append(
            Control(
                method.lower(),
                rule.replace("<", "{").replace(">", "}"),
                (view.__doc__ or view.__name__).strip().split("\n")[0],
                answer,
                body,
                (400, *errors) if body is not None else errors,
                parameters or {},
            )
        )
        return run

    return declare


def service() -> Service:
    the_service: Service = current_app.extensions["renkei.service"]
    return the_service


def require_admin() -> Response | None:
    given = request.headers.get("Authorization", "")
    # The operator's token works on every sandbox, a sandbox's own on it alone (§9).
    if not given.startswith("Bearer ") or not service().config.is_admin(given[7:].strip()):
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


def read(model: type[M]) -> M:
    """The request's JSON body as ``model`` (:func:`~simulator.web.schemas.read_body`:
    no body at all is an empty object)."""
    try:
        return read_body(model, request.get_json(silent=True), bool(request.data))
    except Refused as refused:
        raise BadRequest(str(refused)) from None


def within(value: dt.datetime, name: str) -> dt.datetime:
    if not EARLIEST <= value < LATEST:
        raise BadRequest(f"'{name}' must be {WHEN}")
    return value


def clock_state() -> schemas.Clock:
    clock = service().clock()
    setting = clock.setting
    return {
        "now": clock.now().isoformat(),
        "frozen": setting.frozen_at is not None,
        "real": setting.is_real,
        "offset_seconds": setting.offset.total_seconds(),
    }


@control(sandbox, "GET", paths.CLOCK_PATH, schemas.Clock)
def get_clock() -> Response:
    """The sandbox clock."""
    return jsonify(clock_state())


@control(sandbox, "PUT", paths.CLOCK_PATH, schemas.Clock, SetClock)
def put_clock(body: SetClock) -> Response:
    """Set the clock (it runs on from there unless frozen)."""
    clock = service().clock()
    clock.set(body.now, frozen=body.frozen)
    service().save_clock(clock)
    return jsonify(clock_state())


@control(sandbox, "POST", paths.CLOCK_ADVANCE_PATH, schemas.Clock, AdvanceClock)
def advance_clock(body: AdvanceClock) -> Response:
    """Advance the clock (at most ten years, never past the sandbox years)."""
    clock = service().clock()
    within(clock.now() + dt.timedelta(seconds=body.seconds), "now + seconds")
    clock.advance(body.seconds)
    service().save_clock(clock)
    return jsonify(clock_state())


@control(sandbox, "DELETE", paths.CLOCK_PATH, schemas.Clock)
def real_clock() -> Response:
    """Back to real time."""
    clock = service().clock()
    clock.reset()
    service().save_clock(clock)
    return jsonify(clock_state())


def faults_state(faults: Faults, scope: str | None = None) -> schemas.Faults:
    state: schemas.Faults = {
        "congestion": faults.congestion,
        "system_error": faults.system_error,
        "service_suspended": faults.service_suspended,
    }
    if scope is not None:
        state["scope"] = scope
    return state


@control(sandbox, "GET", paths.FAULTS_PATH, schemas.Faults)
def get_faults() -> Response:
    """The faults in force: the bank's own and the platform's (INTERFACE.md §10)."""
    return jsonify(faults_state(service().faults()))


@control(sandbox, "PUT", paths.FAULTS_PATH, schemas.Faults, SwitchFaults)
def put_faults(body: SwitchFaults) -> Response:
    """Switch faults on and off (R-ERR-SYS-2/3/4) for the bank or, with ``"scope":
    "platform"``, for every bank of the platform (§10); those not named stay as they
    are. The answer is that scope's switches, naming it when it was asked for."""
    faults = replace(service().faults(body.scope), **body.switched())
    service().save_faults(faults, body.scope)
    return jsonify(faults_state(faults, _named(body)))


def windows(scope: str | None = None) -> schemas.Windows:
    # Stored as the bank wrote them in add_maintenance, which is this shape.
    found: schemas.Windows = {
        "maintenance": cast(list[schemas.Window], service().maintenance(scope))
    }
    if scope is not None:
        found["scope"] = scope
    return found


@control(sandbox, "POST", paths.MAINTENANCE_PATH, schemas.Windows, MaintenanceWindow)
def add_maintenance(body: MaintenanceWindow) -> Response:
    """An ad-hoc closed window (R-HOURS-6), the bank's or, with ``"scope":
    "platform"``, every bank's (§10); the answer is that scope's windows, naming it
    when it was asked for."""
    try:
        service().add_maintenance(body.start, body.end, body.label, body.scope)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return jsonify(windows(_named(body)))


def _named(body: SwitchFaults | MaintenanceWindow) -> str | None:
    """The scope a control body asked for, None when it named none: a sandbox of one
    bank answers exactly as before banks (INTERFACE.md §10)."""
    return body.scope if "scope" in body.model_fields_set else None


@control(sandbox, "GET", paths.MAINTENANCE_PATH, schemas.Windows)
def list_maintenance() -> Response:
    """The ad-hoc closed windows."""
    return jsonify(windows())


@control(sandbox, "POST", paths.RESET_PATH, schemas.ResetDone, Reset)
def reset(body: Reset) -> Response:
    """Back to the scenario's data; clock and faults back to default."""
    try:
        service().reset(body.today)
    except ValueError as error:
        # The scenario cannot be built as on that day (a persona born or an
        # account opened after it): ScenarioError says which.
        raise BadRequest(f"the scenario cannot be built as on {body.today}: {error}") from None
    done: schemas.ResetDone = {
        "reset": True,
        "clock": clock_state(),
        "faults": faults_state(Faults()),
    }
    return jsonify(done)


@control(sandbox, "GET", paths.MAIL_PATH, schemas.Mailbox)
def mail() -> Response:
    """The completion e-mails sent (R-AUTHZ-5)."""
    sent: schemas.Mailbox = {"mail": settled_mail(service())}
    return jsonify(sent)


@control(sandbox, "GET", paths.OPLOG_PATH, schemas.OperationLog)
def oplog() -> Response:
    """The operation log (R-AUTHZ-6)."""
    log: schemas.OperationLog = {"entries": service().log.entries()}
    return jsonify(log)


# -- operator controls ---------------------------------------------------------------------

ACCOUNT = {"account": schemas.account_id_schema()}
GRANT_ID: dict[str, dict[str, object]] = {"grant_id": {"type": "string"}}


@control(admin, "GET", paths.LOCKS_PATH, schemas.Locks)
def locks() -> Response:
    """Locked accounts, until the next 0:00 JST (R-ERR-HOST-3)."""
    b = service()
    now = b.clock().now()
    found = b.host.locks(now.date(), b.rules.lockout.threshold)
    until = next_jst_midnight(now).isoformat()
    answer: schemas.Locks = {
        "locks": [
            {"account": str(key), "failures": count, "locked_until": until} for key, count in found
        ]
    }
    return jsonify(answer)


@control(
    admin,
    "DELETE",
    paths.lock_path("<account>"),
    schemas.Unlocked,
    errors=(400,),
    parameters=ACCOUNT,
)
def unlock(account: str) -> Response:
    """An operator's unlock."""
    b = service()
    try:
        key = AccountKey.parse(account)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    b.host.forget(key)
    b.note("unlocked", account=str(key))
    answer: schemas.Unlocked = {"account": str(key), "locked": False}
    return jsonify(answer)


def grant_json(grant: Grant, now: dt.datetime) -> schemas.Grant:
    policy = service().rules.grants
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


@control(admin, "GET", paths.GRANTS_PATH, schemas.Grants)
def grants() -> Response:
    """The grants (認可), active or not."""
    now = service().clock().now()
    answer: schemas.Grants = {"grants": [grant_json(g, now) for g in service().grants.all()]}
    return jsonify(answer)


@control(
    admin,
    "POST",
    paths.revoke_path("<grant_id>"),
    schemas.Grant,
    errors=(404,),
    parameters=GRANT_ID,
)
def revoke_grant(grant_id: str) -> Response:
    """R-AUTHZ-3: the bank ends the link at the customer's request."""
    grant = service().revoke_grant(grant_id, by="bank") if could_be_id(grant_id) else None
    if grant is None:
        return api_error("not_found", f"no grant {grant_id}", 404)
    return jsonify(grant_json(grant, service().clock().now()))


@control(
    sandbox,
    "POST",
    paths.uninstall_path("<grant_id>"),
    schemas.Grant,
    errors=(404,),
    parameters=GRANT_ID,
)
def uninstall(grant_id: str) -> Response:
    """R-AUTHZ-4: the partner reports the app uninstalled; the grace period starts."""
    b = service()
    grant = b.grants.get(grant_id) if could_be_id(grant_id) else None
    if grant is None:
        return api_error("not_found", f"no grant {grant_id}", 404)
    now = b.clock().now()
    grant = b.rules.grants.uninstalled(grant, now)
    b.grants.save(grant)
    b.note("uninstalled", grant_id=grant_id)
    return jsonify(grant_json(grant, now))


@control(admin, "POST", paths.MOVE_PATH, schemas.Moved, Move, errors=(404,))
def move(body: Move) -> Response:
    """R-ACCT-3: 移管 to another branch."""
    b = service()
    old, new = body.source.key(), body.target.key()
    try:
        opened = b.host.move(old, new, b.clock().now().date())
    except KeyError:
        return api_error("not_found", f"no account {old}", 404)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    b.note("moved", **{"from": str(old), "to": str(new)})
    moved: schemas.Moved = {"from": str(old), "to": str(opened.key), "status": "moved"}
    return jsonify(moved)
