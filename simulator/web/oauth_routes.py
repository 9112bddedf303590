"""The OAuth 2.0 endpoints (INTERFACE.md §1).

Every authorization response, success or error, carries the issuer's ``iss``
(RFC 9207), and a request that repeats a parameter is ``invalid_request`` at
every endpoint (RFC 6749 §3.1, §3.2), before Authlib reads it: Authlib looks
for repeats of five of the authorization request's parameters only, and reads
the first of any other. So is a parameter longer than the contract's limit
(:mod:`renkei.contract.limits`), before anything of the request is stored.
"""

from __future__ import annotations

from collections.abc import Callable

from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Blueprint, current_app, jsonify, redirect, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from renkei.contract.docs import DOCS_PATH
from renkei.contract.limits import (
    AUTHORIZE_LIMITS,
    AUTHORIZE_NOT_SENT_BACK,
    TOKEN_LIMITS,
    first_too_long,
    too_long,
)
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
from simulator.web.screen_model import authorization_response, ended_model, footer
from simulator.web.security import secure_cookies
from simulator.web.service import FlowRequest, Service

oauth = Blueprint("oauth", __name__)

#: The authorization request's parameters that 「許可する」 on ⑥ finishes it with
#: through Authlib.
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
#: Those the flow's own record holds (FlowState): kept there only, not a second
#: time with the flow's ``oauth_params``, so that ``state`` is stored once.
HELD_BY_FLOW = ("client_id", "redirect_uri", "state", "code_challenge")


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


def repeated(values: MultiDict[str, str]) -> str | None:
    """The first parameter ``values`` holds more than once, if any (RFC 6749 §3.1, §3.2)."""
    return next((name for name in values if len(values.getlist(name)) > 1), None)


def _repeated_error(name: str) -> InvalidRequestError:
    """``invalid_request`` naming ``name``, less the characters RFC 6749 §5.2 keeps
    out of an ``error_description`` (Authlib refuses its own error otherwise)."""
    shown = "".join(c for c in name if not invalid_error_characters(c))
    return InvalidRequestError(f"The parameter '{shown}' is repeated.")


def _refuse_repeated(b: Service, name: str) -> Response:
    """RFC 6749 §4.1.2.1 for an authorization request that repeats ``name``: back to
    the app with ``invalid_request`` when its client and redirect URI are each given
    once (or the latter not at all) and registered; else, since where to send the
    answer is unsure, an error page."""
    return _refuse(b, _repeated_error(name))


def _refuse_too_long(b: Service, name: str) -> Response:
    """An authorization request whose ``name`` is over its limit: an error page for
    the ``state``, ``redirect_uri`` or ``client_id``, which cannot be sent back to the
    app safely (a URL too long to follow, a state echoed at any length); back to the
    app with ``invalid_request`` for any other, as for a repeated parameter."""
    error = InvalidRequestError(too_long(name, AUTHORIZE_LIMITS[name]))
    if name in AUTHORIZE_NOT_SENT_BACK:
        return _error_page(b, error.error, error.get_error_description(), 400)
    return _refuse(b, error)


def _refuse(b: Service, error: InvalidRequestError) -> Response:
    """``error`` back to the app when the request names its client and redirect URI
    each once (or the latter not at all) and both are registered; else an error page."""
    ids, asked = request.args.getlist("client_id"), request.args.getlist("redirect_uri")
    client = b.clients.get(ids[0]) if len(ids) == 1 else None
    if client is None or len(asked) > 1:
        return _error_page(b, error.error, error.get_error_description(), 400)
    if asked and asked[0] not in client.redirect_uris:
        return _error_page(b, error.error, error.get_error_description(), 400)
    states = request.args.getlist("state")
    if len(states) == 1 and len(states[0]) > AUTHORIZE_LIMITS["state"]:
        return _error_page(b, error.error, error.get_error_description(), 400)  # never echoed
    back = {"error": error.error, "error_description": error.get_error_description()}
    if len(states) == 1:
        back["state"] = states[0]
    target = asked[0] if asked else client.redirect_uris[0]
    return redirect(authorization_response(b, target, back), code=302)


def _with_iss(b: Service, response: Response) -> Response:
    """Authlib's authorization response, with the issuer's ``iss`` (RFC 9207 §2)."""
    if response.location:
        response.location = authorization_response(b, response.location, {})
    return response


