"""The six screens of API連携認証 (INTERFACE.md §2, R-FLOW-1..8).

Each route loads the flow named by the browser's cookie, presses one button
of :class:`~simulator.core.flow.ConnectFlow`, saves the flow, and answers the
next screen (303), the same screen with its errors, or the page that ends it.
A request's :class:`~simulator.web.service.FlowRequest` carries the engine and the
operation-log lines that wait for the flow's save; it is handed from function
to function, never kept beside the request.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, request
from werkzeug.wrappers import Response

from simulator.core.errors import CsrfFailed, FieldError, FlowLost, OutOfOrder, RenkeiError
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.screens import SCREENS, Screen
from simulator.store.state import StaleFlow
from simulator.web.mail import send_completion_mail
from simulator.web.oauth_routes import authorization_redirect
from simulator.web.responses import (
    FLOW_COOKIE,
    could_be_id,
    form_data,
    here,
    page,
    retry_after,
    wants_json,
)
from simulator.web.screen_model import (
    app_return_url,
    csrf_token,
    ended_model,
    screen_model,
)
from simulator.web.service import FlowRequest, Service

connect = Blueprint("connect", __name__, url_prefix="/connect")

BY_PATH = {spec.path.rsplit("/", 1)[1]: screen for screen, spec in SCREENS.items()}
TEMPLATES = {
    Screen.ACCOUNT: "account.html",
    Screen.CUSTOMER: "customer.html",
    Screen.PHONE: "phone.html",
    Screen.CALL: "call.html",
    Screen.PIN: "pin.html",
    Screen.CONSENT: "consent.html",
}


def service() -> Service:
    the_service: Service = current_app.extensions["renkei.service"]
    return the_service


def current_flow(fr: FlowRequest) -> FlowState | None:
    """The flow the browser's cookie names, as its latest save left it."""
    flow_id = request.cookies.get(FLOW_COOKIE, "")
    return fr.load(flow_id) if could_be_id(flow_id) else None


