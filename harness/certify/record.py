"""What the recording proxy keeps of each request, and how it is shown with its
secrets masked.

An :class:`Exchange` holds the request and the answer as they passed through the
proxy, raw, in memory only: the judges compare codes, verifiers and tokens.
:func:`masked` is the only way an exchange leaves the process (the certificate,
the progress display): the client secret, PINs and cookies become ``***``;
codes, verifiers, tokens and CSRF tokens become a short SHA-256 fingerprint, so
that the evidence still shows that the same code was sent twice without showing
the code (R-AUTHZ-2: credentials are never disclosed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from renkei.contract import answers, oauth
from renkei.contract.screens import CSRF_FIELD

Role = Literal[
    "authorize",
    "token",
    "revoke",
    "introspect",
    "api",
    "screen",
    "telephony",
    "metadata",
    "control",
    "other",
]

#: Values that are never shown, not even as a fingerprint: a PIN has 10,000
#: values and a weak client secret few more, so a hash of either would give it away.
HIDDEN: Final = frozenset({"client_secret", "pin", "password"})
#: Secrets of high entropy, shown as a fingerprint so that reuse stays visible.
FINGERPRINTED: Final = frozenset(
    {"code", "code_verifier", "access_token", "refresh_token", "token", CSRF_FIELD, "id_token"}
)
HIDDEN_HEADERS: Final = frozenset({"cookie", "set-cookie", "proxy-authorization"})
#: Request headers worth keeping as evidence (the rest is the client library's noise).
KEPT_HEADERS: Final = frozenset(
    {"authorization", "content-type", "accept", "user-agent", "cookie", "host"}
)
KEPT_RESPONSE_HEADERS: Final = frozenset(
    {"location", "retry-after", "www-authenticate", "content-type", "set-cookie"}
)
RETURN_URL: Final = re.compile(r'href="([^"]*(?:error=|code=)[^"]*)"')


def fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]


def role_of(path: str) -> Role:
    if path == oauth.AUTHORIZE_PATH:
        return "authorize"
    if path == oauth.TOKEN_PATH:
        return "token"
    if path == oauth.REVOKE_PATH:
        return "revoke"
    if path == oauth.INTROSPECT_PATH:
        return "introspect"
    if path.startswith("/v1/"):
        return "api"
    if path.startswith("/connect/"):
        return "screen"
    if path.startswith("/telephony/"):
        return "telephony"
    if path.startswith("/.well-known/"):
        return "metadata"
    if path.startswith(("/sandbox/", "/admin/")):
        return "control"
    return "other"


def first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """A query or form as a dict, the first value of a repeated name winning."""
    out: dict[str, str] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


@dataclass
class Exchange:
    """One request through the proxy and its answer. Times are seconds since the
    run began (a monotonic clock): ``sent`` when the request reached the proxy,
    ``answered`` when its answer left it."""

    seq: int
    situation: str | None
    phase: str | None
    sent: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    body_json: Any = None
    answered: float = 0.0
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_json: Any = None
    #: what a screen showed: its screen ID and error codes (JSON or HTML alike)
    screen_id: str | None = None
    error_codes: tuple[str, ...] = ()
    #: the 「連携元画面へ」 target a screen offered (back to the app)
    return_url: str | None = None
    #: the proxy's own failure to reach the bank, if any
    failure: str | None = None
    #: what certify changed in the answer (the forged-state situation)
    tampered: dict[str, str] | None = None

    @property
    def role(self) -> Role:
        return role_of(self.path)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def response_header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.response_headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def bearer(self) -> str | None:
        auth = self.header("Authorization") or ""
        return auth[7:].strip() or None if auth.startswith("Bearer ") else None

    @property
    def basic(self) -> tuple[str, str] | None:
        """The client id and secret of an HTTP Basic ``Authorization`` (RFC 6749 §2.3.1)."""
        auth = self.header("Authorization") or ""
        if not auth.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user, password

    @property
    def client_id(self) -> str | None:
        """The client this request speaks for: the authorization request's
        ``client_id``, or the token endpoint's client authentication."""
        if self.role == "authorize":
            return self.query.get("client_id")
        basic = self.basic
        if basic is not None:
            return basic[0]
        return self.form.get("client_id")

    @property
    def location(self) -> str | None:
        return self.response_header("Location")

    @property
    def retry_after(self) -> float | None:
        value = self.response_header("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    @property
    def error_code(self) -> str | None:
        """``errorCode`` of an account API answer, ``error`` of an OAuth one."""
        return answers.error_code(self.response_json)

    def returned_to_app(self) -> dict[str, str] | None:
        """The query of the redirect or 「連携元画面へ」 link back to the app, if any."""
        target = None
        if self.location and urlsplit(self.location).scheme:
            target = self.location
        elif self.return_url:
            target = self.return_url
        if target is None:
            return None
        return first_values(parse_qsl(urlsplit(target).query))


def read_screen(exchange: Exchange, body: bytes, content_type: str) -> None:
    """Fill in what a screen showed from its JSON model or its HTML (INTERFACE.md §2)."""
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return
        exchange.response_json = parsed
        if isinstance(parsed, dict) and exchange.role in ("screen", "authorize"):
            screen = parsed.get("screen_id")
            exchange.screen_id = str(screen) if screen else None
            exchange.error_codes = tuple(answers.screen_error_codes(parsed))
            back = parsed.get("return_url")
            exchange.return_url = str(back) if back else None
    elif content_type.startswith("text/html") and exchange.role in ("screen", "authorize"):
        text = body.decode("utf-8", "replace")
        found = answers.HTML_SCREEN_ID.search(text)
        exchange.screen_id = (found.group(1) or None) if found else None
        exchange.error_codes = tuple(c for c in answers.html_error_codes(text) if c)
        back = RETURN_URL.search(text)
        exchange.return_url = back.group(1).replace("&amp;", "&") if back else None


# -- masking -------------------------------------------------------------------------------------


def mask_value(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return mask_json(value)
    if name in HIDDEN:
        return "***"
    if name in FINGERPRINTED:
        return fingerprint(value)
    if name in ("return_url", "location") or value.startswith(("http://", "https://")):
        return mask_url(value)
    return value


def mask_mapping(values: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_value(k, v) for k, v in values.items()}


def mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return mask_mapping(value)
    if isinstance(value, list):
        return [mask_json(v) for v in value]
    return value


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [(k, str(mask_value(k, v))) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe=":*")))


