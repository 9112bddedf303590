"""The Flask application factory."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from urllib.parse import urlencode

from flask import Flask, Request, jsonify, render_template, request
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from renkei.contract.docs import DOCS_PATH, OPENAPI_PATH
from renkei.contract.oauth import (
    AUTHORIZE_PATH,
    INTROSPECT_PATH,
    METADATA_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
)
from renkei.contract.screens import SCREEN_PREFIX
from simulator.core.errors import SystemError_
from simulator.web import security, stylesheet, throttle, timing
from simulator.web.api import api
from simulator.web.connect import connect
from simulator.web.controls import admin, sandbox
from simulator.web.oauth import init_oauth
from simulator.web.oauth_routes import oauth
from simulator.web.openapi import openapi
from simulator.web.pages import pages
from simulator.web.responses import StrictJSON, api_error, here, page
from simulator.web.screen_model import footer
from simulator.web.service import Service
from simulator.web.telephony import telephony

log = logging.getLogger("renkei")
#: The PKCE verifier of the home page's links that start a flow: published on the
#: page, so that whoever walks a flow by hand can exchange the code (RFC 7636 §4.1).
TRY_VERIFIER = "renkei-sandbox-home-page-try-it-code-verifier"
#: Its S256 challenge (RFC 7636 §4.2).
TRY_CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(TRY_VERIFIER.encode()).digest()).rstrip(b"=").decode()
)


def create_app(service: Service, throttled: throttle.Throttle | None = None) -> Flask:
    """The sandbox bank as a WSGI application over ``service``; ``throttled``: the
    process's buckets of wrong credentials (:mod:`simulator.web.throttle`), shared
    by every sandbox it serves (by default the application's own)."""
    if service.config.sandbox:
        # Plain http on loopback is the sandbox's normal case; Authlib refuses
        # it unless told, and only the sandbox tells it.
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    app = Flask(__name__)
    app.json = StrictJSON(app)
    app.config["SECRET_KEY"] = service.config.secret_key
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["renkei.service"] = service
    app.session_interface = NoSessions()
    init_oauth(app, service)
    for blueprint in (oauth, connect, api, telephony, sandbox, admin, openapi, pages):
        app.register_blueprint(blueprint)
    security.install(app)
    stylesheet.install(app)
    timing.install(app)
    throttle.install(app, throttle.Throttle.of(service.config) if throttled is None else throttled)

    @app.get("/")
    def home() -> str:
        """Where a newcomer lands: what this is, how a flow starts (the partner apps,
        with a link that starts one), the personas to type in, the sandbox controls
        (INTERFACE.md §6, listed from the routes that serve them)."""
        query = {
            "response_type": "code",
            "state": "try-it",
            "code_challenge": TRY_CHALLENGE,
            "code_challenge_method": "S256",
        }
        apps = []
        for c in service.clients.values():
            app_query = {
                "client_id": c.client_id,
                "redirect_uri": c.redirect_uris[0] if c.redirect_uris else "",
                "scope": " ".join(c.scopes),
            }
            try_url = here(f"{AUTHORIZE_PATH}?{urlencode({**query, **app_query})}")
            apps.append({**app_query, "name": c.name, "try_url": try_url})
        personas = [
            {
                "id": p.id,
                "behaviour": p.behaviour,
                "name_kana": p.name_kana,
                "birth_date": str(p.birth_date),
                "phone": p.phone,
                "accounts": [
                    {"key": " → ".join(map(str, a.keys)), "pin": a.card.pin if a.card else ""}
                    for a in p.accounts
                ],
            }
            for p in service.scenario.personas
        ]
        controls = sorted(
            (
                {
                    "path": here(rule.rule),
                    "methods": sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}),
                }
                for rule in app.url_map.iter_rules()
                if rule.endpoint.startswith(CONTROL_ENDPOINTS)
            ),
            key=lambda c: str(c["path"]),
        )
        model = {
            **footer(service),
            "title": "renkei: API連携認証のサンドボックス",
            "screen_id": None,
            "metadata_path": here(METADATA_PATH),
            "authorize_path": here(AUTHORIZE_PATH),
            "token_path": here(TOKEN_PATH),
            "docs_path": here(DOCS_PATH),
            "openapi_path": here(OPENAPI_PATH),
            "try_verifier": TRY_VERIFIER,
            "apps": apps,
            "personas": personas,
            "controls": controls,
        }
        return render_template("home.html", m=model)

    def error_answer(
        code: str, message: str, status: int, headers: dict[str, str] | None = None
    ) -> Response:
        """An error in the form its endpoint speaks: a screen (HTML, or its JSON
        model) under the screens, RFC 6749 §5.2's JSON on the OAuth endpoints that
        answer JSON, INTERFACE.md §5's ``{"errorCode", "errorMessage"}`` elsewhere."""
        if _is_screen_path():
            model = {
                "screen_id": None,
                "title": "API連携認証",
                "csrf_token": None,
                "message": None,
                "errors": [{"code": code, "message": message, "field": None}],
                "return_url": None,
                **footer(service),
            }
            return page("ended.html", model, status, headers)
        if request.path in OAUTH_JSON:
            response = jsonify(
                {
                    "error": "server_error" if status >= 500 else "invalid_request",
                    "error_description": code,
                }
            )
            response.status_code = status
            response.headers.update(headers or {})
            return response
        return api_error(code, message, status, headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        # 405 must say what is allowed (RFC 9110 §15.5.6); the rest is our body's.
        allow = {k: v for k, v in error.get_headers() if k == "Allow"}
        if _is_screen_path():
            message = SCREEN_MESSAGES.get(status, error.name)
        else:
            message = error.description or error.name
        return error_answer(_code(status), message, status, allow)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # R-ERR-SYS-3 for a real fault: logged here, never shown as a traceback.
        log.exception("unexpected error")
        fault = SystemError_()
        return error_answer(fault.code, fault.message, 500)

    return app


class NoSessions(SessionInterface):
    """No Flask session: a flow lives in the database and its cookie names it, so
    nothing is kept in a signed session cookie. Flask's default would still build
    its signer and read the cookie on every request; a null session refuses any
    write, so a session used by mistake fails loudly."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return self.make_null_session(app)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


#: The sandbox and operator controls are the routes of their blueprints (INTERFACE.md §6).
CONTROL_ENDPOINTS = (f"{sandbox.name}.", f"{admin.name}.")
#: The OAuth endpoints whose errors are RFC 6749 §5.2 JSON (the authorization
#: endpoint shows pages instead).
OAUTH_JSON = frozenset({TOKEN_PATH, REVOKE_PATH, INTROSPECT_PATH})
#: What a screen says for an HTTP error (the customer reads Japanese).
SCREEN_MESSAGES = {
    400: "送信された内容を受け付けられませんでした。",
    404: "ページが見つかりません。",
    405: "この操作は受け付けられません。",
    413: "送信された内容が大きすぎます。",
    415: "送信された内容を受け付けられませんでした。",
}


def _is_screen_path() -> bool:
    return (
        request.path.startswith((SCREEN_PREFIX, AUTHORIZE_PATH, DOCS_PATH)) or request.path == "/"
    )


def _code(status: int) -> str:
    return {
        400: "invalid_request",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
        415: "unsupported_media_type",
    }.get(status, "http_error")
