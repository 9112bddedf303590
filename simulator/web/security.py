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

Over HTTPS — the issuer (``--issuer``, or ``https://HOST:PORT`` under
``--certfile``) is an ``https`` origin, the one clients reach the server at,
whether renkei's own TLS or a TLS proxy in front of it serves them —
``Strict-Transport-Security: max-age=31536000`` goes on every answer, by the
WSGI wrapper :func:`strict_transport` around the whole server (the sandboxes'
dispatcher's own 404s included), and every cookie renkei sets is ``Secure``
(:func:`secure_cookies`). One year, the usual figure: a browser that has once
reached the bank over HTTPS never tries plain HTTP to that host again for as
long. No ``includeSubDomains``: the issuer's host may be one name among an
operator's others (``sandbox.example.jp`` beside ``www.example.jp``'s
subdomains), and HTTPS on names renkei does not serve is not renkei's to demand.
Over plain HTTP neither is sent: a browser ignores the header there (RFC 6797
§8.1) and a server must not send it (§7.2), and a ``Secure`` cookie would never
come back. Browsers keep no HSTS for an IP address (§8.1.1), so ``https://127.0.0.1``
leaves plain HTTP to that address alone; ``localhost`` is a host name, and one year
of HTTPS-only applies to every port of it.

The flow cookie is ``HttpOnly`` and ``SameSite=Lax``, where it is set, in
:mod:`simulator.web.oauth_routes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from simulator.web.service import ServiceConfig

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
#: HSTS over HTTPS (RFC 6797 §6.1): one year, this host only (see above).
HSTS: Final = ("Strict-Transport-Security", "max-age=31536000")


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


def over_https(config: ServiceConfig) -> bool:
    """Whether clients reach the server over HTTPS: its issuer, the origin they
    reach it at, is ``https``: renkei's own TLS (``--certfile``) or a TLS proxy
    in front of it (``--issuer https://…``)."""
    return urlsplit(config.issuer).scheme == "https"


def secure_cookies(config: ServiceConfig) -> bool:
    """Whether the cookies renkei sets are ``Secure``: over HTTPS, and always
    outside the sandbox's plain-http mode."""
    return over_https(config) or not config.sandbox


def strict_transport(app: WSGIApplication) -> WSGIApplication:
    """``app`` with :data:`HSTS` on every answer: the whole server wrapped once, so
    that no answer of it, whichever application inside made it, goes without."""

    def with_hsts(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            if not any(name.lower() == HSTS[0].lower() for name, _ in headers):
                headers = [*headers, HSTS]
            return start_response(status, headers, *exc_info)

        return app(environ, start)

    return with_hsts
