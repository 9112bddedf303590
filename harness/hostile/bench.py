"""The stateful HTTP bench: a target under fuzzing, kept at a known state.

:class:`Bench` sends each generated request, has its answer judged
(:func:`.verdict.faults_of`) and counted (:class:`.census.Census`), and then
undoes what the request changed, so that a fuzzed ``PUT /sandbox/faults`` cannot
switch on the system error for the requests after it (INTERFACE.md §6). It also
holds what the generators need to reach the deep checks: flows of the manual's
customer standing on each screen (§2) and the tokens of a grant (§1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from harness.driver import Browser, PartnerApp, Phone, Sandbox, cookieless_session
from renkei.contract import controls
from renkei.contract.errors import ERRORS, LEAVES_SCREEN
from renkei.contract.oauth import AUTHORIZE_PATH, METADATA_PATH, REVOKE_PATH, TOKEN_PATH
from renkei.contract.screens import FLOW_COOKIE, SCREEN_PATHS, SCREENS, Screen

from .baseline import (
    ACCOUNT_KEY,
    BASELINE_NOW,
    PERSON,
    SCREEN_FIELDS,
    SCREENS_UNDER,
)
from .census import Census
from .verdict import Seen, error_codes, faults_of

#: Seconds to wait for an answer; none by then is a failure (:meth:`Bench.unanswered`).
TIMEOUT = 30
_CALL_PATH = SCREENS[Screen.CALL].path
_CONSENT_PATH = SCREENS[Screen.CONSENT].path
_CSRF_FAILED = ERRORS["csrf_failed"].code


class TargetGone(RuntimeError):
    """The target stopped answering (its process died): nothing more can be sent."""


@dataclass
class FlowKeys:
    """What lets a request act in a flow the bench holds: the flow cookie and the
    screen's CSRF token (INTERFACE.md §2)."""

    cookie: str
    csrf: str


