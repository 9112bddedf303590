"""Answering in the client's language: JSON for ``Accept: application/json``,
HTML otherwise; errors as the contract's JSON bodies; never a traceback."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response as FlaskResponse
from flask import jsonify, render_template, request
from werkzeug.wrappers import Response

from simulator.core.errors import RenkeiError

#: The browser's handle on its flow; the flow itself stays on the server.
FLOW_COOKIE = "renkei_flow"


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or (
        request.is_json and not request.accept_mimetypes.quality("text/html")
    )


def form_data() -> dict[str, str]:
    """The POSTed fields, from a form or a JSON object; anything else is no fields."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {}
        return {
            str(k): v if isinstance(v, str) else str(v) for k, v in body.items() if v is not None
        }
    return dict(request.form.items())


def retry_after(error: RenkeiError, now: dt.datetime) -> dict[str, str]:
    if error.retry_after is None:
        return {}
    return {"Retry-After": str(max(1, int((error.retry_after - now).total_seconds() + 0.999)))}


def page(
    template: str, model: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """The screen ``model`` as JSON or through ``template``."""
    if wants_json():
        response = jsonify(model)
    else:
        response = FlaskResponse(render_template(template, m=model), mimetype="text/html")
    response.status_code = status
    response.headers.update(headers or {})
    return response


def api_error(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    """INTERFACE.md §5: ``{"errorCode", "errorMessage"}``."""
    response = jsonify({"errorCode": code, "errorMessage": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response
