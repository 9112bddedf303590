"""The telephony gateway (INTERFACE.md §4, R-FLOW-4, R-ERR-CALL-*).

``POST /telephony/calls`` is one inbound call as the carrier reports it. The
line is never answered and hangs up after 2–3 rings; the core judges whether
the call verifies a pending screen-④ challenge. Outside the sandbox the
carrier must present the gateway's shared secret.
"""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from simulator.core.telephony import InboundCall
from simulator.web.bank import Bank
from simulator.web.responses import api_error

telephony = Blueprint("telephony", __name__, url_prefix="/telephony")
DIGITS = re.compile(r"[0-9]{4,20}")


@telephony.post("/calls")
def inbound_call() -> Response:
    bank: Bank = current_app.extensions["renkei.bank"]
    secret = bank.config.telephony_secret
    if not bank.config.sandbox or secret:
        given = request.headers.get("X-Telephony-Secret", "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return api_error("unauthorized", "the gateway's shared secret is required", 401)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error("invalid_parameter", "a JSON object is required", 400)
    caller, dialled = body.get("from"), body.get("to")
    caller_id = body.get("caller_id", "shown")
    problems = [
        name
        for name, value in (("from", caller), ("to", dialled))
        if not isinstance(value, str) or not DIGITS.fullmatch(value)
    ]
    if caller_id not in ("shown", "withheld"):
        problems.append("caller_id")
    if problems:
        return api_error(
            "invalid_parameter",
            f"bad field(s): {', '.join(problems)} (from/to: digits; caller_id: shown|withheld)",
            400,
        )
    assert isinstance(caller, str) and isinstance(dialled, str)
    engine = bank.connect_flow()
    waiting = bank.flows.waiting_for_call_from(caller)
    answer = engine.receive_call(InboundCall(caller, dialled, caller_id), waiting)
    for flow in waiting:
        bank.flows.save(flow)
    return jsonify(
        {"rings": answer.rings, "answered": answer.answered, "verified": answer.verified}
    )