@oauth.get(AUTHORIZE_PATH)
def authorize() -> Response:
    """Validate the app's request with Authlib, then start a flow at ①.

    An unknown client or a redirect URI not registered exactly gets an error
    page, never a redirect (RFC 6749 §4.1.2.1); other request errors go back
    to the app. The host's own checks (hours, faults, capacity) come next.
    """
    the_server = server()
    b = the_server.service
    name = repeated(request.args)
    if name is not None:
        return _refuse_repeated(b, name)
    name = first_too_long(request.args, AUTHORIZE_LIMITS)
    if name is not None:
        return _refuse_too_long(b, name)
    try:
        the_server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            return _with_iss(b, the_server.handle_error_response(None, error))
        return _error_page(b, error.error, error.get_error_description() or error.error, 400)
    params = {k: request.args[k] for k in AUTHORIZE_PARAMS if k in request.args}
    client = b.clients[params["client_id"]]
    params.setdefault("redirect_uri", client.redirect_uris[0])
    scopes = tuple((params.get("scope") or " ".join(client.scopes)).split())
    with FlowRequest(b) as fr:
        now = fr.engine.clock.now()
        try:
            # One admission at a time: the slots counted and the new flow saved together.
            with b.flows.admission(now, client.client_id) as slots:
                flow = fr.engine.start(
                    client.client_id,
                    params["redirect_uri"],
                    scopes,
                    params.get("state"),
                    params["code_challenge"],
                    slots,
                )
                fr.save(flow, {k: v for k, v in params.items() if k not in HELD_BY_FLOW})
        except RenkeiError as error:
            back = {"error": error.oauth_error, "error_description": error.code}
            if params.get("state"):
                back["state"] = params["state"]
            return_url = authorization_response(b, params["redirect_uri"], back)
            model = ended_model(b, return_url, error.errors)
            return page("ended.html", model, error.status, retry_after(error, now))
    response = redirect(here(SCREEN_PATHS[Screen.ACCOUNT.value]), code=303)
    response.set_cookie(
        FLOW_COOKIE,
        flow.flow_id,
        path=cookie_path(),
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(b.config),  # over HTTPS (security.py)
    )
    return response


def authorization_redirect(flow: FlowState, grant: Grant) -> Response:
    """「許可する」: Authlib issues the code and answers 302 redirect_uri?code=…&state=…&iss=…"""
    the_server = server()
    held = {
        "client_id": flow.client_id,
        "redirect_uri": flow.redirect_uri,
        "code_challenge": flow.code_challenge,
    }
    if flow.state is not None:
        held["state"] = flow.state
    # A flow an older renkei started kept all of them with its oauth_params: the same.
    params = {**held, **the_server.service.flows.oauth_params(flow.flow_id)}
    req = OAuth2Request("GET", the_server.service.config.issuer + AUTHORIZE_PATH)
    req.payload = BasicOAuth2Payload(params)
    authz = the_server.get_authorization_grant(req)
    return _with_iss(
        the_server.service, the_server.create_authorization_response(req, grant, authz)
    )


def _unless_refused(answer: Callable[[], Response]) -> Response:
    """``answer()``, or ``invalid_request`` for a request whose query and form
    together hold a parameter twice (RFC 6749 §3.2; RFC 7009 and RFC 7662 send
    theirs the same way) or one longer than its limit (``TOKEN_LIMITS``)."""
    name = repeated(request.values)
    error = _repeated_error(name) if name is not None else None
    long = first_too_long(request.values, TOKEN_LIMITS)
    if error is None and long is not None:
        error = InvalidRequestError(too_long(long, TOKEN_LIMITS[long]))
    if error is not None:
        refused: Response = server().handle_error_response(None, error)
        return refused
    return answer()


@oauth.post(TOKEN_PATH)
def token() -> Response:
    return _unless_refused(server().create_token_response)


@oauth.post(REVOKE_PATH)
def revoke() -> Response:
    return _unless_refused(lambda: server().create_endpoint_response("revocation"))


@oauth.post(INTROSPECT_PATH)
def introspect() -> Response:
    return _unless_refused(lambda: server().create_endpoint_response("introspection"))
