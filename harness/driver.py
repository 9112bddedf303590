"""A driver of any 「API連携認証」 implementation, through its public interface only.

It plays the three parties of INTERFACE.md: the partner app (OAuth 2.0 with
PKCE S256 and ``state``, through Authlib's client; the account API), the
customer's browser (the screens in JSON, or in HTML form posts) and the
customer's phone (the telephony gateway), plus the tester's hand on the
sandbox controls (§6). It imports nothing of ``simulator``: the same driver
runs against the embedded sandbox or any ``--target`` URL, the base of a
server (``http://host:8000``) or of one of its sandboxes
(``http://host:8000/s/ID``, INTERFACE.md §9); :class:`Platform` creates and
deletes sandboxes.

Each party keeps one HTTP session (keep-alive connections) for all its calls,
as a real client would; ``close()`` ends it. Only the customer's browser keeps
cookies (the flow cookie of the screens, §2); the partner app's server, the
phone network and the tester's controls send none, as when every call had a
session of its own.
"""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Final, Protocol
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

from renkei.contract import controls, oauth, sandboxes, telephony
from renkei.contract.screens import CSRF_FIELD

TIMEOUT = 10
JSON = {"Accept": "application/json"}
#: The switches of PUT /sandbox/faults (INTERFACE.md §6).
FAULTS = controls.FAULT_SWITCHES


