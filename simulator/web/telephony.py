"""The telephony gateway (INTERFACE.md §4, R-FLOW-4, R-ERR-CALL-*).

``POST /telephony/calls`` is one inbound call as the carrier reports it. The
line is never answered and hangs up after 2–3 rings; the core judges whether
the call verifies a pending screen-④ challenge. Outside the sandbox the
carrier must present the gateway's shared secret.

renkei's extension of §4: an optional ``call_id``, the carrier's own id of the
call. A report whose ``call_id`` was seen before is a replayed request: it is
answered ``{"verified": false, "replayed": true}``, verifies nothing and is
logged (``call_replayed``).
"""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from renkei.contract.telephony import CALLER_ID, CALLS_PATH, SECRET_HEADER, SHOWN
from simulator.core.flow import FlowState
from simulator.core.telephony import CallAnswer, InboundCall
from simulator.store.state import SqlCalls, StaleFlow
from simulator.web.bank import Bank, FlowRequest
from simulator.web.responses import api_error

#: Routed at the contract's path (INTERFACE.md §4), so no prefix of its own.
telephony = Blueprint("telephony", __name__)
DIGITS = re.compile(r"[0-9]{4,20}")
#: Attempts to judge a call for a flow that other requests keep changing.
RACES = 5
#: The carrier's own id of a call (optional): a report seen twice verifies nothing.
CALL_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@telephony.post(CALLS_PATH)
def inbound_call() -> Response:
    bank: Bank = current_app.extensions["renkei.bank"]
    secret = bank.config.telephony_secret
    if not bank.config.sandbox or secret:
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return api_error("unauthorized", "the gateway's shared secret is required", 401)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error("invalid_parameter", "a JSON object is required", 400)
    caller, dialled = body.get("from"), body.get("to")
    caller_id = body.get("caller_id", SHOWN)
    problems = [
        name
        for name, value in (("from", caller), ("to", dialled))
        if not isinstance(value, str) or not DIGITS.fullmatch(value)
    ]
    if caller_id not in CALLER_ID:
        problems.append("caller_id")
    call_id = body.get("call_id")
    if call_id is not None and not (isinstance(call_id, str) and CALL_ID.fullmatch(call_id)):
        problems.append("call_id")
    if problems:
        return api_error(
            "invalid_parameter",
            f"bad field(s): {', '.join(problems)} (from/to: digits; "
            f"caller_id: {'|'.join(CALLER_ID)}; call_id: up to 64 letters, digits and ._:-)",
            400,
        )
    assert isinstance(caller, str) and isinstance(dialled, str)
    with FlowRequest(bank) as fr:
        now = fr.engine.clock.now()
        if call_id is not None and not SqlCalls(bank.db).first_report(call_id, now):
            # The same call reported again (a replayed request): it verifies nothing.
            fr.note("call_replayed", call_id=call_id, to=dialled)
            return jsonify({"rings": 0, "answered": False, "verified": False, "replayed": True})
        call = InboundCall(caller, dialled, caller_id)
        verified = False
        rings = 0
        for flow in bank.flows.waiting_for_call_from(caller):
            answer = judge_and_save(fr, call, flow)
            verified = verified or answer.verified
            rings = rings or answer.rings
        if not rings:
            rings = fr.engine.receive_call(call, []).rings  # nobody waiting: it rings all the same
        return jsonify({"rings": rings, "answered": False, "verified": verified})


def judge_and_save(fr: FlowRequest, call: InboundCall, flow: FlowState) -> CallAnswer:
    """Judge the call for one waiting flow and save it, with the request's log
    lines; when the customer's browser saved the flow meanwhile (「確定する」),
    judge the newer copy again."""
    for _ in range(RACES):
        before = flow.challenge
        answer = fr.engine.receive_call(call, [flow])
        if flow.challenge is before:
            return answer  # not verified: nothing of the flow changed, nothing to save
        try:
            fr.save(flow)
            return answer
        except StaleFlow:
            fresh = fr.load(flow.flow_id)
            if fresh is None:
                break
            flow = fresh
    return CallAnswer(rings=0, verified=False)
