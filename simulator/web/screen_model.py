"""One model per screen, rendered as JSON or as HTML (INTERFACE.md §2).

The JSON answer *is* this model; the Jinja2 templates read the same keys, so
the two forms cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from renkei.contract.docs import CONTACT, page_path
from renkei.contract.screens import ACCOUNT_TYPES, CANCEL_PATH, RETURN_PATH
from simulator.core import messages
from simulator.core.errors import (
    BY_CODE,
    FieldError,
    IdentityMismatch,
    RenkeiError,
    RequiredMissing,
)
from simulator.core.flow import FlowState
from simulator.core.screens import SCREENS, Screen
from simulator.core.telephony import mask_phone
from simulator.web.responses import here
from simulator.web.service import Service

SCOPE_NAMES = {"accounts": "口座情報", "transactions": "明細情報"}

#: Errors of the whole screen that the manual's figures also show in the エラー
#: dialog over the screen, beside the message on it: 画面⑤ エラー事例, a wrong PIN.
DIALOG_ERRORS: dict[Screen, tuple[type[RenkeiError], ...]] = {Screen.PIN: (IdentityMismatch,)}


def csrf_token(service: Service, flow_id: str) -> str:
    """Bound to the flow and unforgeable without the server's key; nothing to store."""
    return hmac.new(service.config.secret_key, flow_id.encode(), hashlib.sha256).hexdigest()[:40]


def authorization_response(service: Service, redirect_uri: str, params: dict[str, str]) -> str:
    """An authorization response to the app (RFC 6749 §4.1.2, §4.1.2.1): ``params``
    and, as RFC 9207 §2 wants of every one, success or error, the issuer's ``iss``."""
    joiner = "&" if "?" in redirect_uri else "?"
    return redirect_uri + joiner + urlencode({**params, "iss": service.config.issuer})


def app_return_url(service: Service, flow: FlowState) -> str:
    """Where 「連携元画面へ」 goes once the flow has ended (INTERFACE.md §1)."""
    return authorization_response(service, flow.redirect_uri, flow.oauth_return())


def _shown(errors: list[FieldError]) -> list[type[RenkeiError]]:
    """The error classes behind the errors a screen lists (a field's ``required``
    or ``invalid``, or the code of a dialog)."""
    return [BY_CODE[e.code] for e in errors if e.code in BY_CODE]


def _errors(errors: list[FieldError]) -> list[dict[str, Any]]:
    return [{"code": e.code, "message": e.message, "field": e.field} for e in errors]


def dialog(screen: Screen, errors: list[FieldError]) -> dict[str, str | None]:
    """The エラー dialog over ``screen``: its title, message and the field that takes
    the focus when 「OK」 closes it; all None when the screen shows no dialog.

    An empty field's errors are headed by 「入力されていない項目があります。」
    (画面① 2/2, 画面② 2/4; R-ERR-INPUT-1) and the focus goes to the first empty
    field; a wrong PIN on ⑤ repeats the screen's message in the dialog (画面⑤
    エラー事例) and the focus goes back to the PIN.
    """
    spec = SCREENS[screen]
    message: str | None = None
    focus: str | None = None
    if any(issubclass(c, RequiredMissing) for c in _shown(errors)):
        message = messages.REQUIRED_DIALOG
        focus = next((e.field for e in errors if e.code == RequiredMissing.code and e.field), None)
    else:
        shown = DIALOG_ERRORS.get(screen, ())
        found = next((e for e in errors if e.field is None and BY_CODE.get(e.code) in shown), None)
        if found is not None:
            message = found.message
            focus = spec.fields[0] if spec.fields else None
    return {
        "dialog": message,
        "dialog_title": messages.DIALOG_TITLE if message else None,
        "dialog_focus": focus,
    }


def footer(service: Service) -> dict[str, str]:
    """What every page's footer shows: the bank's name and phone, and its links to
    API利用規定, よくあるご質問 and お問い合わせ先 (R-PLAT-1)."""
    rules = service.rules
    return {
        "bank_name": rules.name,
        "contact_phone": rules.contact_phone,
        "terms_url": here(rules.terms_url),
        "faq_url": here(rules.faq_url),
        "contact_url": here(page_path(CONTACT)),
    }


def screen_model(
    service: Service,
    flow: FlowState,
    screen: Screen,
    errors: list[FieldError] | None = None,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ``screen`` shows for ``flow``: the JSON answer and the template's input."""
    spec = SCREENS[screen]
    errors = errors or []
    shown = _shown(errors)
    # INTERFACE.md §1: 「連携元画面へ」 is offered beside R-ERR-HOST-1 and R-ERR-SYS-*.
    returns = any(c.returns_beside for c in shown)
    model: dict[str, Any] = {
        "screen_id": screen.value,
        "screen": spec.number,
        "title": spec.full_title,
        "path": here(spec.path),
        "csrf_token": csrf_token(service, flow.flow_id),
        "errors": _errors(errors),
        **dialog(screen, errors),
        "return_url": here(RETURN_PATH) if returns else None,
        "cancel_url": here(CANCEL_PATH) if screen not in (Screen.ACCOUNT, Screen.CONSENT) else None,
        "fields": list(spec.fields),
        "values": {k: v for k, v in (values or {}).items() if k in spec.fields and k != "pin"},
        **footer(service),
    }
    if screen is Screen.ACCOUNT:
        model["account_types"] = [{"code": k, "name": v} for k, v in ACCOUNT_TYPES.items()]
    if flow.account is not None and screen is not Screen.ACCOUNT:
        model["account"] = {
            "branch_no": flow.account.branch_no,
            "account_type": flow.account.account_type,
            "account_type_name": flow.account.type_name,
            "account_no": flow.account.account_no,
        }
    if screen in (Screen.PHONE, Screen.CALL) and flow.registered_phone:
        model["masked_phone"] = mask_phone(flow.registered_phone)
    if screen is Screen.CALL and flow.challenge is not None:
        model["call_to"] = flow.challenge.to_number
        model["call_deadline"] = flow.challenge.deadline.isoformat()
        model["call_window_seconds"] = int(flow.challenge.window.total_seconds())
        remaining = (flow.challenge.deadline - service.clock().now()).total_seconds()
        model["call_seconds_left"] = max(0, int(remaining))
    if screen is Screen.CONSENT:
        client = service.clients[flow.client_id]
        model["client_name"] = client.name
        model["client_company"] = client.company
        model["scopes"] = list(flow.scopes)
        model["scope_label"] = messages.CONSENT_SCOPE
        model["expires_in_days"] = service.rules.grants.days
        model["agreement"] = messages.CONSENT_AGREEMENT
    return model


def ended_model(
    service: Service, return_url: str | None, errors: list[FieldError]
) -> dict[str, Any]:
    """The page after the flow ended: cancelled (R-FLOW-7) or a terminal error; also
    the page of an authorization request the host refused before any screen."""
    return {
        "screen_id": None,
        "screen": None,
        "title": "API連携認証の中止" if not errors else "API連携認証",
        "csrf_token": None,
        "errors": _errors(errors),
        "message": messages.CANCELLED if not errors else None,
        "return_url": return_url,
        "return_label": messages.RETURN_TO_APP,
        **footer(service),
    }