class Party(requests.Session):
    """One party's keep-alive session.

    requests reads the proxy variables and the CA bundle from the environment
    again for every call; a party talks to one target, so they are read once per
    origin here (the same values: the environment does not change during a run).
    ``cookies=False`` refuses every cookie (an empty list of allowed domains).
    """

    def __init__(self, *, cookies: bool = True) -> None:
        super().__init__()
        if not cookies:
            self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._environment: dict[str, dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        # Typed loosely: types-requests' signature of this method changes between
        # releases, and it is requests' own hook, called only by requests.
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        origin = "{}://{}".format(*urlsplit(str(url))[:2])
        if origin not in self._environment:
            self._environment[origin] = dict(
                super().merge_environment_settings(url, {}, None, None, None)
            )
        settings = self._environment[origin]
        return {**settings, "proxies": dict(settings["proxies"])}

    def rebuild_proxies(self, prepared_request: Any, proxies: Any) -> Any:
        # A redirect followed reads the environment again too: not when the target's
        # origin has no proxy (the environment does not change during a run), and
        # then no proxy's credentials go along either.
        target = prepared_request.url
        if (
            not proxies
            and not self.merge_environment_settings(target, {}, None, None, None)["proxies"]
        ):
            prepared_request.headers.pop("Proxy-Authorization", None)
            return {}
        return super().rebuild_proxies(prepared_request, proxies)  # type: ignore[no-untyped-call]


def cookieless_session() -> requests.Session:
    """A keep-alive session for a party that keeps no cookies."""
    return Party(cookies=False)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL: where the paths the target answers with
    (a ``Location``, a link in a body) start from."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def url_in(base: str, path: str) -> str:
    """Where a browser goes for ``path`` on the target at ``base``.

    ``path`` is either one of the contract's paths (``/connect/account``), which
    is relative to the base, or a path the target answered with, which is
    relative to its origin and, in a sandbox, already carries the sandbox's
    prefix (``/s/ID/connect/account``, §9). An absolute URL is kept.
    """
    if not path.startswith("/"):
        return path
    prefix = urlsplit(base).path.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return origin_of(base) + path
    return base + path


def query(url: str) -> dict[str, str]:
    """The query of a redirect, as a plain dict."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Answer:
    """One answer of a screen: status, JSON model, headers, and where a 30x goes."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    location: str | None
    text: str = ""

    @property
    def codes(self) -> list[str]:
        return [e["code"] for e in self.body.get("errors", [])]

    @property
    def screen_id(self) -> str | None:
        value = self.body.get("screen_id")
        return str(value) if value is not None else None


@dataclass
class Browser:
    """The customer's browser, asking for the JSON form of each screen."""

    base: str
    session: requests.Session = field(default_factory=Party)
    csrf: str = ""

    def _answer(self, r: requests.Response) -> Answer:
        body: dict[str, Any] = {}
        if r.headers.get("Content-Type", "").startswith("application/json"):
            parsed = r.json()
            body = parsed if isinstance(parsed, dict) else {}
        if body.get(CSRF_FIELD):
            self.csrf = body[CSRF_FIELD]
        return Answer(r.status_code, body, dict(r.headers), r.headers.get("Location"), r.text)

    def open(self, url: str) -> Answer:
        """Follow a link (absolute, or a path of the target: :func:`url_in`)."""
        full = url_in(self.base, url)
        return self._answer(
            self.session.get(full, headers=JSON, allow_redirects=False, timeout=TIMEOUT)
        )

    def get(self, path: str) -> Answer:
        return self.open(path)

    def post(self, path: str, data: dict[str, str] | None = None) -> Answer:
        form = {CSRF_FIELD: self.csrf, **(data or {})}
        r = self.session.post(
            url_in(self.base, path),
            data=form,
            headers=JSON,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        return self._answer(r)

    def follow(self, answer: Answer) -> Answer:
        """Where a browser is after ``answer``: a 303 to another screen of the bank
        is followed (one GET); anything else, a redirect back to the partner app
        included, leaves it at ``answer``."""
        if answer.status == 303 and answer.location and answer.location.startswith("/"):
            return self.get(answer.location)
        return answer

    def html(self, path: str) -> requests.Response:
        """A screen as the HTML a person sees."""
        return self.session.get(url_in(self.base, path), timeout=TIMEOUT)

    def close(self) -> None:
        self.session.close()


def discard_sandbox(origin: str, token: str | None, made: SandboxInfo, command: str) -> bool:
    """Delete the sandbox a tool made for its own run, at the run's end; True when done.

    A failure to delete is one line on stderr and no error: what the tool wrote
    (a certificate, a comparison, a load) stands, and a sandbox left behind goes
    at its TTL, which the line names."""
    platform = Platform(origin, token)
    try:
        platform.delete(made.id)
        return True
    except (SandboxRefused, requests.RequestException) as error:
        print(
            f"renkei {command}: sandbox {made.id} not deleted ({type(error).__name__}); it "
            f"expires at {made.expires_at}",
            file=sys.stderr,
            flush=True,
        )
        return False
    finally:
        platform.close()


@dataclass
class PartnerApp:
    """A registered partner app: PKCE S256 with a fresh verifier and ``state`` each time."""

    base: str
    client_id: str = "creco"
    client_secret: str = "creco-secret"
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    scope: str = " ".join(oauth.SCOPES)

    def __post_init__(self) -> None:
        self.oauth = OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=self.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method=oauth.CODE_CHALLENGE_METHODS[0],
            token_endpoint_auth_method=oauth.CLIENT_AUTH_METHODS[0],
        )
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(16)
        #: The app server's own calls (token endpoint with a form, account API with
        #: a given token); Authlib's session would put its own token on them.
        self.http = cookieless_session()

    def close(self) -> None:
        self.oauth.close()
        self.http.close()

    def authorize_url(self) -> str:
        url, _ = self.oauth.create_authorization_url(
            self.base + oauth.AUTHORIZE_PATH, state=self.state, code_verifier=self.verifier
        )
        return str(url)

    def exchange(self, callback: str) -> dict[str, Any]:
        """The code of ``callback`` for tokens; ``state`` is checked first."""
        if query(callback).get("state") != self.state:
            raise AssertionError(f"state does not match in {callback}")
        token = self.oauth.fetch_token(
            self.base + oauth.TOKEN_PATH,
            authorization_response=callback,
            code_verifier=self.verifier,
            state=self.state,
        )
        return dict(token)

    def token_request(self, **form: str) -> requests.Response:
        return self.http.post(
            self.base + oauth.TOKEN_PATH,
            data=form,
            timeout=TIMEOUT,
            auth=(self.client_id, self.client_secret),
        )

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.token_request(grant_type="refresh_token", refresh_token=refresh_token)

    def api(self, access_token: str, path: str, **params: str) -> requests.Response:
        return self.http.get(
            self.base + path,
            params=params,
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {access_token}"},
        )


def gateway_credential(secret: str, admin_token: str = "") -> dict[str, str]:
    """The header that lets a call through the telephony gateway (§4): its secret
    when known, else the sandbox's admin token as a Bearer token; none when
    neither is (the gateway then answers 401)."""
    if secret:
        return {telephony.SECRET_HEADER: secret}
    if admin_token:
        return {"Authorization": f"Bearer {admin_token}"}
    return {}


class Reached(Protocol):
    """What a phone needs of the target it calls (``harness.embedded.Target``)."""

    @property
    def url(self) -> str: ...
    @property
    def admin_token(self) -> str: ...
    @property
    def telephony_secret(self) -> str: ...


@dataclass
class Phone:
    """The customer's phone: each call is reported to the telephony gateway (§4)."""

    base: str
    number: str
    session: requests.Session = field(default_factory=cookieless_session)
    #: The gateway's secret, which every call carries (§4): the server's, or a
    #: sandbox's own ``telephony_secret`` (§9).
    secret: str = ""
    #: The sandbox's admin token, sent as ``Authorization: Bearer`` instead when the
    #: secret is not known (a target given by its URL and admin token alone).
    admin_token: str = ""

    @classmethod
    def of(cls, target: Reached, number: str, session: requests.Session | None = None) -> Phone:
        """The phone ``number`` calling the gateway of ``target`` with its credential."""
        return cls(
            target.url,
            number,
            session or cookieless_session(),
            target.telephony_secret,
            target.admin_token,
        )

    def credential(self) -> dict[str, str]:
        """The header that lets the call through the gateway (:func:`gateway_credential`)."""
        return gateway_credential(self.secret, self.admin_token)

    def call(self, dialled: str, caller_id: str = telephony.SHOWN) -> dict[str, Any]:
        r = self.session.post(
            self.base + telephony.CALLS_PATH,
            timeout=TIMEOUT,
            json={"from": self.number, "to": dialled, "caller_id": caller_id},
            headers=self.credential(),
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def close(self) -> None:
        self.session.close()


def _all_off(r: requests.Response) -> bool:
    """Whether an answer of PUT /sandbox/faults (the switches) or POST /sandbox/reset
    (the switches under ``faults``) shows every fault off; False when it does not say."""
    try:
        body = r.json()
    except ValueError:
        return False
    state = body.get("faults", body) if isinstance(body, dict) else None
    return isinstance(state, dict) and all(state.get(name) is False for name in FAULTS)


#: The clock's paths: a request to any of them but a GET may move the clock.
_CLOCK_PATHS: Final = (controls.CLOCK_PATH, controls.CLOCK_ADVANCE_PATH, controls.RESET_PATH)


@dataclass
class Sandbox:
    """The tester's controls (§6), with the admin token."""

    base: str
    token: str
    session: requests.Session = field(default_factory=cookieless_session)
    #: Whether the target's last answer about the faults (PUT /sandbox/faults or
    #: POST /sandbox/reset, through this object) said all were off.
    faults_known_off: bool = False
    #: The instant the clock was last frozen at through this object (PUT
    #: /sandbox/clock answered 200), until a request that may move it.
    clock_known: str | None = None

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **json: Any) -> requests.Response:
        changes_faults = method != "GET" and path in (controls.FAULTS_PATH, controls.RESET_PATH)
        if changes_faults:
            self.faults_known_off = False  # until the answer says so: it may never come
        if method != "GET" and path in _CLOCK_PATHS:
            self.clock_known = None
        r = self.session.request(
            method,
            self.base + path,
            json=json if json else None,
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if changes_faults and r.status_code == 200:
            self.faults_known_off = _all_off(r)
        return r

    def _ok(self, method: str, path: str, **json: Any) -> dict[str, Any]:
        r = self.request(method, path, **json)
        if r.status_code != 200:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        body: dict[str, Any] = r.json()
        return body

    def set_clock(self, now: str, frozen: bool = True) -> dict[str, Any]:
        body = self._ok("PUT", controls.CLOCK_PATH, now=now, frozen=frozen)
        self.clock_known = now if frozen else None
        return body

    def frozen_at(self, now: str) -> None:
        """The clock frozen at ``now``, as :meth:`set_clock`; without a call when it
        was frozen there through this object and nothing since may have moved it
        (a frozen clock stands still: only the controls move it)."""
        if self.clock_known != now:
            self.set_clock(now)

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._ok("POST", controls.CLOCK_ADVANCE_PATH, seconds=seconds)

    def faults(self, **switches: bool) -> dict[str, Any]:
        base = dict.fromkeys(FAULTS, False)
        return self._ok("PUT", controls.FAULTS_PATH, **{**base, **switches})

    def faults_off(self) -> None:
        """Every fault off, as :meth:`faults` with no switch; without a call when the
        target's last answer about them, to this object, already said so."""
        if not self.faults_known_off:
            self.faults()

    def maintenance(self, start: str, end: str) -> dict[str, Any]:
        return self._ok("POST", controls.MAINTENANCE_PATH, start=start, end=end)

    def reset(self) -> dict[str, Any]:
        return self._ok("POST", controls.RESET_PATH)

    def unlock(self, account: str) -> None:
        self.request("DELETE", controls.lock_path(account))

    def locks(self) -> list[dict[str, Any]]:
        return list(self._ok("GET", controls.LOCKS_PATH)["locks"])

    def grants(self) -> list[dict[str, Any]]:
        return list(self._ok("GET", controls.GRANTS_PATH)["grants"])

    def revoke(self, grant_id: str) -> dict[str, Any]:
        return self._ok("POST", controls.revoke_path(grant_id))

    def move(self, old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
        return self._ok("POST", controls.MOVE_PATH, **{"from": old, "to": new})

    def mail(self) -> list[dict[str, Any]]:
        return list(self._ok("GET", controls.MAIL_PATH)["mail"])

    def oplog(self) -> list[dict[str, Any]]:
        return list(self._ok("GET", controls.OPLOG_PATH)["entries"])


def csrf_from_html(html: str) -> str:
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', html)
    if not found:
        raise AssertionError("no CSRF token in the page")
    return found.group(1)


SANDBOXES_PATH: Final = sandboxes.SANDBOXES_PATH


class NoSandboxes(Exception):
    """The target does not serve INTERFACE.md §9 (``POST /sandboxes`` answered 404 or 405)."""


class SandboxRefused(Exception):
    """``POST /sandboxes`` answered something else than 201 (the operator's token
    refused, the server full, a bad body): the status and the answer's text."""

    def __init__(self, status: int, text: str, call: str = f"POST {SANDBOXES_PATH}") -> None:
        super().__init__(f"{call} answered {status}: {text[:300]}")
        self.status = status


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox ``POST /sandboxes`` made (its 201 answer, §9)."""

    id: str
    base_url: str
    issuer: str
    admin_token: str
    telephony_secret: str
    expires_at: str
    scenario: str


@dataclass
class Platform:
    """The operator's hand on a server's sandboxes (INTERFACE.md §9): ``origin`` is
    the server's base URL, ``token`` the operator's (the server's admin token)."""

    origin: str
    token: str | None = None
    session: requests.Session = field(default_factory=cookieless_session)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def create(
        self,
        scenario: str = "default",
        *,
        yaml: str | None = None,
        label: str = "",
        ttl_seconds: int | None = None,
    ) -> SandboxInfo:
        """A new sandbox from a scenario the server ships, by name, or from ``yaml``
        (a scenario's text, sent inline); NoSandboxes when the target has no §9,
        SandboxRefused for any other refusal."""
        body: dict[str, Any] = {sandboxes.SCENARIO: {sandboxes.YAML: yaml} if yaml else scenario}
        if label:
            body[sandboxes.LABEL] = label
        if ttl_seconds is not None:
            body[sandboxes.TTL_SECONDS] = ttl_seconds
        r = self.session.post(
            self.origin + SANDBOXES_PATH, json=body, headers=self._headers(), timeout=TIMEOUT
        )
        if r.status_code in (404, 405):
            raise NoSandboxes(f"{self.origin} does not serve {SANDBOXES_PATH} ({r.status_code})")
        if r.status_code != 201:
            raise SandboxRefused(r.status_code, r.text)
        made = r.json()
        return SandboxInfo(**{name: str(made[name]) for name in sandboxes.CREATED_FIELDS})

    def delete(self, sandbox_id: str) -> bool:
        """``DELETE /sandboxes/{id}``: True when it was there (204), False when it was not."""
        path = sandboxes.sandbox_path(sandbox_id)
        r = self.session.delete(self.origin + path, headers=self._headers(), timeout=TIMEOUT)
        if r.status_code not in (204, 404):
            raise SandboxRefused(r.status_code, r.text, f"DELETE {path}")
        return r.status_code == 204

    def close(self) -> None:
        self.session.close()
