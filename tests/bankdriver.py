"""A small driver of the sandbox bank over HTTP for the end-to-end tests:
the partner app (OAuth with Authlib's client and PKCE), the customer's browser
(screens in JSON or HTML) and the customer's phone (the telephony gateway)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

REDIRECT = "http://127.0.0.1:8765/callback"
CUSTOMER = {
    "name_kana": "ﾃﾞｰﾀ ﾀﾛｳ",
    "birth_year": "1985",
    "birth_month": "04",
    "birth_day": "01",
    "phone": "09012343333",
    "email": "taro@example.jp",
    "email_confirm": "taro@example.jp",
}
ACCOUNT = {"branch_no": "115", "account_type": "1", "account_no": "1100026"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    location: str | None

    @property
    def codes(self) -> list[str]:
        return [e["code"] for e in self.body.get("errors", [])]


@dataclass
class Customer:
    """The customer's browser, speaking JSON to the screens."""

    base: str
    session: requests.Session = field(default_factory=requests.Session)
    csrf: str = ""

    def _answer(self, r: requests.Response) -> Answer:
        body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
        if body.get("csrf_token"):
            self.csrf = body["csrf_token"]
        return Answer(r.status_code, body, dict(r.headers), r.headers.get("Location"))

    def get(self, path: str) -> Answer:
        r = self.session.get(
            self.base + path,
            headers={"Accept": "application/json"},
            allow_redirects=False,
            timeout=10,
        )
        return self._answer(r)

    def post(self, path: str, data: dict[str, str] | None = None) -> Answer:
        form = {"csrf_token": self.csrf, **(data or {})}
        r = self.session.post(
            self.base + path,
            data=form,
            headers={"Accept": "application/json"},
            allow_redirects=False,
            timeout=10,
        )
        return self._answer(r)


@dataclass
class PartnerApp:
    base: str
    client_id: str = "creco"
    client_secret: str = "creco-secret"
    scope: str = "accounts transactions"

    def __post_init__(self) -> None:
        self.oauth = OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=self.scope,
            redirect_uri=REDIRECT,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(16)

    def authorize_url(self) -> str:
        url, _ = self.oauth.create_authorization_url(
            self.base + "/oauth/authorize", state=self.state, code_verifier=self.verifier
        )
        return str(url)

    def exchange(self, callback: str) -> dict[str, Any]:
        token = self.oauth.fetch_token(
            self.base + "/oauth/token",
            authorization_response=callback,
            code_verifier=self.verifier,
            state=self.state,
        )
        return dict(token)

    def refresh(self, refresh_token: str) -> requests.Response:
        return requests.post(
            self.base + "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )

    def api(self, access_token: str, path: str, **params: str) -> requests.Response:
        return requests.get(
            self.base + path,
            params=params,
            timeout=10,
            headers={"Authorization": f"Bearer {access_token}"},
        )


def call(base: str, caller: str, to: str, caller_id: str = "shown") -> dict[str, Any]:
    """The customer's phone rings the 認証先電話番号 (the carrier reports it)."""
    r = requests.post(
        base + "/telephony/calls",
        json={"from": caller, "to": to, "caller_id": caller_id},
        timeout=10,
    )
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def csrf_from_html(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def walk_json(
    base: str,
    app: PartnerApp,
    customer: Customer,
    until: str = "SOA206",
    account: dict[str, str] | None = None,
    person: dict[str, str] | None = None,
    pin: str = "1357",
) -> Answer:
    """Walk the flow in JSON with right answers until screen ``until`` is shown."""
    r = customer.session.get(app.authorize_url(), allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text
    steps: list[tuple[str, str, dict[str, str] | None]] = [
        ("SOA201", "/connect/account", account or ACCOUNT),
        ("SOA202", "/connect/customer", person or CUSTOMER),
        ("SOA208", "/connect/phone", None),
        ("SOA209", "/connect/call", None),
        ("SOA211", "/connect/pin", {"pin": pin}),
    ]
    for screen, path, data in steps:
        shown = customer.get(path)
        assert shown.status == 200 and shown.body["screen_id"] == screen, shown
        if screen == until:
            return shown
        if screen == "SOA209":
            phone = (person or CUSTOMER)["phone"]
            assert call(base, phone, shown.body["call_to"])["verified"]
        done = customer.post(path, data)
        assert done.status == 303, done
    shown = customer.get("/connect/consent")
    assert shown.body["screen_id"] == "SOA206"
    return shown


def link(base: str) -> tuple[PartnerApp, dict[str, Any]]:
    """The manual's customer links the app end to end; answers the app and its tokens."""
    app, customer = PartnerApp(base), Customer(base)
    walk_json(base, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.status == 302 and done.location, done
    return app, app.exchange(done.location)
