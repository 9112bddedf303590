"""Answering in the client's language: JSON for ``Accept: application/json``,
HTML otherwise; errors as the contract's JSON bodies; never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from flask import Response as FlaskResponse
from flask import has_request_context, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.wrappers import Response

from renkei.contract.screens import FLOW_COOKIE
from simulator.core.errors import RenkeiError

__all__ = ["FLOW_COOKIE"]

#: The browser's handle on its flow; the flow itself stays on the server.


class StrictJSON(DefaultJSONProvider):
    """Request bodies read as RFC 8259 JSON, refused (``ValueError``, so a 400 or
    "no fields") when they are not: ``NaN``/``Infinity`` and numbers too large for
    a float (which Python's reader would take and the controls would then do
    arithmetic with), nesting deep enough to exhaust the interpreter's stack
    (``RecursionError``, which ``get_json(silent=True)`` does not catch), and
    lone surrogates (``"\\ud800"``: no database can store them). Found by the
    hostile-input campaign."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, parse_constant=_no_constant, parse_float=_finite, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        _check_text(value)
        return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large")
    return value


def _check_text(value: Any) -> None:
    """Every string of ``value`` (keys too) must be encodable as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # UnicodeEncodeError is a ValueError
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def could_be_id(text: str) -> bool:
    """Whether ``text`` could name a flow or a grant in the store (their ids are
    32 hex digits): short and without NUL. PostgreSQL refuses a NUL in any text
    parameter (a 500), and a quoted cookie ``"\\000"`` or a path's ``%00`` brings
    one (found by the hostile-input campaign)."""
    return 0 < len(text) <= 128 and "\x00" not in text


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


def here(path: str) -> str:
    """``path`` of this sandbox as the browser must ask for it: under the sandbox's
    base (``/s/ID/connect/account``, INTERFACE.md §9) when the request came through
    it (the dispatcher set ``SCRIPT_NAME``), unchanged at the root and for what is
    not a path of the server (an absolute URL)."""
    if not path.startswith("/") or path.startswith("//") or not has_request_context():
        return path
    return request.script_root + path


def cookie_path() -> str:
    """The flow cookie's ``Path``: the sandbox's base (``/s/ID/``), ``/`` at the root."""
    return here("/")