def mask_header(name: str, value: str) -> str:
    lowered = name.lower()
    if lowered in HIDDEN_HEADERS:
        return "***"
    if lowered == "authorization":
        scheme, _, credentials = value.partition(" ")
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(credentials, validate=True).decode("utf-8").split(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                return "Basic ***"
            return f"Basic {user}:***"
        return f"{scheme} {fingerprint(credentials)}" if credentials else scheme
    if lowered == "location":
        return mask_url(value)
    return value


def summarised(body: Any) -> Any:
    """A response body for the certificate: a page of 明細 keeps its paging fields
    and the number of items, not the items."""
    if isinstance(body, dict) and isinstance(body.get("transactions"), list):
        return {**body, "transactions": f"[{len(body['transactions'])} items]"}
    return body


def masked(e: Exchange) -> dict[str, Any]:
    """The exchange as evidence: JSON-ready, every secret masked."""
    out: dict[str, Any] = {
        "seq": e.seq,
        "phase": e.phase,
        "sent": round(e.sent, 3),
        "answered": round(e.answered, 3),
        "method": e.method,
        "path": e.path,
        "role": e.role,
    }
    if e.query:
        out["query"] = mask_mapping(e.query)
    headers = {k: mask_header(k, v) for k, v in e.headers.items() if k.lower() in KEPT_HEADERS}
    if headers:
        out["headers"] = headers
    if e.form:
        out["form"] = mask_mapping(e.form)
    if e.body_json is not None:
        out["json"] = mask_json(e.body_json)
    out["status"] = e.status
    answer_headers = {
        k: mask_header(k, v)
        for k, v in e.response_headers.items()
        if k.lower() in KEPT_RESPONSE_HEADERS
    }
    if answer_headers:
        out["response_headers"] = answer_headers
    if e.screen_id or e.error_codes:
        out["screen"] = {"screen_id": e.screen_id, "errors": list(e.error_codes)}
    if e.return_url:
        out["return_url"] = mask_url(e.return_url)
    elif e.response_json is not None and e.role not in ("screen", "authorize"):
        out["response"] = mask_json(summarised(e.response_json))
    if e.failure:
        out["failure"] = e.failure
    if e.tampered:
        out["tampered"] = mask_mapping(e.tampered)
    return out
