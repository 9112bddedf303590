"""The screens' stylesheet at ``/static/renkei.css``: renkei's one stylesheet, read
from the ``renkei`` package (:func:`renkei.resources.stylesheet`).

The bank's screens, the conformance report and the certificate are styled by the
same file, which lives in the package both sides may read rather than in the
bank's ``web/static``. The screens link it (``style-src 'self'`` forbids inline
styles, :mod:`simulator.web.security`), so the bank keeps serving it under its
``static`` endpoint: the templates' ``url_for('static', ...)`` and the static
files' caching rules stay as they are. Every other static file (④'s countdown
script) is still served from ``web/static``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, request
from werkzeug.wrappers import Response

from renkei.resources import STYLESHEET, stylesheet


def install(app: Flask) -> None:
    """Answer ``/static/renkei.css`` from the ``renkei`` package, as Flask answers a
    static file: ``Cache-Control: no-cache`` with an ETag, 304 when it matches."""
    css = stylesheet().encode("utf-8")
    etag = hashlib.sha256(css).hexdigest()[:32]
    files = app.view_functions["static"]

    def static(filename: str, **rest: Any) -> Any:
        if filename != STYLESHEET:
            return files(filename=filename, **rest)
        answer = Response(css, mimetype="text/css")
        answer.set_etag(etag)
        answer.cache_control.no_cache = True
        return answer.make_conditional(request)

    app.view_functions["static"] = static