def show(
    b: Service,
    flow: FlowState,
    errors: list[FieldError] | None = None,
    status: int = 200,
    values: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The flow's current screen (or its end), with ``errors``."""
    if flow.screen is None:
        model = ended_model(b, app_return_url(b, flow), errors or [])
        return page("ended.html", model, status, headers)
    model = screen_model(b, flow, flow.screen, errors, values)
    return page(TEMPLATES[flow.screen], model, status, headers)


def failed(
    fr: FlowRequest,
    flow: FlowState | None,
    error: RenkeiError,
    values: dict[str, str] | None = None,
) -> Response:
    headers = retry_after(error, fr.engine.clock.now())
    if flow is None:
        model = ended_model(fr.service, None, error.errors)
        return page("ended.html", model, error.status, headers)
    return show(fr.service, flow, error.errors, error.status, values, headers)


def next_screen(flow: FlowState) -> Response:
    """303 See Other to the next screen; a JSON client also gets where, in JSON."""
    assert flow.screen is not None
    path = here(SCREENS[flow.screen].path)
    if wants_json():
        response = jsonify({"next": path, "screen_id": flow.screen.value})
        response.status_code = 303
        response.headers["Location"] = path
        return response
    return redirect(path, code=303)


@connect.get("/<name>")
def view(name: str) -> Response:
    with FlowRequest(service()) as fr:
        screen = BY_PATH.get(name)
        flow = current_flow(fr)
        if screen is None:
            return page("ended.html", ended_model(fr.service, None, FlowLost().errors), 404)
        before = flow.to_record() if flow is not None else None
        try:
            fr.engine.show(flow, screen)
        except RenkeiError as error:
            if flow is not None and not _saved(fr, flow):
                return _raced(fr, current_flow(fr))
            return failed(fr, flow, error)
        assert flow is not None and before is not None
        if _changed(before, flow) and not _saved(fr, flow):
            return _raced(fr, current_flow(fr))
        return show(fr.service, flow)


#: A screen shown again within this time of the flow's last touch is not written
#: back: a GET right after the POST that led to it changes nothing but a few
#: milliseconds of ``touched_at``, which the 30-minute idle rule cannot tell.
REFRESH = dt.timedelta(seconds=1)


def _changed(before: dict[str, Any], flow: FlowState) -> bool:
    """Whether showing the screen changed ``flow`` enough to be saved."""
    after = flow.to_record()
    touched = dt.datetime.fromisoformat(before["touched_at"])
    if {**after, "touched_at": None} != {**before, "touched_at": None}:
        return True
    return flow.touched_at - touched >= REFRESH


def _saved(fr: FlowRequest, flow: FlowState) -> bool:
    """Save ``flow`` with the request's log lines; False when another request on it
    saved first (nothing written, the lines still waiting)."""
    try:
        fr.save(flow)
    except StaleFlow:
        return False
    return True


def _raced(fr: FlowRequest, fresh: FlowState | None) -> Response:
    """Another request on the same flow (a double submission, the gateway) saved
    first and this one was not kept: show where the flow is now (``fresh``, as
    loaded after the stale save), with
    「この操作は受け付けられません。表示中の画面から操作を続けて下さい。」."""
    return failed(fr, fresh, OutOfOrder())


Then = Callable[[FlowRequest, FlowState, Any], Response | None]
#: Attempts at a button whose flow other requests keep changing.
RACES = 5


def _post(
    action: Callable[[ConnectFlow, FlowState | None, dict[str, str]], Any],
    then: Then | None = None,
    *,
    again: bool = True,
) -> Response:
    """Run one button: CSRF first, then the engine; save what happened, and only
    once that save is known to be the latest, ``then`` (what the button does
    beyond the flow: a grant, a mail, the redirect with the code).

    When another request saved the flow meanwhile and left it on the same screen
    (the telephony gateway marking ④'s call verified), the button is pressed
    again on the newer copy — unless ``again`` is False: ② and ⑤ count identity
    failures in the lock ledger, and pressing twice would count one twice. The
    newer copy is loaded once, both to see where it is and to press again."""
    with FlowRequest(service()) as fr:
        values = form_data()
        flow = current_flow(fr)
        for _ in range(RACES):
            screen = flow.screen if flow is not None else None
            try:
                if flow is None:
                    raise FlowLost()
                # As bytes: compare_digest refuses str holding anything but ASCII (a
                # TypeError, so a 500, for a hostile token).
                given = values.get("csrf_token", "").encode("utf-8", "replace")
                if not hmac.compare_digest(given, csrf_token(fr.service, flow.flow_id).encode()):
                    raise CsrfFailed()
                outcome = action(fr.engine, flow, values)
            except RenkeiError as error:
                if flow is None or _saved(fr, flow):
                    return failed(fr, flow, error, values)
            else:
                if _saved(fr, flow):
                    if then is not None:
                        response = then(fr, flow, outcome)
                        if response is not None:
                            return response
                    return show(fr.service, flow) if flow.finished else next_screen(flow)
            # Stale: another request saved the flow first.
            flow = current_flow(fr)
            if not (again and flow is not None and screen is not None and flow.screen is screen):
                return _raced(fr, flow)
        return _raced(fr, flow)


@connect.post("/account")
def post_account() -> Response:
    """① SOA201 「次へ」."""
    return _post(lambda e, f, v: e.submit_account(f, v))


@connect.post("/customer")
def post_customer() -> Response:
    """② SOA202 「次へ」."""
    return _post(lambda e, f, v: e.submit_customer(f, v), again=False)


@connect.post("/phone")
def post_phone() -> Response:
    """③ SOA208 「電話番号の決定」: ④'s number apart from those the phone's other
    flows on ④ show (R-FLOW-4; one call answers one screen)."""

    def decide(engine: ConnectFlow, flow: FlowState | None, _: dict[str, str]) -> FlowState:
        phone = flow.registered_phone if flow is not None else None
        waiting = service().flows.waiting_for_call_from(phone) if phone else []
        return engine.decide_phone(flow, waiting)

    return _post(decide)


@connect.post("/call")
def post_call() -> Response:
    """④ SOA209 「確定する」."""
    return _post(lambda e, f, v: e.confirm_call(f))


@connect.post("/pin")
def post_pin() -> Response:
    """⑤ SOA211 「次へ」."""
    return _post(lambda e, f, v: e.submit_pin(f, v), again=False)


@connect.post("/consent")
def post_consent() -> Response:
    """⑥ SOA206 「許可する」 (302 to the app with the code) or 「拒否する」.

    The grant, the completion mail and the code follow only the save that moved
    the flow, so a double-clicked 「許可する」 makes one grant, not two."""

    def granted(fr: FlowRequest, flow: FlowState, grant: Any) -> Response | None:
        if grant is None:
            return None  # cancelled: the 中止 page
        fr.service.grants.add(grant)
        send_completion_mail(fr.service, flow, grant)
        return authorization_redirect(flow, grant)

    return _post(lambda e, f, v: e.decide(f, v), granted)


@connect.post("/cancel")
def post_cancel() -> Response:
    """「中止する」 on ②–⑤ (R-FLOW-7): 「API連携認証を中止しました。」."""
    return _post(lambda e, f, v: e.cancel(f))


@connect.route("/return", methods=["GET", "POST"])
def return_to_app() -> Response:
    """「連携元画面へ」: back to the app with the error shown (INTERFACE.md §1)."""
    b = service()
    with FlowRequest(b) as fr:
        flow = current_flow(fr)
        try:
            flow = fr.engine.return_to_app(flow)
        except RenkeiError as error:
            return failed(fr, flow, error)
        if not _saved(fr, flow):
            return _raced(fr, current_flow(fr))
        return redirect(app_return_url(b, flow), code=303)
