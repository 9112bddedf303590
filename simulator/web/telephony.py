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

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
from simulator.core.flow import FlowState
from simulator.core.telephony import CallAnswer, InboundCall
from simulator.store.state import StaleFlow
from simulator.web.responses import api_error
from simulator.web.schemas import Refused, read_body
from simulator.web.schemas import telephony as schemas
from simulator.web.service import FlowRequest, Service

#: Routed at the contract's path (INTERFACE.md §4), so no prefix of its own.
telephony = Blueprint("telephony", __name__)
#: Attempts to judge a call for a flow that other requests keep changing.
RACES = 5


@telephony.post(CALLS_PATH)
def inbound_call() -> Response:
    """One inbound call; a report :class:`~simulator.web.schemas.telephony.Call`
    refuses is a 400 ``invalid_parameter`` naming the field, as the controls say it."""
    service: Service = current_app.extensions["renkei.service"]
    config = service.config
    # Open only in the root sandbox without --telephony-secret; a sandbox of §9
    # has its own secret, so that its calls come from its own tester.
    if not config.sandbox or config.gateway_secret():
        given = request.headers.get(SECRET_HEADER, "")
        if not config.is_gateway_secret(given):
            return api_error("unauthorized", "the gateway's shared secret is required", 401)
    try:
        report = read_body(schemas.Call, request.get_json(silent=True), bool(request.data))
    except Refused as refused:
        return api_error("invalid_parameter", str(refused), 400)
    with FlowRequest(service) as fr:
        now = fr.engine.clock.now()
        if report.call_id is not None and not service.calls.first_report(report.call_id, now):
            # The same call reported again (a replayed request): it verifies nothing.
            fr.note("call_replayed", call_id=report.call_id, to=report.dialled)
            replayed: schemas.CallAnswer = {
                "rings": 0,
                "answered": False,
                "verified": False,
                "replayed": True,
            }
            return jsonify(replayed)
        call = InboundCall(report.caller, report.dialled, report.caller_id)
        verified = False
        rings = 0
        for flow in service.flows.waiting_for_call_from(report.caller):
            answer = judge_and_save(fr, call, flow)
            verified = verified or answer.verified
            rings = rings or answer.rings
        if not rings:
            rings = fr.engine.receive_call(call, []).rings  # nobody waiting: it rings all the same
        line: schemas.CallAnswer = {"rings": rings, "answered": False, "verified": verified}
        return jsonify(line)


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
