"""The OAuth 2.0 endpoints (INTERFACE.md §1)."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Blueprint, current_app, jsonify, redirect, request
from werkzeug.wrappers import Response

from renkei.contract.docs import DOCS_PATH
from renkei.contract.oauth import (
    AUTHORIZE_PATH,
    CLIENT_AUTH_METHODS,
    CODE_CHALLENGE_METHODS,
    GRANT_TYPES,
    INTROSPECT_PATH,
    METADATA_PATH,
    RESPONSE_TYPES,
    REVOKE_PATH,
    SCOPES,
    TOKEN_PATH,
)
from renkei.contract.screens import FLOW_COOKIE, SCREEN_PATHS, Screen
from simulator.core.errors import RenkeiError
from simulator.core.flow import FlowState
from simulator.core.grants import Grant
from simulator.web.oauth import RenkeiServer
from simulator.web.responses import cookie_path, here, page, retry_after
from simulator.web.screen_model import ended_model, footer, redirect_with
from simulator.web.service import FlowRequest, Service

oauth = Blueprint("oauth", __name__)

#: The authorization request's parameters kept with the flow, so that 「許可する」
#: on ⑥ can finish it through Authlib.
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def server() -> RenkeiServer:
    """Authlib's server of this app, and through it (``.bank``) the bank: each
    route asks once."""
    the_server: RenkeiServer = current_app.extensions["renkei.oauth"]
    return the_server


@oauth.get(METADATA_PATH)
def metadata() -> Response:
    """RFC 8414, with the configured issuer, never one read from the request's
    ``Host`` (INTERFACE.md §1, RFC 8414 §3.3)."""
    issuer = server().service.config.issuer
    methods = list(CLIENT_AUTH_METHODS)
    return jsonify(
        {
            "issuer": issuer,
            "authorization_endpoint": issuer + AUTHORIZE_PATH,
            "token_endpoint": issuer + TOKEN_PATH,
            "revocation_endpoint": issuer + REVOKE_PATH,
            "introspection_endpoint": issuer + INTROSPECT_PATH,
            "scopes_supported": list(SCOPES),
            "response_types_supported": list(RESPONSE_TYPES),
            "grant_types_supported": list(GRANT_TYPES),
            "code_challenge_methods_supported": list(CODE_CHALLENGE_METHODS),
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": methods,
            "authorization_response_iss_parameter_supported": True,
            "service_documentation": issuer + DOCS_PATH,
        }
    )


def _error_page(b: Service, error: str, description: str, status: int) -> Response:
    model = {
        "screen_id": None,
        "title": "API連携認証",
        "csrf_token": None,
        "errors": [{"code": error, "message": description, "field": None}],
        "message": None,
        "return_url": None,
        "return_label": None,
        **footer(b),
    }
    return page("ended.html", model, status)


@oauth.get(AUTHORIZE_PATH)
def authorize() -> Response:
    """Validate the app's request with Authlib, then start a flow at ①.

    An unknown client or a redirect URI not registered exactly gets an error
    page, never a redirect (RFC 6749 §4.1.2.1); other request errors go back
    to the app. The host's own checks (hours, faults, capacity) come next.
    """
    the_server = server()
    b = the_server.service
    try:
        the_server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            response: Response = the_server.handle_error_response(None, error)
            return response
        return _error_page(b, error.error, error.get_error_description() or error.error, 400)
    params = {k: request.args[k] for k in AUTHORIZE_PARAMS if k in request.args}
    client = b.clients[params["client_id"]]
    params.setdefault("redirect_uri", client.redirect_uris[0])
    scopes = tuple((params.get("scope") or " ".join(client.scopes)).split())
    with FlowRequest(b) as fr:
        now = fr.engine.clock.now()
        try:
            flow = fr.engine.start(
                client.client_id,
                params["redirect_uri"],
                scopes,
                params.get("state"),
                params["code_challenge"],
                b.flows.in_progress(now, b.rules.flow_timeout),
            )
        except RenkeiError as error:
            back = {"error": error.oauth_error, "error_description": error.code}
            if params.get("state"):
                back["state"] = params["state"]
            model = ended_model(b, redirect_with(params["redirect_uri"], back), error.errors)
            return page("ended.html", model, error.status, retry_after(error, now))
        fr.save(flow, params)
    response = redirect(here(SCREEN_PATHS[Screen.ACCOUNT.value]), code=303)
    response.set_cookie(
        FLOW_COOKIE,
        flow.flow_id,
        path=cookie_path(),
        httponly=True,
        samesite="Lax",
        secure=not b.config.sandbox,
    )
    return response


def authorization_redirect(flow: FlowState, grant: Grant) -> Response:
    """「許可する」: Authlib issues the code and answers 302 redirect_uri?code=…&state=…"""
    the_server = server()
    params = the_server.service.flows.oauth_params(flow.flow_id)
    req = OAuth2Request("GET", the_server.service.config.issuer + AUTHORIZE_PATH)
    req.payload = BasicOAuth2Payload(params)
    authz = the_server.get_authorization_grant(req)
    response: Response = the_server.create_authorization_response(req, grant, authz)
    return response


@oauth.post(TOKEN_PATH)
def token() -> Response:
    response: Response = server().create_token_response()
    return response


@oauth.post(REVOKE_PATH)
def revoke() -> Response:
    response: Response = server().create_endpoint_response("revocation")
    return response


@oauth.post(INTROSPECT_PATH)
def introspect() -> Response:
    response: Response = server().create_endpoint_response("introspection")
    return response
