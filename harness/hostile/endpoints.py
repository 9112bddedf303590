"""Generated requests the OpenAPI document does not describe, one strategy per
group of endpoints: the screens (INTERFACE.md §2), OAuth (§1), the account API
(§5), the telephony gateway (§4) and the sandbox and operator controls (§6).

Each draws a mostly-right request (:mod:`.baseline`) made hostile in a few
places (:mod:`.strategies`), with credentials right, wrong, malformed or
missing: a flow cookie and CSRF token for the screens, client authentication
for OAuth, a bearer token for the API, the admin token for the controls. The
:class:`~.bench.Bench` supplies the live flows and tokens.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import requests
from hypothesis import strategies as st

from renkei.contract import api, controls, telephony
from renkei.contract.oauth import (
    AUTHORIZE_PATH,
    CODE_CHALLENGE_METHODS,
    GRANT_TYPES,
    INTROSPECT_PATH,
    RESPONSE_TYPES,
    REVOKE_PATH,
    SCOPES,
    TOKEN_PATH,
    TOKEN_TYPE_HINTS,
)
from renkei.contract.screens import CSRF_FIELD, FLOW_COOKIE, RETURN_PATH

from .baseline import (
    ACCOUNT,
    ACCOUNT_KEY,
    BASELINE_NOW,
    CLIENT_BASIC,
    CLIENT_ID,
    CLIENT_SECRET,
    FLOW_FOR,
    PERSON,
    REDIRECT,
    SCREEN_FIELDS,
    SCREENS_UNDER,
)
from .bench import Bench
from .corpus import FORGED_COOKIES
from .strategies import (
    accepts,
    bodies,
    cookie_header,
    header_text,
    hostile_text,
    json_value,
    mutated,
    near,
    with_field,
)

#: A generated request: its endpoint (for the census), the request, and the screen
#: whose held flow it used (None: it used none).
Generated = tuple[str, requests.Request, str | None]

_S256 = CODE_CHALLENGE_METHODS[0]


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


def screen_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """A POST to a screen (or a GET of one): with no flow, a forged one, or a valid
    flow cookie, with a valid, missing, wrong or hostile CSRF token."""

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        path = screen = draw(st.sampled_from(sorted(SCREEN_FIELDS)))
        cookie = draw(st.sampled_from(["valid", "valid", "valid", "none", "forged", "twice"]))
        csrf_kind = draw(st.sampled_from(["valid"] * 4 + ["missing", "wrong", "hostile"]))
        headers = draw(accepts())
        flow = bench.flow_at(FLOW_FOR[path]) if cookie == "valid" else None
        forged = draw(st.one_of(st.sampled_from(FORGED_COOKIES), header_text()))
        jar: list[tuple[str, str]] = []
        if flow is not None:
            jar.append((FLOW_COOKIE, flow.cookie))
        if cookie in ("forged", "twice"):
            jar.append((FLOW_COOKIE, forged))
        if cookie == "twice":  # the same cookie twice: one real flow, one not
            flow = bench.flow_at(FLOW_FOR[path])
            jar.insert(draw(st.integers(0, 1)), (FLOW_COOKIE, flow.cookie if flow else "0" * 32))
        fields = dict(SCREEN_FIELDS[path])
        body, kind = draw(bodies(fields))
        csrf = {
            "valid": flow.csrf if flow else "0" * 40,
            "wrong": "0" * 40,
            "hostile": draw(hostile_text()),
            "missing": None,
        }[csrf_kind]
        if csrf is not None and body is not None:
            body = with_field(body, kind, CSRF_FIELD, csrf)
        method = draw(st.sampled_from(["POST", "POST", "POST", "GET"]))
        if method == "GET":
            stranger = SCREENS_UNDER + quote(draw(hostile_text()), safe="")
            path = draw(st.sampled_from([path, RETURN_PATH, stranger]))
            body, kind = None, {}
        request = requests.Request(
            method,
            bench.url + path,
            headers={**headers, **kind, **cookie_header(jar)},
            data=body,
        )
        used = FLOW_FOR[screen] if flow is not None else None
        shown = path if path in SCREEN_FIELDS else f"{SCREENS_UNDER}*"
        return f"{method} {shown}", request, used

    return build()


def oauth_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """/oauth/authorize with each parameter right, hostile, missing or repeated;
    /oauth/token, /oauth/revoke and /oauth/introspect with hostile forms and client
    authentication right, wrong, malformed or missing (INTERFACE.md §1)."""
    authorize = mutated(
        {
            "response_type": RESPONSE_TYPES[0],
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "scope": " ".join(SCOPES),
            "state": "xyz",
            "code_challenge": "a" * 43,
            "code_challenge_method": _S256,
        },
        {
            "state": hostile_text(),
            # RFC 7636's other method (refused), the right one misspelt or cut.
            "code_challenge_method": st.sampled_from(["plain", _S256.lower(), "", _S256 + "\x00"]),
        },
    )
    basic = st.one_of(
        st.just(f"{CLIENT_ID}:{CLIENT_SECRET}"),
        st.builds(lambda a, b: f"{a}:{b}", hostile_text(), hostile_text()),
    ).map(lambda text: "Basic " + _base64(text))
    client_auth = st.one_of(
        basic,
        # No credentials, not base64, the wrong scheme, the client id alone in lower case.
        st.sampled_from(
            ["", "Basic", "Basic !!!", "Basic ==", "Bearer x", "basic " + _base64(CLIENT_ID)]
        ),
        header_text().map(lambda t: "Basic " + t),
    )

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        path = draw(st.sampled_from([AUTHORIZE_PATH, TOKEN_PATH, REVOKE_PATH, INTROSPECT_PATH]))
        headers = draw(accepts())
        if path == AUTHORIZE_PATH:
            query = urlencode(draw(authorize))
            if draw(st.booleans()):
                query += "&" + draw(st.sampled_from(["client_id=%FF", "scope=%C0%AF", "%00=1"]))
            request = requests.Request("GET", f"{bench.url}{path}?{query}", headers=headers)
            return f"GET {path}", request, None
        tokens = bench.tokens() if draw(st.integers(0, 3)) == 0 else {}
        real = str(tokens.get("refresh_token") or tokens.get("access_token") or "")
        # Every parameter any of the three endpoints reads, and the client's
        # credentials in the form (client_secret_post) beside the header's.
        fields = {
            "grant_type": draw(st.sampled_from(GRANT_TYPES)),
            "code": "x" * 30,
            "redirect_uri": REDIRECT,
            "code_verifier": "v" * 50,
            "refresh_token": real or "r" * 40,
            "token": real or "t" * 40,
            "token_type_hint": draw(st.sampled_from(TOKEN_TYPE_HINTS)),
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        body, kind = draw(bodies(fields))
        auth = draw(st.one_of(st.none(), client_auth))
        if auth is not None:
            headers = {**headers, "Authorization": auth}
        request = requests.Request("POST", bench.url + path, headers={**headers, **kind}, data=body)
        return f"POST {path}", request, None

    return build()


def api_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """The account API (INTERFACE.md §5) with a valid, missing, malformed or foreign
    bearer token, and hostile, repeated or reversed parameters."""
    params = mutated(
        {
            "accountId": ACCOUNT_KEY,
            "dateFrom": "2026-10-01",
            "dateTo": "2026-11-24",
            "nextItemKey": None,
        },
        {"nextItemKey": hostile_text(), "dateFrom": near("2026-08-01")},
    )

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        path = draw(st.sampled_from([api.ACCOUNTS_PATH, api.BALANCES_PATH, api.TRANSACTIONS_PATH]))
        method = draw(st.sampled_from(["GET", "GET", "GET", "GET", "POST", "DELETE"]))
        kind = draw(st.sampled_from(["valid", "valid", "none", "garbage", "scheme", "admin"]))
        token = ""
        if kind == "valid":
            token = "Bearer " + str(bench.tokens()["access_token"])
        elif kind == "garbage":
            token = "Bearer " + draw(header_text())
        elif kind == "scheme":
            token = draw(
                st.sampled_from(
                    [
                        CLIENT_BASIC,
                        "bearer",
                        "Bearer",
                        "Bearer  ",
                        "Token x",
                        "Bearer a b",
                    ]
                )
            )
        elif kind == "admin":
            token = "Bearer " + bench.admin_token
        headers = {**draw(accepts()), **({"Authorization": token} if token else {})}
        query = urlencode(draw(params))
        body, body_kind = (None, {}) if method == "GET" else draw(bodies({}))
        request = requests.Request(
            method, f"{bench.url}{path}?{query}", headers={**headers, **body_kind}, data=body
        )
        return f"{method} {path}", request, None

    return build()


def telephony_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """The telephony gateway (INTERFACE.md §4) with hostile JSON, most with a right
    credential (the secret, or the admin token as Bearer), so that the body reaches
    the checks behind the 401; the rest with none, a wrong secret or a wrong token."""

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        fields = {
            "from": PERSON["phone"],
            "to": telephony.SHOW_PREFIX + "0120111111",
            "caller_id": telephony.SHOWN,
        }
        body, kind = draw(bodies(fields))
        headers = {**draw(accepts()), **kind}
        credential = draw(
            st.sampled_from(["secret", "secret", "admin", "admin", "none", "wrong", "bearer"])
        )
        if credential == "secret" and bench.telephony_secret:
            headers[telephony.SECRET_HEADER] = bench.telephony_secret
        elif credential in ("secret", "admin"):
            headers["Authorization"] = "Bearer " + bench.admin_token
        elif credential == "wrong":
            headers[telephony.SECRET_HEADER] = draw(header_text())
        elif credential == "bearer":
            headers["Authorization"] = "Bearer " + draw(header_text())
        request = requests.Request(
            "POST", bench.url + telephony.CALLS_PATH, headers=headers, data=body
        )
        return f"POST {telephony.CALLS_PATH}", request, None

    return build()


#: The controls of INTERFACE.md §6 with the fields of their JSON bodies (right values).
#: A path naming a thing is its template, ``{account}`` or ``{id}`` filled in per request.
CONTROLS_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", controls.CLOCK_PATH): {},
    ("PUT", controls.CLOCK_PATH): {"now": BASELINE_NOW, "frozen": True},
    ("DELETE", controls.CLOCK_PATH): {},
    ("POST", controls.CLOCK_ADVANCE_PATH): {"seconds": 60},
    ("GET", controls.FAULTS_PATH): {},
    ("PUT", controls.FAULTS_PATH): {controls.CONGESTION: False, controls.SYSTEM_ERROR: False},
    ("POST", controls.MAINTENANCE_PATH): {
        "start": "2026-11-25T01:00:00+09:00",
        "end": "2026-11-25T02:00:00+09:00",
        "label": "テスト",
    },
    ("GET", controls.MAINTENANCE_PATH): {},
    ("POST", controls.RESET_PATH): {"today": "2026-11-24"},
    ("GET", controls.MAIL_PATH): {},
    ("GET", controls.OPLOG_PATH): {},
    ("GET", controls.LOCKS_PATH): {},
    ("DELETE", controls.lock_path("{account}")): {},
    ("GET", controls.GRANTS_PATH): {},
    ("POST", controls.revoke_path("{id}")): {},
    ("POST", controls.uninstall_path("{id}")): {},
    ("POST", controls.MOVE_PATH): {
        "from": dict(ACCOUNT),
        "to": {"branch_no": "022", "account_type": "1", "account_no": "7654321"},
    },
}


def control_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """The sandbox and operator controls (INTERFACE.md §6): with the admin token,
    without, or with a wrong one; JSON bodies with right, hostile or wrongly typed
    values; hostile path segments."""

    def value(right: Any) -> st.SearchStrategy[Any]:
        if isinstance(right, dict):
            return st.one_of(
                st.fixed_dictionaries({k: value(v) for k, v in right.items()}), json_value()
            )
        if isinstance(right, str):
            return st.one_of(near(right), json_value())
        return st.one_of(st.just(right), json_value())

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        method, template = draw(st.sampled_from(sorted(CONTROLS_FIELDS)))
        right = CONTROLS_FIELDS[(method, template)]
        segment = quote(draw(st.one_of(st.just(ACCOUNT_KEY), hostile_text())), safe="")
        path = template.replace("{account}", segment).replace("{id}", segment)
        auth = draw(st.sampled_from(["valid", "valid", "valid", "none", "wrong"]))
        headers = draw(accepts())
        if auth == "valid":
            headers["Authorization"] = f"Bearer {bench.admin_token}"
        elif auth == "wrong":
            headers["Authorization"] = "Bearer " + draw(header_text())
        shape = draw(st.sampled_from(["fields", "fields", "other"]))
        if shape == "fields" and right:
            data = draw(st.fixed_dictionaries({}, optional={k: value(v) for k, v in right.items()}))
            body: bytes | None = json.dumps(data).encode()
            kind = {"Content-Type": "application/json"}
        elif shape == "fields":
            body, kind = None, {}
        else:
            body, kind = draw(bodies({k: json.dumps(v) for k, v in right.items()}))
        request = requests.Request(method, bench.url + path, headers={**headers, **kind}, data=body)
        return f"{method} {template}", request, None

    return build()


#: Every group of endpoints, by the name ``fuzz_forms`` takes.
GROUPS: dict[str, Callable[[Bench], st.SearchStrategy[Generated]]] = {
    "screens": screen_requests,
    "oauth": oauth_requests,
    "api": api_requests,
    "telephony": telephony_requests,
    "controls": control_requests,
}
