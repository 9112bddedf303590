"""Two partner apps that play the certification plan: a well-behaved reference app
that passes it, and a misbehaving one that fails exactly the checks it breaks.

Both are built on the harness's driver (:mod:`harness.driver`): the app's side
is :class:`~harness.driver.PartnerApp` (Authlib with PKCE S256 and ``state``),
the customer's side a :class:`~harness.driver.Browser` on the bank's screens
in JSON and a :class:`~harness.driver.Phone` for the verification call. Every
request goes through the certifying proxy, as a vendor's app would.

:class:`Player` is the tester's hand: it follows ``GET /_certify/status``, does
in the app what each situation's instructions say — link as a persona, cancel,
fail five times, open the balance — and signals ``POST /_certify/done``. What
it does in each situation is :data:`PLAYS`, keyed by the plan's situation
objects.

The misbehaviours (:data:`MISBEHAVIOURS`), each of which can be switched on
alone:

* ``no-pkce``: authorization requests without ``code_challenge`` (RFC 7636) —
  the bank refuses them, so this app never links;
* ``ignores-state``: the return is not checked against the ``state`` the app
  sent, nor remembered as used: a forged return is redeemed, and a return
  loaded twice redeems its code twice (RFC 6749 §10.12, §4.1.2);
* ``no-backoff``: whatever the bank refused is retried at once — a 503 without
  waiting for ``Retry-After``, an error return of the flow by starting a new
  authorization, a refused API query by sending it again (RFC 9110 §10.2.3,
  R-ERR-SYS-1/2, R-ERR-HOST-3/4, R-FLOW-7, R-ACCT-4);
* ``ignores-invalid-grant``: a refused refresh token is tried again and the old
  access token kept; the customer is never sent through the flow again
  (RFC 6749 §5.2, R-FLOW-9, R-AUTHZ-3).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError

from harness.certify import plan
from harness.driver import TIMEOUT, Answer, Browser, PartnerApp, Phone, cookieless_session, query
from harness.personas import Persona
from renkei.contract import answers, api, oauth
from renkei.contract.dates import months_before
from renkei.contract.screens import CANCEL_PATH, SCREEN_PATHS, Screen

MISBEHAVIOURS: Final = ("no-pkce", "ignores-state", "no-backoff", "ignores-invalid-grant")
TRANSACTIONS: Final = api.TRANSACTIONS_PATH
#: How far back the reference app asks for 明細 in the transactions situation:
#: further than the bank keeps (R-ACCT-4), so that the refusal is met.
MONTHS_ASKED: Final = 4
#: The longest the reference app waits on one Retry-After before giving up.
LONGEST_WAIT: Final = 120.0
#: How long the misbehaving app keeps hammering before it gives up.
STORM_SECONDS: Final = 30.0
STORM_PAUSE: Final = 0.01
WRONG_NAME: Final = "ﾏﾁｶﾞｲ ﾃﾞｽ"
DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def never() -> bool:
    return False


@dataclass(frozen=True)
class AppRegistration:
    """The registered partner app the player speaks for."""

    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str = " ".join(oauth.SCOPES)


def error_code(r: requests.Response) -> str | None:
    try:
        return answers.error_code(r.json())
    except ValueError:
        return None


class ReferenceApp:
    """A partner app that does everything the plan asks, as a vendor should.

    It keeps one :class:`PartnerApp` per authorization in flight (a fresh
    verifier and state each time, RFC 7636 §4.1) and accepts a return only for
    a state it sent and has not yet used (RFC 6749 §10.12); it refreshes an
    expired access token (RFC 6749 §6), waits out ``Retry-After`` (RFC 9110
    §10.2.3), drops a link the bank refuses and asks for a new one (RFC 6749
    §5.2, R-FLOW-9, R-ACCT-3), follows pages of 明細 and stays within their
    reach (R-ACCT-4), and revokes its refresh token on unlink (RFC 7009).
    """

    name = "reference"

    def __init__(self, base: str, client: AppRegistration) -> None:
        self.base, self.client = base, client
        self.server = self._partner()
        self.pending: dict[str, PartnerApp] = {}
        self.latest: PartnerApp | None = None
        self.tokens: dict[str, Any] | None = None
        #: what the app shows the customer (the last error, or "linked")
        self.notice = ""
        #: the customer pressed "retry" (the player's hook)
        self.wake: Callable[[], bool] = never
        self.today: dt.date | None = None

    def _partner(self) -> PartnerApp:
        c = self.client
        return PartnerApp(self.base, c.client_id, c.client_secret, c.redirect_uri, c.scope)

    def close(self) -> None:
        for partner in [self.server, *self.pending.values()]:
            partner.close()
        self.pending.clear()

    @property
    def linked(self) -> bool:
        return self.tokens is not None

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or until the customer presses retry."""
        end = time.monotonic() + min(seconds, LONGEST_WAIT)
        while time.monotonic() < end and not self.wake():
            time.sleep(0.02)

    # -- linking (RFC 6749 §4.1, RFC 7636) ------------------------------------------------------

    def authorize_url(self) -> str:
        partner = self._partner()
        self.pending[partner.state] = partner
        self.latest = partner
        return partner.authorize_url()

    def on_return(self, url: str) -> str:
        """The bank sent the customer back to ``url``: ``linked``, ``refused`` or ``error``."""
        values = query(url)
        partner = self.pending.pop(values.get("state", ""), None)
        if partner is None:
            self.notice = "この連携は受け付けられません (a return the app did not ask for)"
            return "refused"
        try:
            if "error" in values:
                self.notice = f"{values['error']}: {values.get('error_description', '')}"
                self.after_error(values)
                return "error"
            return self.exchange(partner, url)
        finally:
            partner.close()

    def exchange(self, partner: PartnerApp, url: str) -> str:
        try:
            self.tokens = partner.exchange(url)
        except (AuthlibBaseError, AssertionError, requests.RequestException) as error:
            self.notice = f"linking failed: {error}"
            return "error"
        self.notice = "linked"
        return "linked"

    def after_error(self, values: dict[str, str]) -> None:
        """An error came back from the flow: shown to the customer, nothing retried."""

    # -- tokens ----------------------------------------------------------------------------------

    def forget(self, why: str) -> None:
        self.tokens = None
        self.notice = why

    def refresh(self) -> bool:
        assert self.tokens is not None
        r = self.server.refresh(str(self.tokens["refresh_token"]))
        if r.status_code == 200:
            self.tokens = {**self.tokens, **r.json()}  # the rotated refresh token replaces the old
            return True
        return self.refresh_refused(r)

    def refresh_refused(self, r: requests.Response) -> bool:
        self.forget("連携の有効期限が切れました: もう一度連携してください")
        return False

    # -- the account API (INTERFACE.md §5) -------------------------------------------------------

    def request(self, path: str, **params: str) -> requests.Response | None:
        refreshed = False
        r: requests.Response | None = None
        for _ in range(20):
            if self.tokens is None:
                return r
            r = self.server.api(str(self.tokens["access_token"]), path, **params)
            if r.status_code == 401 and not refreshed:
                refreshed = True
                if not self.refresh():
                    return self.after_refused_refresh(path, params, r)
                continue
            if r.status_code == 503:
                self.busy(r)
                continue
            if r.status_code == 403 and error_code(r) == "account_moved":
                self.forget("口座が移管されました: 新しい口座で連携してください")
                return r
            if r.status_code == 401:
                self.forget("連携が終了しました")
                return r
            return r
        return r

    def busy(self, r: requests.Response) -> None:
        try:
            wait = float(r.headers.get("Retry-After", "60"))
        except ValueError:
            wait = 60.0
        self.notice = f"ただいま混雑しています ({wait:g} 秒後に再試行)"
        self.pause(wait)

    def after_refused_refresh(
        self, path: str, params: dict[str, str], r: requests.Response
    ) -> requests.Response:
        return r

    def show_account(self) -> bool:
        """The account list and its balance; remembers the bank's date."""
        accounts = self.request(api.ACCOUNTS_PATH)
        if accounts is None or accounts.status_code != 200:
            return False
        account_id = str(accounts.json()["accounts"][0]["accountId"])
        balance = self.request(api.BALANCES_PATH, accountId=account_id)
        if balance is None or balance.status_code != 200:
            return False
        self.today = dt.date.fromisoformat(str(balance.json()["balances"][0]["baseDate"]))
        return True

    def show_transactions(self, months: int = 0) -> bool:
        """明細 from ``months`` before the bank's today (this month's start for 0), every page."""
        accounts = self.request(api.ACCOUNTS_PATH)
        if accounts is None or accounts.status_code != 200 or not self.show_account():
            return False
        assert self.today is not None
        account_id = str(accounts.json()["accounts"][0]["accountId"])
        start = months_before(self.today, months) if months else self.today.replace(day=1)
        params = {
            "accountId": account_id,
            "dateFrom": start.isoformat(),
            "dateTo": self.today.isoformat(),
        }
        r = self.request(TRANSACTIONS, **params)
        if r is not None and r.status_code == 400 and error_code(r) == "history_out_of_range":
            # The bank says how far back it reaches: ask again from there, once.
            found = DATE.search(str(r.json().get("errorMessage", "")))
            params["dateFrom"] = (
                found.group(0) if found else months_before(self.today, 3).isoformat()
            )
            r = self.request(TRANSACTIONS, **params)
        while r is not None and r.status_code == 200 and r.json().get("hasNext"):
            r = self.request(TRANSACTIONS, **params, nextItemKey=str(r.json()["nextItemKey"]))
        return r is not None and r.status_code == 200

    def unlink(self) -> None:
        """RFC 7009 §2.1: the refresh token revoked, which ends the grant."""
        if self.tokens is None:
            return
        self.server.http.post(
            self.base + oauth.REVOKE_PATH,
            data={"token": str(self.tokens["refresh_token"]), "token_type_hint": "refresh_token"},
            auth=(self.client.client_id, self.client.client_secret),
            timeout=TIMEOUT,
        )
        self.forget("連携を解除しました")


