"""``GET /openapi.json`` and ``GET /docs``: every public endpoint of INTERFACE.md as
OpenAPI 3.1 — the OAuth server (§1), the screens (§2), the telephony gateway
(§4), the account API (§5) and the sandbox and operator controls (§6).

The document is what Schemathesis fuzzes (``benchmarks/campaign_hostile.py``),
so each operation lists every status it can answer and the body of each: a
status or body the server gives but the document does not name is a failure
of the campaign, and so is a schema the server does not keep.

Nothing here is typed twice. The bodies and answers are the declarations of
:mod:`simulator.web.schemas` (``components/schemas`` is their JSON Schema,
``$defs`` and all); the controls' paths, bodies and errors are their
:data:`~simulator.web.controls.CONTROLS`; the screens' paths and form fields,
the OAuth parameters and paths, the cookie's name and the statuses of the
machine codes come from :mod:`renkei.contract`.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from werkzeug.wrappers import Response

from renkei.contract import api, banks, oauth, throttle
from renkei.contract import sandboxes as platform
from renkei.contract.docs import CONTACT, DOCS_PATH, FAQ, OPENAPI_PATH, TERMS, page_path
from renkei.contract.errors import ERRORS, Kind
from renkei.contract.screens import CANCEL_PATH, CSRF_FIELD, FLOW_COOKIE, RETURN_PATH
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
from simulator.core.screens import SCREENS
from simulator.web.controls import CONTROLS
from simulator.web.responses import here, page
from simulator.web.schemas import REF, Published, answers, sandboxes, telephony
from simulator.web.screen_model import footer

openapi = Blueprint("openapi", __name__)

STRING = {"type": "string"}
OBJECT = {"type": "object"}
STRING_SCHEMA, OBJECT_SCHEMA = {"schema": STRING}, {"schema": OBJECT}
FORM, HTML, JSON = "application/x-www-form-urlencoded", "text/html", "application/json"
#: What the whole server may answer to any request whatever its operation: a
#: method it does not serve, a body over the limit (64 KiB).
TRANSPORT = {405: "Method not allowed", 413: "Body too large (64 KiB at most)"}
#: The declarations the document publishes besides the controls'.
DECLARED: tuple[type, ...] = (
    answers.Error,
    answers.OAuthError,
    answers.Screen,
    answers.Metadata,
    answers.Token,
    answers.Revoked,
    answers.Introspection,
    answers.Accounts,
    answers.Balances,
    answers.Transactions,
    telephony.Call,
    telephony.CallAnswer,
    sandboxes.CreateSandbox,
    sandboxes.Created,
    sandboxes.Sandbox,
    sandboxes.Sandboxes,
    sandboxes.ScenarioRefused,
)


def ref(declared: type) -> dict[str, str]:
    return {"$ref": REF.format(model=declared.__name__)}


def components() -> dict[str, Any]:
    """The JSON Schema of every declaration, bodies as they are validated and
    answers as they are written, with every model they use."""
    declared = {*DECLARED, *(c.answer for c in CONTROLS)}
    declared |= {c.body for c in CONTROLS if c.body is not None}
    pairs: list[tuple[type, JsonSchemaMode, TypeAdapter[Any]]] = [
        (t, "validation" if issubclass(t, BaseModel) else "serialization", TypeAdapter(t))
        for t in sorted(declared, key=lambda t: t.__name__)
    ]
    _, defs = TypeAdapter.json_schemas(pairs, ref_template=REF, schema_generator=Published)
    schemas: dict[str, Any] = defs["$defs"]
    return schemas


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def screen(description: str) -> dict[str, Any]:
    """A screen as HTML or as its JSON model (INTERFACE.md §2)."""
    model = {"schema": ref(answers.Screen)}
    return {"description": description, "content": {HTML: STRING_SCHEMA, JSON: model}}


def redirect(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"required": True, "schema": STRING}},
        "content": {HTML: STRING_SCHEMA, JSON: OBJECT_SCHEMA},
    }


def codes(status: int, *kinds: Kind) -> str:
    """The contract's machine codes answered with ``status``, with their requirements."""
    found = [e for e in ERRORS.values() if e.status == status and e.kind in kinds]
    return ", ".join(f"{e.code} ({e.requirement})" for e in found)


