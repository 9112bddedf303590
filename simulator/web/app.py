"""The Flask application factory."""

from __future__ import annotations

import logging
import os

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from simulator.core.errors import SystemError_
from simulator.web import security
from simulator.web.api import api
from simulator.web.bank import Bank
from simulator.web.connect import connect
from simulator.web.controls import admin, sandbox
from simulator.web.oauth import init_oauth
from simulator.web.oauth_routes import oauth
from simulator.web.openapi import openapi
from simulator.web.responses import api_error, page, wants_json
from simulator.web.screen_model import footer
from simulator.web.telephony import telephony

log = logging.getLogger("renkei")


def create_app(bank: Bank) -> Flask:
    """The sandbox bank as a WSGI application over ``bank``."""
    if bank.config.sandbox:
        # Plain http on loopback is the sandbox's normal case; Authlib refuses
        # it unless told, and only the sandbox tells it (issue 4).
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    app = Flask(__name__)
    app.config["SECRET_KEY"] = bank.config.secret_key
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["renkei.bank"] = bank
    init_oauth(app, bank)
    for blueprint in (oauth, connect, api, telephony, sandbox, admin, openapi):
        app.register_blueprint(blueprint)
    security.install(app)

    @app.get("/")
    def home() -> str:
        return render_template("home.html", m={**footer(bank), "clients": bank.clients})

    @app.get("/docs/<name>")
    def docs(name: str) -> Response:
        if name not in ("terms", "faq"):
            return not_found_page()
        return page(f"{name}.html", footer(bank))

    def not_found_page() -> Response:
        model = {
            "screen_id": None,
            "title": "API連携認証",
            "csrf_token": None,
            "message": None,
            "errors": [{"code": "not_found", "message": "ページが見つかりません。", "field": None}],
            "return_url": None,
            **footer(bank),
        }
        return page("ended.html", model, 404)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if wants_json() or not _is_screen_path():
            return api_error(_code(status), error.description or error.name, status)
        model = {
            "screen_id": None,
            "title": "API連携認証",
            "csrf_token": None,
            "message": None,
            "errors": [{"code": _code(status), "message": error.name, "field": None}],
            "return_url": None,
            **footer(bank),
        }
        return page("ended.html", model, status)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # R-ERR-SYS-3 for a real fault: logged here, never shown as a traceback.
        log.exception("unexpected error")
        fault = SystemError_()
        if wants_json() or not _is_screen_path():
            return api_error(fault.code, fault.message, 500)
        model = {
            "screen_id": None,
            "title": "API連携認証",
            "csrf_token": None,
            "message": None,
            "errors": [{"code": fault.code, "message": fault.message, "field": None}],
            "return_url": None,
            **footer(bank),
        }
        return page("ended.html", model, 500)

    return app


def _is_screen_path() -> bool:
    return request.path.startswith(("/connect", "/oauth/authorize", "/docs")) or request.path == "/"


def _code(status: int) -> str:
    return {
        400: "invalid_request",
        404: "not_found",
        405: "method_not_allowed",
        413: "too_large",
        415: "unsupported_media_type",
    }.get(status, "http_error")
