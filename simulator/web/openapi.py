"""``GET /openapi.json`` and ``GET /docs``: the account API, the telephony
gateway, the OAuth endpoints and the sandbox controls as OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from simulator.web.responses import page
from simulator.web.screen_model import footer

openapi = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
ADMIN: list[dict[str, list[str]]] = [{"adminToken": []}]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "Bad parameters",
        401: "No, expired or revoked token",
        403: "Scope, or a moved account",
        404: "Not the linked account",
        500: "System error (R-ERR-SYS-3)",
        503: "Out of hours, congested or suspended; see Retry-After",
    }
    return {str(c): _json(ERROR, names[c]) for c in codes}


def _query(
    name: str, description: str, required: bool = False, fmt: str | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if fmt:
        schema["format"] = fmt
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def spec(server_url: str) -> dict[str, Any]:
    account_id = _query("accountId", "The linked account, e.g. 115-1-1100026", required=True)
    controls_ok = _json({"type": "object"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "renkei sandbox bank",
            "version": "1",
            "description": "The account API, telephony gateway and sandbox controls of renkei "
            "(INTERFACE.md §4–§6). The screens of API連携認証 are HTML/JSON pages under /connect/.",
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
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["errorCode", "errorMessage"],
                    "properties": {
                        "errorCode": {"type": "string"},
                        "errorMessage": {"type": "string"},
                    },
                },
                "Account": {
                    "type": "object",
                    "properties": {
                        k: {"type": "string"}
                        for k in (
                            "accountId",
                            "branchCode",
                            "branchName",
                            "accountTypeCode",
                            "accountTypeName",
                            "accountNumber",
                            "accountNameKana",
                        )
                    },
                },
                "Balance": {
                    "type": "object",
                    "properties": {
                        k: {"type": "string"}
                        for k in (
                            "accountId",
                            "accountTypeCode",
                            "accountTypeName",
                            "balance",
                            "withdrawableAmount",
                            "baseDate",
                            "baseTime",
                        )
                    },
                },
                "Transaction": {
                    "type": "object",
                    "properties": {
                        **{
                            k: {"type": "string"}
                            for k in (
                                "transactionDate",
                                "valueDate",
                                "amount",
                                "remarks",
                                "balance",
                                "itemKey",
                            )
                        },
                        "transactionType": {"type": "string", "enum": ["1", "2"]},
                    },
                },
                "Call": {
                    "type": "object",
                    "required": ["from", "to"],
                    "properties": {
                        "from": {"type": "string", "pattern": "^[0-9]{4,20}$"},
                        "to": {
                            "type": "string",
                            "pattern": "^[0-9]{4,20}$",
                            "description": "Digits dialled; a 184/186 prefix counts",
                        },
                        "caller_id": {"type": "string", "enum": ["shown", "withheld"]},
                    },
                },
            },
        },
        "paths": {
            "/v1/accounts": {
                "get": {
                    "summary": "The account linked by the grant (scope accounts)",
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "accounts": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Account"},
                                    }
                                },
                            }
                        ),
                        **_errors(401, 403, 500, 503),
                    },
                }
            },
            "/v1/accounts/balances": {
                "get": {
                    "summary": "Balance of the linked account (scope accounts)",
                    "security": [{"bearer": []}],
                    "parameters": [account_id],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "balances": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Balance"},
                                    }
                                },
                            }
                        ),
                        **_errors(400, 401, 403, 404, 500, 503),
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
                        _query("dateFrom", "From (default today)", fmt="date"),
                        _query("dateTo", "To (default today)", fmt="date"),
                        _query("nextItemKey", "The page after this item"),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "transactions": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Transaction"},
                                    },
                                    "hasNext": {"type": "boolean"},
                                    "count": {"type": "integer"},
                                    "nextItemKey": {"type": "string"},
                                },
                            }
                        ),
                        **_errors(400, 401, 403, 404, 500, 503),
                    },
                }
            },
            "/telephony/calls": {
                "post": {
                    "summary": "An inbound call as the carrier reports it (INTERFACE.md §4)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Call"}}
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "rings": {"type": "integer"},
                                    "answered": {"type": "boolean"},
                                    "verified": {"type": "boolean"},
                                },
                            }
                        ),
                        **_errors(400),
                    },
                }
            },
            "/sandbox/clock": {
                "get": {
                    "summary": "The sandbox clock",
                    "security": ADMIN,
                    "responses": {"200": controls_ok},
                },
                "put": {
                    "summary": "Set the clock",
                    "security": ADMIN,
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["now"],
                                    "properties": {
                                        "now": {"type": "string", "format": "date-time"},
                                        "frozen": {"type": "boolean"},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {"200": controls_ok, **_errors(400)},
                },
                "delete": {
                    "summary": "Back to real time",
                    "security": ADMIN,
                    "responses": {"200": controls_ok},
                },
            },
            "/sandbox/clock/advance": {
                "post": {
                    "summary": "Advance the clock",
                    "security": ADMIN,
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["seconds"],
                                    "properties": {"seconds": {"type": "number", "minimum": 0}},
                                }
                            }
                        }
                    },
                    "responses": {"200": controls_ok, **_errors(400)},
                }
            },
            "/sandbox/faults": {
                "get": {
                    "summary": "The faults",
                    "security": ADMIN,
                    "responses": {"200": controls_ok},
                },
                "put": {
                    "summary": "Switch faults",
                    "security": ADMIN,
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        k: {"type": "boolean"}
                                        for k in ("congestion", "system_error", "service_suspended")
                                    },
                                }
                            }
                        }
                    },
                    "responses": {"200": controls_ok, **_errors(400)},
                },
            },
            "/sandbox/maintenance": {
                "post": {
                    "summary": "An ad-hoc closed window (R-HOURS-6)",
                    "security": ADMIN,
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["start", "end"],
                                    "properties": {
                                        "start": {"type": "string", "format": "date-time"},
                                        "end": {"type": "string", "format": "date-time"},
                                        "label": {"type": "string"},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {"200": controls_ok, **_errors(400)},
                }
            },
            "/sandbox/reset": {
                "post": {
                    "summary": "Back to the scenario",
                    "security": ADMIN,
                    "responses": {"200": controls_ok},
                }
            },
            "/sandbox/mail": {
                "get": {
                    "summary": "Completion e-mails sent",
                    "security": ADMIN,
                    "responses": {"200": controls_ok},
                }
            },
            "/sandbox/oplog": {
                "get": {
                    "summary": "The operation log",
                    "security": ADMIN,
                    "responses": {"200": controls_ok},
                }
            },
            "/admin/locks": {
                "get": {
                    "summary": "Locked accounts",
                    "security": ADMIN,
                    "responses": {"200": controls_ok},
                }
            },
            "/admin/grants": {
                "get": {"summary": "Grants", "security": ADMIN, "responses": {"200": controls_ok}}
            },
            "/admin/accounts/move": {
                "post": {
                    "summary": "移管 to another branch (R-ACCT-3)",
                    "security": ADMIN,
                    "requestBody": {
                        "content": {"application/json": {"schema": {"type": "object"}}}
                    },
                    "responses": {"200": controls_ok, **_errors(400, 404)},
                }
            },
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