class Bench:
    """A target under fuzzing: sends and judges requests, and puts the target back
    to the baseline (clock, faults, data) when a generated request changed it."""

    def __init__(
        self,
        url: str,
        admin_token: str,
        census: Census | None = None,
        telephony_secret: str = "",
    ) -> None:
        """``telephony_secret``: the gateway's (§4), when known; its calls otherwise
        carry the admin token."""
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.telephony_secret = telephony_secret
        self.census = census or Census()
        self.http = cookieless_session()
        self.sandbox = Sandbox(self.url, admin_token)
        self._count(self.sandbox.session)
        self._flows: dict[str, FlowKeys] = {}
        self._tokens: dict[str, Any] | None = None
        #: Flows started since the last reset: the host's capacity (R-ERR-SYS-2)
        #: would answer ``congested`` once 200 are in progress.
        self._started = 0

    def _count(self, session: requests.Session) -> None:
        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            self.census.support += 1

        session.hooks["response"].append(hook)

    def close(self) -> None:
        self.http.close()
        self.sandbox.close()

    # -- state -----------------------------------------------------------------------

    def baseline(self) -> None:
        """Faults off, the clock at :data:`~.baseline.BASELINE_NOW`, frozen."""
        self.sandbox.faults()
        self.sandbox.set_clock(BASELINE_NOW)

    def restore(self) -> None:
        """Back to the scenario's data and the baseline; every flow and token is gone."""
        self.sandbox.reset()
        self.baseline()
        self._flows.clear()
        self._tokens = None
        self._started = 0

    def _browser(self) -> Browser:
        browser = Browser(self.url)
        self._count(browser.session)
        return browser

    def _app(self) -> PartnerApp:
        app = PartnerApp(self.url)
        self._count(app.oauth)
        self._count(app.http)
        return app

    def _walk(self, until: str) -> tuple[Browser, PartnerApp] | None:
        """A new flow of the manual's customer, shown ``until`` (a screen path);
        None when the host refused a step (a lock after generated identity failures:
        unlocked for the next try)."""
        if until not in SCREEN_PATHS.values():
            raise ValueError(f"not a screen: {until}")
        if self._started >= 150:
            self.restore()
        browser, app = self._browser(), self._app()
        self._started += 1
        r = browser.session.get(app.authorize_url(), allow_redirects=False, timeout=TIMEOUT)
        if r.status_code != 303:
            self._failed_walk(browser, app)
            return None
        for path in SCREEN_PATHS.values():
            shown = browser.get(path)
            if shown.status != 200:
                self._failed_walk(browser, app)
                return None
            if path == until:
                break
            if path == _CALL_PATH:
                phone = Phone(
                    self.url,
                    PERSON["phone"],
                    secret=self.telephony_secret,
                    admin_token=self.admin_token,
                )
                self._count(phone.session)
                phone.call(str(shown.body["call_to"]))
                phone.close()
            done = browser.post(path, SCREEN_FIELDS[path])
            if done.status != 303:
                self._failed_walk(browser, app)
                return None
        return browser, app

    def _failed_walk(self, browser: Browser, app: PartnerApp) -> None:
        browser.close()
        app.close()
        self.sandbox.unlock(ACCOUNT_KEY)
        if self._started >= 100:
            self.restore()
        else:
            self.baseline()

    def flow_at(self, path: str) -> FlowKeys | None:
        """A flow of the manual's customer standing on the screen at ``path`` (kept
        for the next request while it stays there)."""
        if path in self._flows:
            return self._flows[path]
        for _ in range(3):
            walked = self._walk(path)
            if walked is not None:
                browser, app = walked
                flow = FlowKeys(browser.session.cookies.get(FLOW_COOKIE) or "", browser.csrf)
                browser.close()
                app.close()
                self._flows[path] = flow
                return flow
        return None

    def forget_flow(self, path: str) -> None:
        self._flows.pop(path, None)

    def tokens(self) -> dict[str, Any]:
        """Tokens of a grant of the manual's customer (linked anew when needed)."""
        if self._tokens is None:
            walked = self._walk(_CONSENT_PATH)
            if walked is None:
                raise RuntimeError("could not link the manual's customer")
            browser, app = walked
            done = browser.post(_CONSENT_PATH, SCREEN_FIELDS[_CONSENT_PATH])
            if done.status != 302 or not done.location:
                raise RuntimeError(f"consent: {done.status} {done.text[:200]}")
            self._tokens = app.exchange(done.location)
            browser.close()
            app.close()
        return self._tokens

    def tokens_spent(self) -> None:
        self._tokens = None

    # -- sending -------------------------------------------------------------------------

    def send(self, endpoint: str, request: requests.Request) -> requests.Response | None:
        """Send one generated request, judge and count its answer, then undo what it
        changed (:meth:`after`); None when it got no answer (:meth:`unanswered`)."""
        prepared = self.http.prepare_request(request)
        try:
            response = self.http.send(prepared, allow_redirects=False, timeout=TIMEOUT)
        except requests.RequestException as error:
            self.unanswered(endpoint, describe(prepared), error)
            return None
        self.census.record(
            endpoint,
            response.status_code,
            faults_of(Seen.of(response), self.url),
            describe(prepared),
        )
        self.after(
            prepared.method or "GET", urlsplit(prepared.url or "").path, response.status_code
        )
        return response

    def unanswered(self, endpoint: str, example: str, error: Exception) -> None:
        """A request that got no answer at all (connection closed or refused, no
        answer in :data:`TIMEOUT` seconds) is a failure, recorded as status 0; when the
        target answers nothing any more, :class:`TargetGone`."""
        self.census.record(endpoint, 0, [f"no answer ({error.__class__.__name__})"], example)
        try:
            self.http.get(self.url + METADATA_PATH, timeout=TIMEOUT)
        except requests.RequestException:
            raise TargetGone(f"{self.url} stopped answering after {example[:300]}") from error

    def after(self, method: str, path: str, status: int) -> None:
        """Put back what a generated request changed, so that the next starts from
        the baseline: faults off, the clock frozen, the scenario's data."""
        if status >= 300 or method in ("GET", "HEAD", "OPTIONS"):
            if path.startswith("/v1/") and status == 401:
                self.tokens_spent()  # a generated revoke may have ended the grant
            return
        if path in (controls.FAULTS_PATH, controls.CLOCK_PATH, controls.CLOCK_ADVANCE_PATH):
            self.baseline()
        elif path.startswith(("/sandbox/", controls.MOVE_PATH, controls.GRANTS_PATH)):
            self.restore()  # reset, maintenance, move, revoke, uninstall
        elif path.startswith(controls.LOCKS_PATH):
            pass  # an unlock changes nothing the fuzzing relies on
        elif path in (REVOKE_PATH, TOKEN_PATH):
            self.tokens_spent()
        elif path == AUTHORIZE_PATH or path.startswith(SCREENS_UNDER):
            self._started += 1


def keeps_flow(seen: Seen) -> bool:
    """Whether the flow a generated request used stays where it was after its
    answer: a refusal that leaves the screen as it was (an HTTP or input error, a
    CSRF failure), not one of the contract's codes that move or end the flow."""
    codes = set(error_codes(seen))
    if codes & LEAVES_SCREEN:
        return False
    return seen.status in (400, 413, 415, 422) or codes == {_CSRF_FAILED}


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def describe(prepared: requests.PreparedRequest) -> str:
    """A request in one line, for a finding's example."""
    body = prepared.body
    if isinstance(body, bytes | bytearray):
        shown = repr(bytes(body[:200]))
    elif isinstance(body, str):
        shown = repr(body[:200])
    else:
        shown = "" if body is None else "<stream>"
    kind = _text(prepared.headers.get("Content-Type", ""))
    auth = _text(prepared.headers.get("Authorization", ""))
    extra = f" [{kind}]" if kind else ""
    extra += f" [auth {auth[:30]!r}]" if auth else ""
    return f"{prepared.method} {prepared.url}{extra} {shown}".strip()
