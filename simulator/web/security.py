"""Web security headers on every answer (R-AUTHZ-2).

* ``Content-Security-Policy``: scripts, styles and images from the bank's own
  origin only (the one script is ④'s countdown, a static file), no plugins,
  no ``<base>``; ``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for
  older browsers: no page of the bank may be framed, least of all ⑥'s 「許可する」
  (clickjacking). ``form-action`` is left out on purpose: browsers apply it to
  the redirect after a form post, and 「許可する」 must redirect to the partner
  app's registered URI on another origin.
* ``Cache-Control: no-store`` on everything but static files: screens show
  personal data, and token responses carry secrets (RFC 6749 §5.1).
* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` (a
  redirect URI with a code must not leak through a Referer).

The flow cookie is ``HttpOnly`` and ``SameSite=Lax`` (``Secure`` outside the
sandbox's plain-http mode) where it is set, in :mod:`simulator.web.oauth_routes`.
"""

from __future__ import annotations

from typing import Final

from flask import Flask, request
from werkzeug.wrappers import Response

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install(app: Flask) -> None:
    """Add the headers to every answer of ``app``."""

    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
            response.headers.setdefault("Pragma", "no-cache")
        return response