class MisbehavingApp(ReferenceApp):
    """The reference app with some of :data:`MISBEHAVIOURS` switched on."""

    name = "misbehaving"

    def __init__(
        self, base: str, client: AppRegistration, faults: tuple[str, ...] = MISBEHAVIOURS
    ) -> None:
        unknown = set(faults) - set(MISBEHAVIOURS)
        if unknown:
            raise ValueError(f"unknown misbehaviour(s): {', '.join(sorted(unknown))}")
        super().__init__(base, client)
        self.faults = frozenset(faults)
        #: the app's own "in-app browser" for restarting authorizations
        self.opener = cookieless_session()
        #: the access token of a link the bank refused (kept only to misbehave with)
        self.moved_token = ""

    def close(self) -> None:
        super().close()
        self.opener.close()

    def authorize_url(self) -> str:
        if "no-pkce" not in self.faults:
            return super().authorize_url()
        partner = self._partner()
        self.pending[partner.state] = partner
        self.latest = partner
        c = self.client
        params = {
            "response_type": "code",
            "client_id": c.client_id,
            "redirect_uri": c.redirect_uri,
            "scope": c.scope,
            "state": partner.state,
        }
        return f"{self.base}{oauth.AUTHORIZE_PATH}?{urlencode(params)}"

    def on_return(self, url: str) -> str:
        if "ignores-state" not in self.faults:
            return super().on_return(url)
        # Whatever state came back: the latest authorization's verifier, kept
        # for the next return too.
        values = query(url)
        if "error" in values:
            self.notice = values["error"]
            self.after_error(values)
            return "error"
        partner = self.latest
        if partner is None:
            return "refused"
        r = partner.token_request(
            grant_type="authorization_code",
            code=values.get("code", ""),
            redirect_uri=self.client.redirect_uri,
            code_verifier=partner.verifier,
        )
        if r.status_code != 200:
            self.notice = f"linking failed: {r.status_code}"
            return "error"
        self.tokens = r.json()
        return "linked"

    def after_error(self, values: dict[str, str]) -> None:
        if "no-backoff" not in self.faults:
            return
        # Start again at once; again while the bank refuses with a 503.
        end = time.monotonic() + STORM_SECONDS
        while time.monotonic() < end and not self.wake():
            r = self.opener.get(self.authorize_url(), allow_redirects=False, timeout=TIMEOUT)
            if r.status_code != 503:
                return
            time.sleep(STORM_PAUSE)

    def busy(self, r: requests.Response) -> None:
        if "no-backoff" not in self.faults:
            super().busy(r)
        else:
            time.sleep(STORM_PAUSE)  # Retry-After ignored

    def request(self, path: str, **params: str) -> requests.Response | None:
        if "no-backoff" not in self.faults:
            return super().request(path, **params)
        end = time.monotonic() + STORM_SECONDS
        r = super().request(path, **params)
        while r is not None and r.status_code == 503 and time.monotonic() < end:
            r = super().request(path, **params)
        if r is not None and r.status_code in (400, 403, 404) and self.tokens is not None:
            for _ in range(3):  # a refused query, sent again at once
                r = self.server.api(str(self.tokens["access_token"]), path, **params)
        elif r is not None and r.status_code == 403 and error_code(r) == "account_moved":
            for _ in range(3):
                r = self.server.api(str(self.moved_token), path, **params)
        return r

    def forget(self, why: str) -> None:
        # A misbehaving app that retries a refused account keeps the token to do so.
        if self.tokens is not None:
            self.moved_token = str(self.tokens["access_token"])
        super().forget(why)

    def refresh_refused(self, r: requests.Response) -> bool:
        if "ignores-invalid-grant" not in self.faults or error_code(r) != "invalid_grant":
            return super().refresh_refused(r)
        assert self.tokens is not None
        for _ in range(3):  # the same refresh token, again and again
            self.server.refresh(str(self.tokens["refresh_token"]))
        return False  # the tokens are kept: the app still thinks it is linked

    def after_refused_refresh(
        self, path: str, params: dict[str, str], r: requests.Response
    ) -> requests.Response:
        if "ignores-invalid-grant" in self.faults and self.tokens is not None:
            return self.server.api(str(self.tokens["access_token"]), path, **params)
        return r


