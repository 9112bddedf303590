"""The telephony gateway (INTERFACE.md §4, R-FLOW-4, R-ERR-CALL-*).

``POST /telephony/calls`` is one inbound call as the carrier reports it. The
line is never answered and hangs up after 2–3 rings; the core judges whether
the call verifies a pending screen-④ challenge. Every report carries the
gateway's secret (``X-Telephony-Secret``) or the sandbox's admin token as a
Bearer token; anything else is a 401 that judges nothing.

renkei's extension of §4: an optional ``call_id``, the carrier's own id of the
call. A report whose ``call_id`` was seen before is a replayed request: it is
answered ``{"verified": false, "replayed": true}``, verifies nothing and is
logged (``call_replayed``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
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
    # The gateway stands for the carrier (§4): never open, not even in the root
    # sandbox, or anyone who reaches the port passes ④ for any customer.
    auth = request.headers.get("Authorization", "")
    bearer = auth[7:].strip() if auth.startswith("Bearer ") else ""
    if not service.config.may_report_call(request.headers.get(SECRET_HEADER, ""), bearer):
        denied = api_error(
            "unauthorized",
            f"the gateway's secret ({SECRET_HEADER}) or the sandbox's admin token "
            "(Authorization: Bearer) is required",
            401,
        )
        denied.headers["WWW-Authenticate"] = 'Bearer realm="renkei-telephony"'
        return denied
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
        answer = judge_and_save(fr, service, call)
        line: schemas.CallAnswer = {
            "rings": answer.rings,
            "answered": False,
            "verified": answer.verified,
        }
        return jsonify(line)


def judge_and_save(fr: FlowRequest, service: Service, call: InboundCall) -> CallAnswer:
    """Judge the call against every flow on ④ of the calling phone (the core verifies
    at most one, the screen shown last that it fits) and save the one it verified,
    with the request's log lines; when a browser saved that flow meanwhile
    (「確定する」, or another ④ of the phone), judge the phone's flows again as they
    are now. Nobody waiting: the line rings all the same."""
    answer = CallAnswer(rings=0, verified=False)
    for _ in range(RACES):
        waiting = service.flows.waiting_for_call_from(call.from_number)
        before = [flow.challenge for flow in waiting]
        answer = fr.engine.receive_call(call, waiting)
        changed = [f for f, c in zip(waiting, before, strict=True) if f.challenge is not c]
        if not changed:
            return answer  # nothing verified: nothing of any flow changed, nothing to save
        try:
            fr.save(changed[0])  # one at most: a call verifies one challenge
            return answer
        except StaleFlow:
            continue
    return CallAnswer(rings=answer.rings, verified=False)
