"""How long the bank took over each answer, in a ``Server-Timing`` header (W3C
Server Timing): ``app;dur=12.3`` is the milliseconds from the request reaching
the application to its answer being ready, without the time it queued for a
worker thread or spent on the wire.

A load tester reads it beside its own latency: the difference is queueing in
front of the bank, which more clients than cores always cause, and which no
change to the bank's own code can remove.
"""

from __future__ import annotations

import time

from flask import Flask, g
from werkzeug.wrappers import Response


def install(app: Flask) -> None:
    """Time every request of ``app``."""

    @app.before_request
    def started() -> None:
        g.renkei_started = time.perf_counter()

    @app.after_request
    def timed(response: Response) -> Response:
        began = g.get("renkei_started")
        if began is not None:
            spent = (time.perf_counter() - began) * 1000
            response.headers["Server-Timing"] = f"app;dur={spent:.1f}"
        return response