# -- the tester's hand ---------------------------------------------------------------------------


class Player:
    """Follows ``/_certify/status`` and does what each situation asks, in the app
    and as the customer, then says done."""

    def __init__(
        self,
        base: str,
        app: ReferenceApp,
        personas: dict[str, Persona],
        timeout: float = 60.0,
    ) -> None:
        self.base, self.app, self.personas, self.timeout = base, app, personas, timeout
        self.control = cookieless_session()
        self.errors: list[str] = []
        self._latest: dict[str, Any] = {"situation": None, "finished": False, "version": -1}
        self._changed = threading.Condition()
        self._stop = threading.Event()

    def follow(self) -> None:
        """Keep :meth:`status` current with long polls of ``GET /_certify/status``."""
        session = cookieless_session()
        try:
            while not self._stop.is_set():
                version = self._latest["version"]
                try:
                    r = session.get(
                        self.base + "/_certify/status",
                        params={"version": version, "wait": 5},
                        timeout=TIMEOUT,
                    )
                    latest = r.json()
                except (requests.RequestException, ValueError):
                    time.sleep(0.1)
                    continue
                with self._changed:
                    self._latest = latest
                    self._changed.notify_all()
                if latest.get("finished"):
                    return
        finally:
            session.close()

    def status(self) -> dict[str, Any]:
        with self._changed:
            return dict(self._latest)

    def await_status(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The status once ``wanted`` holds for it; None after ``timeout`` seconds."""
        with self._changed:
            if self._changed.wait_for(lambda: wanted(self._latest), self.timeout):
                return dict(self._latest)
            return None

    def done(self, situation: str) -> None:
        self.control.post(
            self.base + "/_certify/done", json={"situation": situation}, timeout=TIMEOUT
        )

    def run(self) -> None:
        """Until the plan is finished (or nothing changes for ``timeout`` seconds)."""
        handled: set[str] = set()
        follower = threading.Thread(target=self.follow, daemon=True)
        follower.start()

        def next_one(st: dict[str, Any]) -> bool:
            return bool(st.get("finished")) or (
                st.get("situation") is not None and st["situation"] not in handled
            )

        try:
            while True:
                st = self.await_status(next_one)
                if st is None:
                    self.errors.append("the plan did not finish")
                    return
                if st.get("finished"):
                    return
                sid = str(st["situation"])
                handled.add(sid)
                self.play(st)
                self.done(sid)
        finally:
            self._stop.set()
            follower.join(timeout=TIMEOUT)
            self.control.close()
            self.app.close()

    def play(self, st: dict[str, Any]) -> None:
        sid = str(st["situation"])
        self.app.wake = lambda: self.moved_on(sid, "reopened")
        try:
            PLAYS[plan.situation(sid)](self, st)
        except (requests.RequestException, KeyError, ValueError, AssertionError) as error:
            self.errors.append(f"{sid}: {type(error).__name__}: {error}")

    def moved_on(self, sid: str, phase: str) -> bool:
        st = self.status()
        return st.get("situation") != sid or st.get("phase") == phase

    def wait_phase(self, sid: str, phase: str) -> dict[str, Any] | None:
        """The status once the situation reaches ``phase``; None if it ends first."""
        st = self.await_status(lambda s: s.get("situation") != sid or s.get("phase") == phase)
        return st if st is not None and st.get("situation") == sid else None

    # -- the customer ------------------------------------------------------------------------------

    def persona(self, st: dict[str, Any]) -> Persona:
        return self.personas[str(st["persona"])].at(str(st["account"]))

    def walk(self, url: str, who: Persona, choice: str = "allow") -> str | None:
        """The customer in the bank's screens from the authorization URL; answers
        where the bank sends them back to the app (``None``: nowhere)."""
        browser, phone = Browser(self.base), Phone(self.base, who.phone)
        try:
            return self._walk(browser, phone, url, who, choice)
        finally:
            browser.close()
            phone.close()

    def _walk(self, b: Browser, phone: Phone, url: str, who: Persona, choice: str) -> str | None:
        a = b.open(url)
        for _ in range(30):
            if a.location and not a.location.startswith("/"):
                return a.location  # back to the app: a code, or an OAuth error
            if a.status == 303 and a.location:
                a = b.get(a.location)
                continue
            if a.status != 200 or a.codes or a.screen_id not in SCREEN_PATHS:
                return back(a)  # an error screen, or 中止: 「連携元画面へ」
            screen = Screen(a.screen_id)
            if screen is Screen.CUSTOMER and choice in ("cancel", "lock"):
                return back(self.fail(b, who, choice))
            if screen is Screen.CALL:
                phone.call(str(a.body["call_to"]))
            a = b.post(SCREEN_PATHS[screen.value], ANSWERS[screen](who))
        return None

    @staticmethod
    def fail(b: Browser, who: Persona, choice: str) -> Answer:
        """②: 中止する, or five wrong names (R-ERR-HOST-2 until R-ERR-HOST-3)."""
        if choice == "cancel":
            return b.post(CANCEL_PATH)
        customer = SCREEN_PATHS[Screen.CUSTOMER.value]
        a = b.post(customer, who.details(name_kana=WRONG_NAME))
        for _ in range(4):
            a = b.post(customer, who.details(name_kana=WRONG_NAME))
        return a

    def link(self, st: dict[str, Any], times: int = 1) -> bool:
        """The customer links the app; the return reaches the app ``times`` times."""
        returned = self.walk(self.app.authorize_url(), self.persona(st))
        for _ in range(times):
            if returned:
                self.app.on_return(returned)
        return self.app.linked

    def linked_first(self, st: dict[str, Any]) -> dict[str, Any] | None:
        """The link phase, then the situation's own instructions."""
        if st.get("phase") == "link" and not self.link(st):
            return None
        return self.wait_phase(str(st["situation"]), "act")

    def fail_back(self, st: dict[str, Any], choice: str) -> dict[str, str]:
        """A walk that ends without a code; answers what came back to the app."""
        returned = self.walk(self.app.authorize_url(), self.persona(st), choice)
        if not returned:
            return {}
        self.app.on_return(returned)
        return query(returned)

    # -- what the tester does in each situation of the plan (PLAYS) -----------------------------

    def link_and_read(self, st: dict[str, Any]) -> None:
        """The happy path: link, then the account, its balance and this month's 明細."""
        if self.link(st):
            self.app.show_account()
            self.app.show_transactions()

    def link_only(self, st: dict[str, Any]) -> None:
        self.link(st)

    def cancel(self, st: dict[str, Any]) -> None:
        self.fail_back(st, "cancel")

    def lock(self, st: dict[str, Any]) -> None:
        self.fail_back(st, "lock")

    def try_locked(self, st: dict[str, Any]) -> None:
        self.fail_back(st, "allow")

    def link_through_fault(self, st: dict[str, Any]) -> None:
        """Closed or congested at authorization: back to the app, then link once reopened."""
        if self.fail_back(st, "allow").get("error") != "temporarily_unavailable":
            return  # the bank refused for another reason (no PKCE): nothing to wait for
        opened = self.wait_phase(str(st["situation"]), "reopened")
        if opened is not None:
            self.link(opened)

    def read_through_fault(self, st: dict[str, Any]) -> None:
        """Closed or congested on the account API: the balance, again once reopened."""
        act = self.linked_first(st)
        if act is None:
            return
        if not self.app.show_account():
            opened = self.wait_phase(str(st["situation"]), "reopened")
            if opened is not None:
                self.app.show_account()

    def read_balance(self, st: dict[str, Any]) -> None:
        if self.linked_first(st) is not None:
            self.app.show_account()

    def read_or_relink(self, st: dict[str, Any]) -> None:
        """The balance; when the app has dropped its link, the customer links again."""
        act = self.linked_first(st)
        if act is None:
            return
        self.app.show_account()
        if not self.app.linked:  # the app asks the customer to link again
            self.link(act)
            self.app.show_account()

    def read_far_back(self, st: dict[str, Any]) -> None:
        if self.linked_first(st) is not None:
            self.app.show_transactions(MONTHS_ASKED)

    def unlink(self, st: dict[str, Any]) -> None:
        if self.linked_first(st) is not None:
            self.app.unlink()

    def return_twice(self, st: dict[str, Any]) -> None:
        self.link(st, times=2)


#: What the tester does in each situation of the plan, keyed by the situation.
PLAYS: Final[dict[plan.Situation, Callable[[Player, dict[str, Any]], None]]] = {
    plan.HAPPY: Player.link_and_read,
    plan.FORGED: Player.link_only,
    plan.CANCEL: Player.cancel,
    plan.LOCKED: Player.lock,
    plan.B84: Player.try_locked,
    plan.CLOSED_AUTHORIZE: Player.link_through_fault,
    plan.CONGESTED_AUTHORIZE: Player.link_through_fault,
    plan.CLOSED_API: Player.read_through_fault,
    plan.CONGESTED_API: Player.read_through_fault,
    plan.TOKEN_EXPIRY: Player.read_balance,
    plan.GRANT_ENDS: Player.read_or_relink,
    plan.REVOKED: Player.read_or_relink,
    plan.MOVED: Player.read_or_relink,
    plan.TRANSACTIONS: Player.read_far_back,
    plan.UNLINK: Player.unlink,
    plan.CODE_REPLAY: Player.return_twice,
}


#: The persona's right answers to each screen, posted with its button to the screen's
#: path (INTERFACE.md §2).
ANSWERS: Final[dict[Screen, Callable[[Persona], dict[str, str] | None]]] = {
    Screen.ACCOUNT: lambda who: who.account,
    Screen.CUSTOMER: lambda who: who.details(),
    Screen.PHONE: lambda who: None,
    Screen.CALL: lambda who: None,
    Screen.PIN: lambda who: {"pin": who.pin},
    Screen.CONSENT: lambda who: {"decision": "allow", "agree": "1"},
}


def back(a: Answer) -> str | None:
    """The 「連携元画面へ」 target of a screen, if it has one."""
    url = a.body.get("return_url")
    return str(url) if url else None
