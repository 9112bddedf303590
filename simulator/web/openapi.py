"""``GET /openapi.json`` and ``GET /docs``: every public endpoint of INTERFACE.md as
OpenAPI 3.1 — the OAuth server (§1), the screens (§2), the telephony gateway
(§4), the account API (§5) and the sandbox and operator controls (§6).

The document is what Schemathesis fuzzes (``benchmarks/campaign_hostile.py``),
so each operation lists every status it can answer and the body of each: a
status or body the server gives but the document does not name is a failure
of the campaign, and so is a schema the server does not keep.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from simulator.core.screens import SCREENS
from simulator.web.responses import FLOW_COOKIE, page
from simulator.web.screen_model import footer

openapi = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
OAUTH_ERROR = {"$ref": "#/components/schemas/OAuthError"}
SCREEN = {"$ref": "#/components/schemas/Screen"}
ADMIN: list[dict[str, list[str]]] = [{"adminToken": []}]
#: The token endpoints take the client's secret in Basic (client_secret_basic) or
#: in the form (client_secret_post, which needs no header: the empty requirement).
CLIENT: list[dict[str, list[str]]] = [{"clientBasic": []}, {}]
STRING = {"type": "string"}
FORM = "application/x-www-form-urlencoded"
HTML = "text/html"
JSON = "application/json"

#: What the whole server may answer to any request whatever its operation:
#: a body over the limit, a body it cannot read, a method it does not serve.
TRANSPORT = {"405": "Method not allowed", "413": "Body too large (64 KiB at most)"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "Bad parameters",
        401: "No, expired or revoked token",
        403: "Scope, or a moved account",
        404: "Not found",
        500: "System error (R-ERR-SYS-3)",
        503: "Out of hours, congested or suspended; see Retry-After",
    }
    return {str(c): _json(ERROR, names[c]) for c in codes}


def _api_transport() -> dict[str, Any]:
    return {code: _json(ERROR, text) for code, text in TRANSPORT.items()}


def _screen(description: str) -> dict[str, Any]:
    """A screen as HTML or as its JSON model (INTERFACE.md §2)."""
    return {
        "description": description,
        "content": {HTML: {"schema": STRING}, JSON: {"schema": SCREEN}},
    }


def _redirect(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"required": True, "schema": STRING}},
        "content": {HTML: {"schema": STRING}, JSON: {"schema": {"type": "object"}}},
    }


#: What a screen may answer, HTML and JSON alike (INTERFACE.md §2).
SCREEN_ANSWERS: dict[str, Any] = {
    "200": _screen("The screen"),
    "303": _redirect("The next screen"),
    "403": _screen("Flow lost, CSRF, out of order, locked (R-ERR-HOST-3, B84, R-FLOW-8)"),
    "404": _screen("No such screen"),
    "410": _screen("The call window passed (R-ERR-CALL-2)"),
    "422": _screen("Input or identity errors (R-ERR-INPUT-*, R-ERR-HOST-1/2, R-ERR-CALL-1)"),
    "500": _screen("System error (R-ERR-SYS-3)"),
    "503": _screen("Out of hours, congested, suspended (R-ERR-SYS-1/2/4); see Retry-After"),
    **{code: _screen(text) for code, text in TRANSPORT.items()},
}


def _query(
    name: str,
    description: str,
    required: bool = False,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or STRING,
    }


def _form(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _body(schema: dict[str, Any], *media: str, required: bool = False) -> dict[str, Any]:
    return {"required": required, "content": {m: {"schema": schema} for m in media}}


def _control(
    summary: str,
    ok: dict[str, Any],
    body: dict[str, Any] | None = None,
    extra: tuple[int, ...] = (),
) -> dict[str, Any]:
    """A sandbox or operator control: admin token, JSON body, JSON answer (§6)."""
    operation: dict[str, Any] = {
        "summary": summary,
        "security": ADMIN,
        "responses": {"200": _json(ok), **_errors(401, *extra), **_api_transport()},
    }
    if body is not None:
        operation["requestBody"] = _body(body, JSON)
        operation["responses"].update(_errors(400))
    return operation


def _pattern(regex: str, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "pattern": regex}
    if description:
        schema["description"] = description
    return schema


#: What each screen's POST takes (INTERFACE.md §2), beside ``csrf_token``.
SCREEN_FIELDS: dict[str, dict[str, Any]] = {
    "/connect/account": {
        "branch_no": _pattern("^[0-9]{3}$", "店番"),
        "account_type": {"type": "string", "enum": ["1", "2", "4", "9"]},
        "account_no": _pattern("^[0-9]{7}$", "口座番号"),
    },
    "/connect/customer": {
        "name_kana": {"type": "string", "maxLength": 48, "description": "half-width kana"},
        "birth_year": _pattern("^[0-9]{4}$"),
        "birth_month": _pattern("^(0?[1-9]|1[0-2])$"),
        "birth_day": _pattern("^(0?[1-9]|[12][0-9]|3[01])$"),
        "phone": _pattern("^0[0-9]{9,10}$", "the registered phone"),
        "email": {"type": "string", "format": "email", "maxLength": 64},
        "email_confirm": {"type": "string", "format": "email", "maxLength": 64},
    },
    "/connect/phone": {},
    "/connect/call": {},
    "/connect/pin": {"pin": _pattern("^[0-9]{4}$", "the cash-card PIN")},
    "/connect/consent": {
        "agree": {"type": "string", "enum": ["1"]},
        "decision": {"type": "string", "enum": ["allow", "deny"]},
    },
    "/connect/cancel": {},
}
FLOW = {
    "name": FLOW_COOKIE,
    "in": "cookie",
    "required": False,
    "description": "The browser's handle on its flow, set by /oauth/authorize",
    "schema": STRING,
}


def _screen_paths() -> dict[str, Any]:
    """The six screens (GET shows, POST presses the button), 中止 and 「連携元画面へ」."""
    titles = {
        spec.path: f"{spec.number} {spec.screen.value} {spec.title}" for spec in SCREENS.values()
    }
    titles["/connect/cancel"] = "中止する (R-FLOW-7)"
    paths: dict[str, Any] = {}
    for path, fields in SCREEN_FIELDS.items():
        body = _form({"csrf_token": STRING, **fields}, ("csrf_token",))
        post = {
            "summary": f"{titles[path]}: the button",
            "parameters": [FLOW],
            "requestBody": _body(body, FORM, JSON),
            # ⑥'s 「許可する」 goes back to the app with the code (INTERFACE.md §1).
            "responses": {**SCREEN_ANSWERS, "302": _redirect("Back to the partner app")},
        }
        paths[path] = {"post": post}
        if path != "/connect/cancel":
            paths[path]["get"] = {
                "summary": f"{titles[path]}: shown",
                "parameters": [FLOW],
                "responses": SCREEN_ANSWERS,
            }
    back = {
        "summary": "「連携元画面へ」: back to the app with the error shown (INTERFACE.md §1)",
        "parameters": [FLOW],
        "responses": SCREEN_ANSWERS,
    }
    paths["/connect/return"] = {"get": back, "post": back}
    return paths


def _oauth_paths() -> dict[str, Any]:
    """INTERFACE.md §1: RFC 6749, 7636, 7009, 7662 and 8414."""
    oauth_errors = {
        "400": _json(OAUTH_ERROR, "RFC 6749 §5.2"),
        "401": _json(OAUTH_ERROR, "Client authentication failed"),
        **{code: _json(OAUTH_ERROR, text) for code, text in TRANSPORT.items()},
    }
    token_form = _form(
        {
            "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
            "code": STRING,
            "redirect_uri": STRING,
            "code_verifier": _pattern("^[A-Za-z0-9._~-]{43,128}$"),
            "refresh_token": STRING,
            "scope": STRING,
            "client_id": STRING,
            "client_secret": STRING,
        },
        ("grant_type",),
    )
    token_form_hint = _form(
        {
            "token": STRING,
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
            "client_id": STRING,
            "client_secret": STRING,
        },
        ("token",),
    )
    authorize_params = [
        _query("response_type", "code", True, {"type": "string", "enum": ["code"]}),
        _query("client_id", "The partner app", True),
        _query("redirect_uri", "Registered exactly"),
        _query("scope", "accounts and/or transactions"),
        _query("state", "Echoed back"),
        _query("code_challenge", "PKCE (RFC 7636)", True, _pattern("^[A-Za-z0-9_-]{43}$")),
        _query("code_challenge_method", "S256 only", True, {"type": "string", "enum": ["S256"]}),
    ]
    return {
        "/.well-known/oauth-authorization-server": {
            "get": {
                "summary": "RFC 8414 metadata",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["issuer", "authorization_endpoint", "token_endpoint"],
                            "properties": {
                                "issuer": STRING,
                                "authorization_endpoint": STRING,
                                "token_endpoint": STRING,
                                "code_challenge_methods_supported": {
                                    "type": "array",
                                    "items": STRING,
                                },
                                "scopes_supported": {"type": "array", "items": STRING},
                            },
                        }
                    )
                },
            }
        },
        "/oauth/authorize": {
            "get": {
                "summary": "Start API連携認証: a new flow at ① (303), or the error",
                "parameters": authorize_params,
                "responses": {
                    "302": _redirect("Back to the app with an error (RFC 6749 §4.1.2.1)"),
                    "303": _redirect("Screen ①, with the flow cookie"),
                    "400": _screen("Unknown client or redirect URI: an error page"),
                    "500": _screen("System error (R-ERR-SYS-3)"),
                    "503": _screen("Out of hours, congested, suspended; see Retry-After"),
                    **{code: _screen(text) for code, text in TRANSPORT.items()},
                },
            }
        },
        "/oauth/token": {
            "post": {
                "summary": "authorization_code (PKCE) and refresh_token grants",
                "security": CLIENT,
                "requestBody": _body(token_form, FORM, required=True),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["access_token", "token_type", "expires_in"],
                            "properties": {
                                "access_token": STRING,
                                "token_type": STRING,
                                "expires_in": {"type": "integer"},
                                "refresh_token": STRING,
                                "scope": STRING,
                            },
                        }
                    ),
                    **oauth_errors,
                },
            }
        },
        "/oauth/revoke": {
            "post": {
                "summary": "RFC 7009; a refresh token ends the whole grant",
                "security": CLIENT,
                "requestBody": _body(token_form_hint, FORM, required=True),
                "responses": {"200": _json({"type": "object"}), **oauth_errors},
            }
        },
        "/oauth/introspect": {
            "post": {
                "summary": "RFC 7662",
                "security": CLIENT,
                "requestBody": _body(token_form_hint, FORM, required=True),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["active"],
                            "properties": {
                                "active": {"type": "boolean"},
                                "client_id": STRING,
                                "scope": STRING,
                                "exp": {"type": "integer"},
                            },
                        }
                    ),
                    **oauth_errors,
                },
            }
        },
    }


def _api_paths() -> dict[str, Any]:
    """INTERFACE.md §5, the account API."""
    account_id = _query("accountId", "The linked account, e.g. 115-1-1100026", required=True)

    def listing(key: str, item: str) -> dict[str, Any]:
        return _json(
            {
                "type": "object",
                "required": [key],
                "properties": {
                    key: {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}}
                },
            }
        )

    return {
        "/v1/accounts": {
            "get": {
                "summary": "The account linked by the grant (scope accounts)",
                "security": [{"bearer": []}],
                "responses": {
                    "200": listing("accounts", "Account"),
                    **_errors(401, 403, 500, 503),
                    **_api_transport(),
                },
            }
        },
        "/v1/accounts/balances": {
            "get": {
                "summary": "Balance of the linked account (scope accounts)",
                "security": [{"bearer": []}],
                "parameters": [account_id],
                "responses": {
                    "200": listing("balances", "Balance"),
                    **_errors(400, 401, 403, 404, 500, 503),
                    **_api_transport(),
                },
            }
        },
        "/v1/accounts/transactions": {
            "get": {
                "summary": "明細, oldest first, 500 a page, about three months back "
                "(scope transactions)",
                "security": [{"bearer": []}],
                "parameters": [
                    account_id,
                    _query(
                        "dateFrom",
                        "From (default today)",
                        schema={"type": "string", "format": "date"},
                    ),
                    _query(
                        "dateTo", "To (default today)", schema={"type": "string", "format": "date"}
                    ),
                    _query("nextItemKey", "The page after this item"),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["accountId", "hasNext", "count", "transactions"],
                            "properties": {
                                "accountId": STRING,
                                "dateFrom": {"type": "string", "format": "date"},
                                "dateTo": {"type": "string", "format": "date"},
                                "baseDate": STRING,
                                "baseTime": STRING,
                                "transactions": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Transaction"},
                                },
                                "hasNext": {"type": "boolean"},
                                "count": {"type": "integer"},
                                "nextItemKey": STRING,
                            },
                        }
                    ),
                    **_errors(400, 401, 403, 404, 500, 503),
                    **_api_transport(),
                },
            }
        },
    }


def _telephony_paths() -> dict[str, Any]:
    """INTERFACE.md §4."""
    return {
        "/telephony/calls": {
            "post": {
                "summary": "An inbound call as the carrier reports it",
                "requestBody": _body({"$ref": "#/components/schemas/Call"}, JSON, required=True),
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["rings", "answered", "verified"],
                            "properties": {
                                # 2–3 rings; 0 for a report seen before (a replay).
                                "rings": {"type": "integer", "minimum": 0, "maximum": 3},
                                "answered": {"type": "boolean", "const": False},
                                "verified": {"type": "boolean"},
                                "replayed": {"type": "boolean"},
                            },
                        }
                    ),
                    # 401: outside the sandbox, without the gateway's shared secret.
                    **_errors(400, 401),
                    **_api_transport(),
                },
            }
        }
    }


def _control_paths() -> dict[str, Any]:
    """INTERFACE.md §6: under /sandbox/ and /admin/, with the admin token."""
    instant = {"type": "string", "format": "date-time"}
    clock = {"$ref": "#/components/schemas/Clock"}
    faults = {"$ref": "#/components/schemas/Faults"}
    windows = {
        "type": "object",
        "required": ["maintenance"],
        "properties": {"maintenance": {"type": "array", "items": {"type": "object"}}},
    }
    grant = {"$ref": "#/components/schemas/Grant"}
    account = {
        "type": "object",
        "required": ["branch_no", "account_type", "account_no"],
        "properties": {
            "branch_no": _pattern("^[0-9]{3}$"),
            "account_type": {"type": "string", "enum": ["1", "2", "4", "9"]},
            "account_no": _pattern("^[0-9]{7}$"),
        },
    }
    grant_id = {"name": "grant_id", "in": "path", "required": True, "schema": STRING}
    revoke = _control("R-AUTHZ-3: the bank ends a grant", grant, extra=(404,))
    uninstall = _control("R-AUTHZ-4: the partner reports the app uninstalled", grant, extra=(404,))
    unlock = _control(
        "An operator's unlock",
        {"type": "object", "properties": {"account": STRING, "locked": {"type": "boolean"}}},
        extra=(400,),
    )
    unlock["parameters"] = [
        {
            "name": "account",
            "in": "path",
            "required": True,
            "description": "BRANCH-TYPE-NUMBER, e.g. 115-1-1100026",
            "schema": _pattern("^[0-9]{3}-[0-9]-[0-9]{7}$"),
        }
    ]
    revoke["parameters"] = uninstall["parameters"] = [grant_id]
    return {
        "/sandbox/clock": {
            "get": _control("The sandbox clock", clock),
            "put": _control(
                "Set the clock (runs on from there unless frozen)",
                clock,
                {
                    "type": "object",
                    "required": ["now"],
                    "properties": {"now": instant, "frozen": {"type": "boolean"}},
                },
            ),
            "delete": _control("Back to real time", clock),
        },
        "/sandbox/clock/advance": {
            "post": _control(
                "Advance the clock (at most ten years)",
                clock,
                {
                    "type": "object",
                    "required": ["seconds"],
                    "properties": {
                        "seconds": {"type": "number", "minimum": 0, "maximum": 315360000}
                    },
                },
            )
        },
        "/sandbox/faults": {
            "get": _control("The faults", faults),
            "put": _control(
                "Switch faults",
                faults,
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        k: {"type": "boolean"}
                        for k in ("congestion", "system_error", "service_suspended")
                    },
                },
            ),
        },
        "/sandbox/maintenance": {
            "get": _control("The ad-hoc closed windows", windows),
            "post": _control(
                "An ad-hoc closed window (R-HOURS-6)",
                windows,
                {
                    "type": "object",
                    "required": ["start", "end"],
                    "properties": {"start": instant, "end": instant, "label": STRING},
                },
            ),
        },
        "/sandbox/reset": {
            "post": _control(
                "Back to the scenario; clock and faults back to default",
                {
                    "type": "object",
                    "required": ["reset"],
                    "properties": {"reset": {"type": "boolean"}, "clock": clock, "faults": faults},
                },
                {"type": "object", "properties": {"today": {"type": "string", "format": "date"}}},
            )
        },
        "/sandbox/mail": {
            "get": _control(
                "Completion e-mails sent",
                {
                    "type": "object",
                    "required": ["mail"],
                    "properties": {"mail": {"type": "array", "items": {"type": "object"}}},
                },
            )
        },
        "/sandbox/oplog": {
            "get": _control(
                "The operation log",
                {
                    "type": "object",
                    "required": ["entries"],
                    "properties": {"entries": {"type": "array", "items": {"type": "object"}}},
                },
            )
        },
        "/sandbox/grants/{grant_id}/uninstall": {"post": uninstall},
        "/admin/locks": {
            "get": _control(
                "Locked accounts",
                {
                    "type": "object",
                    "required": ["locks"],
                    "properties": {"locks": {"type": "array", "items": {"type": "object"}}},
                },
            )
        },
        "/admin/locks/{account}": {"delete": unlock},
        "/admin/grants": {
            "get": _control(
                "Grants",
                {
                    "type": "object",
                    "required": ["grants"],
                    "properties": {"grants": {"type": "array", "items": grant}},
                },
            )
        },
        "/admin/grants/{grant_id}/revoke": {"post": revoke},
        "/admin/accounts/move": {
            "post": _control(
                "移管 to another branch (R-ACCT-3)",
                {"type": "object", "properties": {"from": STRING, "to": STRING, "status": STRING}},
                {
                    "type": "object",
                    "required": ["from", "to"],
                    "properties": {"from": account, "to": account},
                },
                extra=(404,),
            )
        },
    }


def _pages() -> dict[str, Any]:
    """The bank's own pages (not in INTERFACE.md, but public)."""
    html = {
        "description": "A page",
        "content": {HTML: {"schema": STRING}, JSON: {"schema": {"type": "object"}}},
    }
    return {
        "/": {"get": {"summary": "The sandbox's front page", "responses": {"200": html}}},
        "/docs/{name}": {
            "get": {
                "summary": "利用規約 (terms) and よくあるご質問 (faq), linked from the footer",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": STRING}],
                "responses": {
                    "200": {
                        "description": "The page",
                        "content": {HTML: {"schema": STRING}, JSON: {"schema": {"type": "object"}}},
                    },
                    "404": _screen("No such page"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": _json({"type": "object", "required": ["openapi"]})},
            }
        },
        "/docs": {"get": {"summary": "This document as HTML", "responses": {"200": html}}},
    }


def _schemas() -> dict[str, Any]:
    def strings(*names: str) -> dict[str, Any]:
        return dict.fromkeys(names, STRING)

    nullable = {"type": ["string", "null"]}
    return {
        "Error": {
            "type": "object",
            "required": ["errorCode", "errorMessage"],
            "properties": strings("errorCode", "errorMessage"),
        },
        "OAuthError": {
            "type": "object",
            "required": ["error"],
            "properties": strings("error", "error_description", "state"),
        },
        "Screen": {
            "description": "The JSON model of a screen, or of the page that ends the flow",
            "type": "object",
            "required": ["screen_id", "title", "csrf_token", "errors"],
            "properties": {
                "screen_id": nullable,
                "title": STRING,
                "csrf_token": nullable,
                "return_url": nullable,
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "message", "field"],
                        "properties": {"code": STRING, "message": STRING, "field": nullable},
                    },
                },
                "masked_phone": STRING,
                "call_to": STRING,
                "call_deadline": {"type": "string", "format": "date-time"},
                "client_name": STRING,
                "scopes": {"type": "array", "items": STRING},
                "expires_in_days": {"type": "integer"},
            },
        },
        "Account": {
            "type": "object",
            "required": ["accountId", "branchCode", "accountTypeCode", "accountNumber"],
            "properties": strings(
                "accountId",
                "branchCode",
                "branchName",
                "accountTypeCode",
                "accountTypeName",
                "accountNumber",
                "accountNameKana",
            ),
        },
        "Balance": {
            "type": "object",
            "required": ["accountId", "balance", "baseDate", "baseTime"],
            "properties": strings(
                "accountId",
                "accountTypeCode",
                "accountTypeName",
                "balance",
                "withdrawableAmount",
                "baseDate",
                "baseTime",
            ),
        },
        "Transaction": {
            "type": "object",
            "required": ["transactionDate", "transactionType", "amount", "balance", "itemKey"],
            "properties": {
                **strings(
                    "transactionDate", "valueDate", "amount", "remarks", "balance", "itemKey"
                ),
                "transactionType": {"type": "string", "enum": ["1", "2"]},
            },
        },
        "Call": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {
                "from": _pattern("^[0-9]{4,20}$"),
                "to": _pattern("^[0-9]{4,20}$", "Digits dialled; a 184/186 prefix counts"),
                "caller_id": {"type": "string", "enum": ["shown", "withheld"]},
                "call_id": _pattern(
                    "^[A-Za-z0-9._:-]{1,64}$", "The carrier's id of the call (docs/rules.md)"
                ),
            },
        },
        "Clock": {
            "type": "object",
            "required": ["now", "frozen", "real", "offset_seconds"],
            "properties": {
                "now": {"type": "string", "format": "date-time"},
                "frozen": {"type": "boolean"},
                "real": {"type": "boolean"},
                "offset_seconds": {"type": "number"},
            },
        },
        "Faults": {
            "type": "object",
            "required": ["congestion", "system_error", "service_suspended"],
            "properties": {
                k: {"type": "boolean"} for k in ("congestion", "system_error", "service_suspended")
            },
        },
        "Grant": {
            "type": "object",
            "required": ["grant_id", "client_id", "account", "scopes", "active"],
            "properties": {
                **strings("grant_id", "client_id", "account", "granted_at", "expires_at"),
                "scopes": {"type": "array", "items": STRING},
                "active": {"type": "boolean"},
            },
        },
    }


def spec(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "renkei sandbox bank",
            "version": "1",
            "description": "Every public endpoint of renkei (INTERFACE.md): the OAuth 2.0 "
            "server, the screens of API連携認証 (HTML, or JSON with Accept: application/json), "
            "the telephony gateway, the account API and the sandbox controls.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token from /oauth/token",
                },
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token printed by renkei serve",
                },
                "clientBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The partner app's client_id and client_secret",
                },
            },
            "schemas": _schemas(),
        },
        "paths": {
            **_oauth_paths(),
            **_screen_paths(),
            **_api_paths(),
            **_telephony_paths(),
            **_control_paths(),
            **_pages(),
        },
    }


@openapi.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(spec(request.host_url.rstrip("/")))


@openapi.get("/docs")
def docs_page() -> Response:
    """The OpenAPI document rendered as plain HTML (no script from any CDN)."""
    model: dict[str, Any] = {
        **footer(current_app.extensions["renkei.bank"]),
        "title": "renkei API",
        "screen_id": None,
        "errors": [],
        "spec": spec(request.host_url.rstrip("/")),
    }
    return page("openapi.html", model)