def errors(form: dict[str, str], described: dict[int, str]) -> dict[str, Any]:
    """Error answers in one ``form`` (a schema reference), with HTTP's own."""
    return {str(s): answer(text, form) for s, text in {**described, **TRANSPORT}.items()}


def throttled(form: dict[str, str], code: str, what: str) -> dict[str, Any]:
    """The throttle's 429 in ``form`` (renkei.contract.throttle): ``what`` failed too
    often from the request's source, which is refused unjudged until Retry-After."""
    return {
        str(throttle.STATUS): {
            "description": f"{code}: too many wrong {what} from this address; see Retry-After",
            "headers": {
                throttle.RETRY_AFTER: {
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                    "description": "Whole seconds until a request is judged again",
                }
            },
            "content": {JSON: {"schema": form}},
        }
    }


def enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def pattern(regex: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^(?:{regex})$"}


def param(
    where: str, name: str, schema: dict[str, Any], required: bool = False, about: str = ""
) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "description": about, "schema": schema}


def form(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def op(summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An operation: what it does, what it answers, and its parameters, body or security."""
    return {"summary": summary, "responses": responses, **more}


def body(schema: dict[str, Any], *media: str, required: bool = False) -> dict[str, Any]:
    return {"required": required, "content": {m: {"schema": schema} for m in media}}


# -- §1 ---------------------------------------------------------------------------------------


def client_security(method: str) -> dict[str, list[str]]:
    """A client authentication method of the contract as a security requirement:
    ``*_basic`` is HTTP Basic (RFC 6749 §2.3.1); ``client_secret_post`` sends the
    secret in the form, no header at all, which is the empty requirement."""
    return {"clientBasic": []} if method.endswith("_basic") else {}


def oauth_paths() -> dict[str, Any]:
    """RFC 6749, 7636, 7009, 7662 and 8414, with the contract's parameters."""
    client = {"security": [client_security(m) for m in oauth.CLIENT_AUTH_METHODS]}
    refused = errors(
        ref(answers.OAuthError), {400: "RFC 6749 §5.2", 401: "Client authentication"}
    ) | throttled(ref(answers.OAuthError), throttle.OAUTH_ERROR, "client credentials")
    credentials = {"client_id": STRING, "client_secret": STRING}
    grant = {
        "grant_type": enum(oauth.GRANT_TYPES),
        "code": STRING,
        "redirect_uri": STRING,
        "code_verifier": pattern(oauth.CODE_VERIFIER_PATTERN),
        "refresh_token": STRING,
        "scope": STRING,
    }
    token_form = body(form({**grant, **credentials}, "grant_type"), FORM, required=True)
    hint = {
        "token": STRING,
        "token_type_hint": {
            **STRING,
            "description": f"{' or '.join(oauth.TOKEN_TYPE_HINTS)}: orders the search only; "
            "any other value is ignored (RFC 7009 §2.1-2.2, RFC 7662 §2.1)",
        },
    }
    hinted = body(form({**hint, **credentials}, "token"), FORM, required=True)
    scope = "|".join(oauth.SCOPES)
    authorize = [
        param("query", "response_type", enum(oauth.RESPONSE_TYPES), True),
        param("query", "client_id", STRING, True, "The partner app"),
        param("query", "redirect_uri", STRING, about="Registered exactly"),
        param("query", "scope", pattern(f"(?:{scope})(?: (?:{scope}))*"), about="Space-separated"),
        param("query", "state", STRING, about="Echoed back"),
        param("query", "code_challenge", pattern(oauth.CODE_CHALLENGE_PATTERN), True, "RFC 7636"),
        param("query", "code_challenge_method", enum(oauth.CODE_CHALLENGE_METHODS), True),
    ]
    started = {
        "302": redirect("Back to the app with an error (RFC 6749 §4.1.2.1)"),
        "303": redirect("Screen ①, with the flow cookie"),
        "400": screen("Unknown client or redirect URI: an error page"),
        "500": screen(codes(500, Kind.SYSTEM)),
        "503": screen(codes(503, Kind.SYSTEM) + "; see Retry-After"),
        **{str(s): screen(text) for s, text in TRANSPORT.items()},
    }
    metadata = {"200": answer("The metadata", ref(answers.Metadata))}
    tokens = {"200": answer("Tokens", ref(answers.Token)), **refused}
    revoked = {"200": answer("Revoked", ref(answers.Revoked)), **refused}
    found = {"200": answer("The token", ref(answers.Introspection)), **refused}
    return {
        oauth.METADATA_PATH: {"get": op("RFC 8414 metadata", metadata)},
        oauth.AUTHORIZE_PATH: {
            "get": op("Start API連携認証: a flow at ①, or the error", started, parameters=authorize)
        },
        oauth.TOKEN_PATH: {
            "post": op("authorization_code (PKCE), refresh_token", tokens, requestBody=token_form)
            | client
        },
        oauth.REVOKE_PATH: {
            "post": op("RFC 7009; a refresh token ends its grant", revoked, requestBody=hinted)
            | client
        },
        oauth.INTROSPECT_PATH: {"post": op("RFC 7662", found, requestBody=hinted) | client},
    }


# -- §2 ---------------------------------------------------------------------------------------

#: The kinds of refusal a screen shows (INTERFACE.md §2).
ON_SCREENS = (Kind.INPUT, Kind.HOST, Kind.SYSTEM, Kind.CALL, Kind.FLOW)


def screen_paths() -> dict[str, Any]:
    """The six screens (GET shows, POST presses the button), 中止 and 「連携元画面へ」."""
    statuses = sorted({e.status for e in ERRORS.values() if e.kind in ON_SCREENS})
    shown: dict[str, Any] = {
        "200": screen("The screen"),
        "303": redirect("The next screen"),
        "404": screen("No such screen"),
        **{str(s): screen(codes(s, *ON_SCREENS)) for s in statuses},
        **{str(s): screen(text) for s, text in TRANSPORT.items()},
    }
    cookie = [
        param("cookie", FLOW_COOKIE, STRING, about=f"The flow, set by {oauth.AUTHORIZE_PATH}")
    ]

    def press(title: str, fields: dict[str, Any]) -> dict[str, Any]:
        posted = body(form({CSRF_FIELD: STRING, **fields}, CSRF_FIELD), FORM, JSON)
        # ⑥'s 「許可する」 goes back to the app with the code (INTERFACE.md §1).
        pressed = {**shown, "302": redirect("Back to the partner app")}
        return op(f"{title}: the button", pressed, parameters=cookie, requestBody=posted)

    paths: dict[str, Any] = {}
    for spec in SCREENS.values():
        title = f"{spec.number} {spec.screen.value} {spec.title}"
        fields = {f.name: f.json_schema() for f in spec.contract.fields}
        paths[spec.path] = {
            "get": op(f"{title}: shown", shown, parameters=cookie),
            "post": press(title, fields),
        }
    paths[CANCEL_PATH] = {"post": press("中止する (R-FLOW-7)", {})}
    back = op("「連携元画面へ」: back to the app with the error shown", shown, parameters=cookie)
    paths[RETURN_PATH] = {"get": back, "post": back}
    return paths


# -- §4, §5 -------------------------------------------------------------------------------------

API_ERRORS = {
    400: "Bad parameters: " + codes(400, Kind.API),
    401: "No, expired or revoked token: invalid_token, " + codes(401, Kind.API),
    403: "Scope (insufficient_scope), or a moved account: " + codes(403, Kind.API),
    404: "Not the linked account",
    500: codes(500, Kind.SYSTEM),
    503: codes(503, Kind.SYSTEM) + "; see Retry-After",
}


def api_paths() -> dict[str, Any]:
    """INTERFACE.md §5, the account API, and §4, the telephony gateway."""
    account_id = param("query", "accountId", STRING, True, "The linked account: 115-1-1100026")
    day = {"type": "string", "format": "date"}
    pages = [
        account_id,
        param("query", "dateFrom", day, about="From (default today)"),
        param("query", "dateTo", day, about="To (default today)"),
        param("query", "nextItemKey", STRING, about="The page after this item"),
    ]

    def call(
        path: str, summary: str, ok: type, statuses: tuple[int, ...], **more: Any
    ) -> dict[str, Any]:
        refused = errors(ref(answers.Error), {s: API_ERRORS[s] for s in statuses})
        answered = {"200": answer("OK", ref(ok)), **refused, **wrong_tokens}
        said = f"{summary} (scope {api.SCOPE_OF[path]})"
        return {"get": op(said, answered, security=[{"bearer": []}], **more)}

    wrong_tokens = throttled(ref(answers.Error), throttle.ERROR_CODE, "bearer tokens")
    line = {
        "200": answer("What the line did", ref(telephony.CallAnswer)),
        **throttled(ref(answers.Error), throttle.ERROR_CODE, "gateway credentials"),
        **errors(
            ref(answers.Error),
            {
                400: "Not a call as §4 says it",
                401: "unauthorized: neither the gateway's secret nor the sandbox's admin token",
            },
        ),
    }
    everything = (400, 401, 403, 404, 500, 503)
    return {
        api.ACCOUNTS_PATH: call(
            api.ACCOUNTS_PATH,
            "The account linked by the grant",
            answers.Accounts,
            (401, 403, 500, 503),
        ),
        api.BALANCES_PATH: call(
            api.BALANCES_PATH,
            "Balance of the linked account",
            answers.Balances,
            everything,
            parameters=[account_id],
        ),
        api.TRANSACTIONS_PATH: call(
            api.TRANSACTIONS_PATH,
            f"明細, oldest first, {api.PAGE_SIZE} a page, about three months back",
            answers.Transactions,
            everything,
            parameters=pages,
        ),
        CALLS_PATH: {
            "post": op(
                "An inbound call as the carrier reports it",
                line,
                requestBody=body(ref(telephony.Call), JSON, required=True),
                # Either credential (§4): the carrier's secret, or the operator's token.
                security=[{"telephonySecret": []}, {"adminToken": []}],
            )
        },
    }


# -- §6 and the bank's own pages --------------------------------------------------------------


CONTROL_ERRORS = {
    400: "invalid_parameter: the body or the path refused, the field named",
    401: "unauthorized: the admin token is required",
    404: "not_found: no such grant or account",
}


def control_paths() -> dict[str, Any]:
    """INTERFACE.md §6: under /sandbox/ and /admin/, with the admin token."""
    paths: dict[str, Any] = {}
    for c in CONTROLS:
        refused = errors(ref(answers.Error), {s: CONTROL_ERRORS[s] for s in (401, *c.errors)})
        refused |= throttled(ref(answers.Error), throttle.ERROR_CODE, "admin tokens")
        more: dict[str, Any] = {"security": [{"adminToken": []}]}
        if c.body is not None:
            more["requestBody"] = body(ref(c.body), JSON)
        if c.parameters:
            more["parameters"] = [
                param("path", name, schema, True, str(schema.get("description", "")))
                for name, schema in c.parameters.items()
            ]
        answered = {"200": answer("The resulting state", ref(c.answer)), **refused}
        paths.setdefault(c.path, {})[c.method] = op(c.summary, answered, **more)
    return paths


#: The footer's pages (R-PLAT-1), by their contract name.
PAGE_SUMMARIES = {
    TERMS: "API利用規定: the scenario's text (renkei's by default), linked from the footer",
    FAQ: "よくあるご質問: the manual's questions and answers in full, linked from the footer",
    CONTACT: "お問い合わせ先: the bank's department, phone, hours and e-mail (the footer links it)",
}


def pages() -> dict[str, Any]:
    """The bank's own pages (not in INTERFACE.md, but public)."""
    html = {"200": {"description": "A page", "content": {HTML: STRING_SCHEMA, JSON: OBJECT_SCHEMA}}}
    document = {"200": answer("OpenAPI 3.1", {**OBJECT, "required": ["openapi"]})}
    elsewhere = {
        "302": {
            "description": "The bank's own page on its website (the scenario's terms_url, faq_url)",
            "headers": {"Location": {"required": True, "schema": STRING}},
        }
    }
    footer_pages = {
        page_path(name): {"get": op(summary, {**html, **({} if name == CONTACT else elsewhere)})}
        for name, summary in PAGE_SUMMARIES.items()
    }
    return {
        "/": {"get": op("The sandbox's front page", html)},
        **footer_pages,
        OPENAPI_PATH: {"get": op("This document", document)},
        DOCS_PATH: {"get": op("This document as HTML", html)},
    }


# -- §9 ---------------------------------------------------------------------------------------

SANDBOX_ERRORS = {
    401: "unauthorized: the operator's token is required (or the sandbox's own)",
    404: f"{platform.NOT_FOUND}: no such sandbox (never created, deleted or expired)",
}


def sandbox_paths() -> dict[str, Any]:
    """INTERFACE.md §9, at the root only: every sandbox serves §1–§6 under /s/ID/, with
    a document of its own at /s/ID/openapi.json."""
    refused = {str(s): answer(text, ref(answers.Error)) for s, text in SANDBOX_ERRORS.items()}
    refused |= throttled(ref(answers.Error), throttle.ERROR_CODE, "operator or admin tokens")
    full = refused[str(throttle.STATUS)]
    transport = {str(s): answer(text, ref(answers.Error)) for s, text in TRANSPORT.items()}
    operator: dict[str, Any] = {"security": [{"adminToken": []}]}
    the_id = param(
        "path", "sandbox_id", {"type": "string", "pattern": platform.ID_PATTERN}, True, "Its id"
    )
    created = {
        "201": {
            **answer("The new sandbox, with its secrets (shown once)", ref(sandboxes.Created)),
            "headers": {"Location": {"required": True, "schema": STRING}},
        },
        "400": answer(
            "invalid_parameter: the body refused, the field (and an inline scenario's line) named",
            ref(sandboxes.ScenarioRefused),
        ),
        "401": refused["401"],
        "409": answer(f"{platform.LIMIT}: --max-sandboxes reached", ref(answers.Error)),
        "429": {
            **full,
            "description": f"{platform.FULL}: the --open-sandboxes are taken; or "
            + full["description"],
        },
        **transport,
    }
    listed = {
        "200": answer("Oldest first", ref(sandboxes.Sandboxes)),
        "401": refused["401"],
        "429": full,
    }
    one: dict[str, Any] = {
        "200": answer("The sandbox", ref(sandboxes.Sandbox)),
        **refused,
        **transport,
    }
    gone: dict[str, Any] = {
        "204": {"description": "Removed with all it held"},
        **refused,
        **transport,
    }
    metadata = {
        "200": answer(
            "The sandbox's RFC 8414 metadata (issuer ORIGIN/s/ID)", ref(answers.Metadata)
        ),
        "404": refused["404"],
        **transport,
    }
    return {
        platform.SANDBOXES_PATH: {
            "post": op(
                "A new sandbox (the operator's token, or none with --open-sandboxes)",
                created,
                requestBody=body(ref(sandboxes.CreateSandbox), JSON),
                security=[{"adminToken": []}, {}],
            ),
            "get": op("The sandboxes besides the root", {**listed, **transport}, **operator),
        },
        platform.sandbox_path("{sandbox_id}"): {
            "get": op("One sandbox", one, parameters=[the_id], **operator),
            "delete": op(
                "Remove a sandbox and all it holds", gone, parameters=[the_id], **operator
            ),
        },
        platform.metadata_path("{sandbox_id}"): {
            "get": op("A sandbox's metadata (RFC 8414 §3.1)", metadata, parameters=[the_id])
        },
        banks.metadata_path("", "{code}"): {
            "get": op(
                "A bank's metadata (RFC 8414 §3.1, INTERFACE.md §10: issuer ORIGIN/banks/CODE; "
                "a sandbox's bank's at .../s/ID/banks/CODE)",
                {
                    "200": answer(
                        "The bank's RFC 8414 metadata (issuer ORIGIN/banks/CODE)",
                        ref(answers.Metadata),
                    ),
                    "404": answer(
                        f"{banks.NOT_FOUND}: no bank of that code on the platform",
                        ref(answers.Error),
                    ),
                    **transport,
                },
                parameters=[
                    param(
                        "path",
                        "code",
                        {"type": "string", "pattern": banks.CODE_PATTERN},
                        True,
                        "The bank's 金融機関コード",
                    )
                ],
            )
        },
    }


def http(scheme: str, description: str) -> dict[str, str]:
    return {"type": "http", "scheme": scheme, "description": description}


@functools.cache
def _document(root: bool = True) -> dict[str, Any]:
    """Everything but the server's URL: the same for every request of the process.
    ``root``: the root sandbox's document, which has §9's endpoints too."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "renkei sandbox bank",
            "version": "1",
            "description": "Every public endpoint of renkei (INTERFACE.md): the OAuth 2.0 "
            "server, the screens of API連携認証 (HTML, or JSON with Accept: application/json), "
            "the telephony gateway, the account API and the sandbox controls. Each bank of a "
            "platform scenario serves all of them under /banks/CODE/ (INTERFACE.md §10), each "
            "sandbox under /s/ID/ (§9).",
        },
        "components": {
            "securitySchemes": {
                "bearer": http("bearer", f"An access token from {oauth.TOKEN_PATH}"),
                "adminToken": http("bearer", "The admin token printed by renkei serve"),
                "telephonySecret": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SECRET_HEADER,
                    "description": "The telephony gateway's secret printed by renkei serve "
                    "(a sandbox's: its telephony_secret)",
                },
                "clientBasic": http("basic", "The partner app's client_id and client_secret"),
            },
            "schemas": components(),
        },
        "paths": {
            **oauth_paths(),
            **screen_paths(),
            **api_paths(),
            **control_paths(),
            **pages(),
            **(sandbox_paths() if root else {}),
        },
    }


def spec(server_url: str, root: bool = True) -> dict[str, Any]:
    """The document, served from ``server_url`` (a sandbox's base when not ``root``)."""
    return {**_document(root), "servers": [{"url": server_url}]}


def served_from() -> str:
    """The server's URL for this request: the origin, and a sandbox's base under it."""
    return request.host_url.rstrip("/") + request.script_root


@openapi.get(OPENAPI_PATH)
def openapi_json() -> Response:
    return jsonify(spec(served_from(), root=not request.script_root))


@openapi.get(DOCS_PATH)
def docs_page() -> Response:
    """The OpenAPI document rendered as plain HTML (no script from any CDN)."""
    model: dict[str, Any] = {
        **footer(current_app.extensions["renkei.service"]),
        "title": "renkei API",
        "screen_id": None,
        "errors": [],
        "spec": spec(served_from(), root=not request.script_root),
        "openapi_url": here(OPENAPI_PATH),
    }
    return page("openapi.html", model)
