"""How each check of the plan is decided from the recorded requests (issue 8).

A judge looks only at what the proxy recorded — the app's requests and the
bank's answers, with their times — and at what certify itself did in the
situation (:class:`SituationRun`: when the setup was made, when a fault was
lifted, where an account moved). It answers one of four results:

* ``passed`` / ``failed``: the evidence shows the rule kept or broken; the
  exchanges that show it are named by their sequence numbers;
* ``not judged``: the situation did not produce the evidence the check needs —
  the app (or tester) did not do what the instructions asked, or an earlier
  failure kept it from getting there (an app refused for lack of PKCE never
  links); a failure-severity check left unjudged withholds the certificate;
* ``not applicable``: the situation ran, but the case the check is about did
  not arise (no page of 明細 had more; the app never asked further back than
  the bank keeps).

Times: the bank's ``Retry-After`` (RFC 9110 §10.2.3) is measured from the moment
the proxy passed the refusal on to the moment the next request reached it, with
a tolerance of a tenth of the wait (at most a second) for the app's timer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from harness.certify.plan import PLAN, Check, Situation
from harness.certify.record import Exchange

#: An S256 code challenge: BASE64URL(SHA256(verifier)) without padding (RFC 7636 §4.2).
CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
#: 128 bits in base64url (RFC 6749 §10.10's bound for a guess) and some variety.
STATE_LENGTH: Final = 22
STATE_VARIETY: Final = 8
TRANSACTIONS: Final = "/v1/accounts/transactions"


class Result(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_JUDGED = "not judged"
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Outcome:
    result: Result
    detail: str
    evidence: tuple[int, ...] = ()


def passed(detail: str, evidence: Iterable[Exchange] = ()) -> Outcome:
    return Outcome(Result.PASSED, detail, tuple(e.seq for e in evidence))


def failed(detail: str, evidence: Iterable[Exchange] = ()) -> Outcome:
    return Outcome(Result.FAILED, detail, tuple(e.seq for e in evidence))


def not_judged(detail: str) -> Outcome:
    return Outcome(Result.NOT_JUDGED, detail)


def not_applicable(detail: str, evidence: Iterable[Exchange] = ()) -> Outcome:
    return Outcome(Result.NOT_APPLICABLE, detail, tuple(e.seq for e in evidence))


@dataclass
class SituationRun:
    """What happened in one situation, as certify saw it (times as in :class:`Exchange`)."""

    situation: Situation
    index: int
    began: float
    #: when the setup was made and the tester told to act (after the link phase)
    act_began: float | None = None
    #: when certify lifted the fault (MAINTENANCE, CONGESTION), if it did
    cleared: float | None = None
    ended: float = 0.0
    timed_out: bool = False
    #: certify's own doings, shown in the certificate (clock moves, the move, revocations)
    facts: dict[str, Any] = field(default_factory=dict)
    #: problems certify met while setting the situation up
    problems: list[str] = field(default_factory=list)


class Links:
    """The app's links as the token endpoint made them: a code exchange starts one,
    each refresh continues the link of the refresh token it used."""

    def __init__(self, exchanges: Iterable[Exchange]) -> None:
        self.of_token: dict[str, int] = {}
        self.tokens: dict[int, set[str]] = {}
        self.refresh_tokens: set[str] = set()
        for e in sorted(exchanges, key=lambda x: x.seq):
            body = e.response_json
            if e.role != "token" or e.status != 200 or not isinstance(body, dict):
                continue
            grant_type = e.form.get("grant_type")
            if grant_type == "authorization_code":
                link: int | None = e.seq
            elif grant_type == "refresh_token":
                link = self.of_token.get(e.form.get("refresh_token", ""))
            else:
                link = None
            if link is None:
                continue
            for name in ("access_token", "refresh_token"):
                value = body.get(name)
                if isinstance(value, str) and value:
                    self.of_token[value] = link
                    self.tokens.setdefault(link, set()).add(value)
            refresh = body.get("refresh_token")
            if isinstance(refresh, str):
                self.refresh_tokens.add(refresh)

    def link(self, token: str | None) -> int | None:
        return self.of_token.get(token) if token else None


def tokens_sent(e: Exchange) -> set[str]:
    """The app's tokens a request carries: a bearer, a refresh token, a token to revoke."""
    found = {e.bearer, e.form.get("refresh_token"), e.form.get("token")}
    return {t for t in found if t}


@dataclass
class Evidence:
    """The whole run's record, for the client under certification."""

    client_id: str
    exchanges: list[Exchange]
    #: the client's registered redirect URIs, when certify was told them; else
    #: the bank's refusal is what shows a wrong one
    redirect_uris: tuple[str, ...] = ()
    links: Links = field(init=False)

    def __post_init__(self) -> None:
        self.exchanges = sorted(self.exchanges, key=lambda e: e.seq)
        self.links = Links(self.exchanges)

    def mine(self, e: Exchange) -> bool:
        """Whether the request is the app's: its authorization requests and token
        calls name the client (or no client at all); every account API call is."""
        if e.role in ("authorize", "token", "revoke", "introspect"):
            return e.client_id in (self.client_id, None)
        return e.role == "api"

    def of(self, run: SituationRun) -> list[Exchange]:
        return [e for e in self.exchanges if e.situation == run.situation.id]

    def acted(self, run: SituationRun) -> list[Exchange]:
        """The app's requests once the situation's setup was made."""
        start = run.act_began if run.act_began is not None else run.began
        return [e for e in self.of(run) if self.mine(e) and e.sent >= start]

    def authorizations(self, exchanges: Iterable[Exchange]) -> list[Exchange]:
        return [e for e in exchanges if e.role == "authorize" and self.mine(e)]

    def code_exchanges(self, exchanges: Iterable[Exchange]) -> list[Exchange]:
        return [
            e
            for e in exchanges
            if e.role == "token"
            and self.mine(e)
            and e.form.get("grant_type") == "authorization_code"
        ]

    def refreshes(self, exchanges: Iterable[Exchange]) -> list[Exchange]:
        return [
            e
            for e in exchanges
            if e.role == "token" and self.mine(e) and e.form.get("grant_type") == "refresh_token"
        ]


Judge = Callable[[SituationRun, Evidence], Outcome]
JUDGES: dict[str, Judge] = {}


def judge(*check_ids: str) -> Callable[[Judge], Judge]:
    def register(fn: Judge) -> Judge:
        for check_id in check_ids:
            JUDGES[check_id] = fn
        return fn

    return register


def seqs(exchanges: Iterable[Exchange]) -> str:
    return ", ".join(f"#{e.seq}" for e in exchanges)


def nothing_done(run: SituationRun) -> Outcome:
    why = " (certify stopped waiting: timeout)" if run.timed_out else ""
    return not_judged(f"the app sent no request once the situation was set up{why}")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# -- happy path ------------------------------------------------------------------------------------


@judge("happy-path.pkce")
def pkce(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 7636 §4.2–4.3: a challenge of the S256 method on every authorization request."""
    asked = ev.authorizations(ev.of(run))
    if not asked:
        return not_judged("the app sent no authorization request")
    bad = [
        e
        for e in asked
        if e.query.get("code_challenge_method") != "S256"
        or not CHALLENGE.fullmatch(e.query.get("code_challenge", ""))
    ]
    if bad:
        return failed(f"no S256 code_challenge in {seqs(bad)}", bad)
    return passed(f"S256 challenge in every authorization request ({seqs(asked)})", asked)


@judge("happy-path.state")
def state(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §10.12 and §10.10: a state nobody can guess."""
    asked = ev.authorizations(ev.of(run))
    if not asked:
        return not_judged("the app sent no authorization request")
    bad = [
        e
        for e in asked
        if len(e.query.get("state", "")) < STATE_LENGTH
        or len(set(e.query.get("state", ""))) < STATE_VARIETY
    ]
    if bad:
        return failed(
            f"state missing or guessable (under {STATE_LENGTH} characters or under "
            f"{STATE_VARIETY} different ones) in {seqs(bad)}",
            bad,
        )
    return passed(f"an unguessable state in {seqs(asked)}", asked)


@judge("happy-path.fresh")
def fresh(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 7636 §4.1 and §7.1, RFC 6749 §10.12: a new verifier and state each time."""
    asked = ev.authorizations(ev.exchanges)
    if not asked:
        return not_judged("the app sent no authorization request in the run")
    repeated: list[Exchange] = []
    for name in ("state", "code_challenge"):
        seen: set[str] = set()
        for e in asked:
            value = e.query.get(name)
            if value and value in seen:
                repeated.append(e)
            elif value:
                seen.add(value)
    if repeated:
        return failed(f"a state or code_challenge sent before, in {seqs(repeated)}", repeated)
    return passed(f"{len(asked)} authorization requests, no state or challenge repeated", asked)


@judge("happy-path.redirect-uri")
def redirect_uri(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §3.1.2 and §4.1.3: the registered URI, exactly, and the same one again."""
    asked = ev.authorizations(ev.of(run))
    if not asked:
        return not_judged("the app sent no authorization request")
    bad = [e for e in asked if not e.query.get("redirect_uri") or e.status == 400]
    if bad:
        return failed(f"redirect_uri missing or refused by the bank in {seqs(bad)}", bad)
    # Exactly as registered (§3.1.2.2 and RFC 9700 §4.1.3): certify checks this
    # itself when it knows the registration, so that a bank that lets a near
    # miss through (a trailing slash, another port) does not pass the app.
    if ev.redirect_uris:
        unregistered = [e for e in asked if e.query["redirect_uri"] not in ev.redirect_uris]
        if unregistered:
            return failed(
                f"redirect_uri not exactly a registered one in {seqs(unregistered)} "
                f"(registered: {', '.join(ev.redirect_uris)})",
                unregistered,
            )
    uris = {e.query["redirect_uri"] for e in ev.authorizations(ev.exchanges)}
    redeemed = ev.code_exchanges(ev.of(run))
    wrong = [e for e in redeemed if e.form.get("redirect_uri") not in uris]
    if wrong:
        return failed(
            f"the token request's redirect_uri is not the authorization request's in {seqs(wrong)}",
            wrong,
        )
    return passed(
        f"redirect_uri accepted and repeated ({seqs(asked + redeemed)})", asked + redeemed
    )


@judge("happy-path.client-auth")
def client_auth(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §2.3.1 and §3.2.1: the client authenticates; its secret stays out of URLs."""
    leaks = [e for e in ev.exchanges if "client_secret" in e.query]
    if leaks:
        return failed(f"client_secret in a URL in {seqs(leaks)}", leaks)
    calls = [e for e in ev.of(run) if e.role == "token" and ev.mine(e)]
    if not calls:
        return not_judged("the app made no token request")
    bad = [
        e
        for e in calls
        if (e.basic is None and "client_secret" not in e.form)
        or e.status == 401
        or e.error_code == "invalid_client"
    ]
    if bad:
        return failed(
            f"the client did not authenticate, or the bank refused it, in {seqs(bad)}", bad
        )
    return passed(f"the client authenticated in {seqs(calls)}", calls)


@judge("happy-path.basic-auth")
def basic_auth(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §2.3.1: the secret in the request body is NOT RECOMMENDED."""
    calls = [e for e in ev.of(run) if e.role == "token" and ev.mine(e)]
    if not calls:
        return not_judged("the app made no token request")
    bad = [e for e in calls if e.basic is None]
    if bad:
        return failed(f"no HTTP Basic authentication in {seqs(bad)}", bad)
    return passed(f"HTTP Basic in {seqs(calls)}", calls)


def allow_redirects(exchanges: Iterable[Exchange]) -> list[Exchange]:
    """The bank's redirects back to the app with a code (「許可する」), untampered."""
    found = []
    for e in exchanges:
        back = e.returned_to_app()
        if back and back.get("code") and e.location and not e.tampered:
            found.append(e)
    return found


@judge("happy-path.code-exchange")
def code_exchange(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §4.1.3, RFC 7636 §4.5: the code redeemed with the matching verifier."""
    returns = allow_redirects(ev.of(run))
    if not returns:
        return not_judged("the customer never got back to the app with a code (許可する)")
    challenges = {
        e.query.get("state"): e.query.get("code_challenge", "")
        for e in ev.authorizations(ev.exchanges)
    }
    shown: list[Exchange] = []
    for back in returns:
        values = back.returned_to_app() or {}
        uses = [e for e in ev.code_exchanges(ev.exchanges) if e.form.get("code") == values["code"]]
        if not uses:
            return failed(f"the code of {seqs([back])} never reached the token endpoint", [back])
        first = uses[0]
        verifier = first.form.get("code_verifier", "")
        if not verifier or s256(verifier) != challenges.get(values.get("state")):
            return failed(
                f"no code_verifier matching the authorization request's challenge in "
                f"{seqs([first])}",
                [back, first],
            )
        if first.status != 200:
            return failed(f"the bank refused the code exchange {seqs([first])}", [back, first])
        shown += [back, first]
    return passed(f"code exchanged with its verifier ({seqs(shown)})", shown)


@judge("happy-path.bearer")
def bearer(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6750 §2.1 and §5.3: the token in the Authorization header, never in the URL."""
    calls = [e for e in ev.of(run) if e.role == "api"]
    if not calls:
        return not_judged("the app did not call the account API")
    bad = [e for e in calls if e.bearer is None or "access_token" in e.query]
    if bad:
        return failed(f"no Authorization: Bearer (or a token in the URL) in {seqs(bad)}", bad)
    read = [e for e in calls if e.status == 200]
    if not read:
        return failed(f"the bank answered none of the account API calls 200 ({seqs(calls)})", calls)
    return passed(f"Bearer tokens in the header, {len(read)} answers 200", calls)


@judge("happy-path.scope")
def scope(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §3.3: ask for what the app uses."""
    asked = ev.authorizations(ev.of(run))
    if not asked:
        return not_judged("the app sent no authorization request")
    unscoped = [e for e in asked if not e.query.get("scope")]
    if unscoped:
        return failed(f"no scope asked in {seqs(unscoped)}: the bank gives every scope", unscoped)
    wanted = {s for e in asked for s in e.query["scope"].split()}
    if not any(e.role == "api" and e.status == 200 for e in ev.exchanges):
        return not_judged("the app never read the account API in the run")
    reads = [e for e in ev.exchanges if e.role == "api" and e.path == TRANSACTIONS]
    if "transactions" in wanted and not reads:
        return failed("asked for 'transactions' but never read 明細 in the run", asked)
    return passed(f"scope {' '.join(sorted(wanted))}, each used", asked)


# -- the forged return and the replayed code ---------------------------------------------------


@judge("forged-state.refused")
def forged_refused(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §10.12: a return whose state the app did not send is refused."""
    forged = [e for e in ev.of(run) if e.tampered]
    if not forged:
        return not_judged("no redirect back from 許可する passed the proxy to be forged")
    code = forged[0].tampered["code"] if forged[0].tampered else ""
    used = [e for e in ev.code_exchanges(ev.exchanges) if e.form.get("code") == code]
    if used:
        return failed(f"the app redeemed the forged return's code in {seqs(used)}", forged + used)
    return passed(f"the forged return ({seqs(forged)}) was not redeemed", forged)


@judge("code-replay.once")
def code_once(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §4.1.2 and §10.5: an authorization code is used once."""
    uses = [e for e in ev.code_exchanges(ev.exchanges) if e.form.get("code")]
    if not uses:
        return not_judged("the app redeemed no code in the run")
    seen: set[str] = set()
    again: list[Exchange] = []
    for e in uses:
        code = e.form["code"]
        if code in seen:
            again.append(e)
        seen.add(code)
    if again:
        return failed(f"a code sent to the token endpoint a second time in {seqs(again)}", again)
    return passed(f"{len(uses)} codes, each redeemed once", uses)


# -- the flow ends without a code ---------------------------------------------------------------


def no_loop(end: Callable[[Exchange], bool], what: str) -> Judge:
    def decide(run: SituationRun, ev: Evidence) -> Outcome:
        """R-FLOW-7, R-ERR-HOST-3/4, RFC 6749 §4.1.2.1: the attempt is over."""
        ends = [e for e in ev.of(run) if end(e)]
        if not ends:
            return not_judged(f"the flow never ended with {what}")
        after = [e for e in ev.authorizations(ev.of(run)) if e.sent >= ends[0].answered]
        if after:
            return failed(
                f"a new authorization by the app after {what} ({seqs(ends[:1])}): {seqs(after)}",
                ends[:1] + after,
            )
        return passed(f"no new authorization after {what} ({seqs(ends[:1])})", ends[:1])

    return decide


def cancelled(e: Exchange) -> bool:
    back = e.returned_to_app() or {}
    return (
        e.path in ("/connect/cancel", "/connect/consent") and back.get("error") == "access_denied"
    )


judge("cancel.no-loop")(no_loop(cancelled, "access_denied (中止する / 拒否する)"))
judge("locked.no-loop")(no_loop(lambda e: "locked_now" in e.error_codes, "locked_now"))
judge("b84.no-loop")(no_loop(lambda e: "B84" in e.error_codes, "B84"))


# -- faults: out of hours and congestion ---------------------------------------------------------


def tolerance(wait: float) -> float:
    return min(1.0, wait / 10)


def fault_requests(run: SituationRun, ev: Evidence) -> list[Exchange]:
    role = run.situation.fault_role
    return [e for e in ev.acted(run) if e.role == role]


def honours_retry_after(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 9110 §10.2.3 with R-ERR-SYS-1/2: no request sooner than the bank said."""
    until = run.cleared if run.cleared is not None else run.ended
    asked = fault_requests(run, ev)
    refusals = [e for e in asked if e.status == 503 and e.answered <= until]
    if not refusals:
        return not_judged("the app never met the refusal (no 503 while the fault was on)")
    early: list[Exchange] = []
    for e in asked:
        if e.sent >= until:
            continue  # the fault was lifted: the customer may try again
        before = [r for r in refusals if r.answered <= e.sent]
        if not before:
            continue
        last = before[-1]
        wait = last.retry_after
        if wait is not None and e.sent < last.answered + wait - tolerance(wait):
            early.append(e)
    if early:
        gap = early[0].sent - max(r.answered for r in refusals if r.answered <= early[0].sent)
        return failed(
            f"{len(early)} requests sooner than Retry-After while the fault was on "
            f"(the first {gap:.2f} s after a refusal saying {refusals[0].retry_after:g} s): "
            f"{seqs(early[:10])}{' …' if len(early) > 10 else ''}",
            refusals[:1] + early[:10],
        )
    return passed(
        f"{len(refusals)} refusals ({seqs(refusals[:5])}), no request before its Retry-After",
        refusals[:5],
    )


def recovers(run: SituationRun, ev: Evidence) -> Outcome:
    """R-ERR-SYS-1/2: the fault passes and the app works again."""
    if run.cleared is None:
        return not_judged("certify never lifted the fault: the app did not meet it")
    cleared = run.cleared
    if run.situation.fault_role == "authorize":
        ok = [e for e in ev.code_exchanges(ev.acted(run)) if e.status == 200 and e.sent >= cleared]
        what = "no link was made"
    else:
        ok = [e for e in ev.acted(run) if e.role == "api" and e.status == 200 and e.sent >= cleared]
        what = "the app read no account API answer 200"
    if not ok:
        return failed(f"after certify lifted the fault {what}")
    return passed(f"working again after the fault was lifted ({seqs(ok[:1])})", ok[:1])


for _situation in ("closed-authorize", "congested-authorize"):
    judge(f"{_situation}.no-storm")(honours_retry_after)
    judge(f"{_situation}.recovers")(recovers)
for _situation in ("closed-api", "congested-api"):
    judge(f"{_situation}.retry-after")(honours_retry_after)
    judge(f"{_situation}.recovers")(recovers)


# -- tokens: expiry, rotation, the grant's end, revocation, the move ----------------------------


@judge("token-expiry.refresh")
def refreshed(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §6: a new access token from the refresh token."""
    acted = ev.acted(run)
    if not any(e.role in ("api", "token") for e in acted):
        return nothing_done(run)
    ok = [e for e in ev.refreshes(acted) if e.status == 200]
    if not ok:
        return failed("the app did not get a new access token with its refresh token", acted[:5])
    fresh_tokens = {
        str(e.response_json.get("access_token")) for e in ok if isinstance(e.response_json, dict)
    }
    read = [e for e in acted if e.role == "api" and e.status == 200 and e.bearer in fresh_tokens]
    if not read:
        return failed("the app did not read the account API with the refreshed token", ok)
    return passed(
        f"refreshed ({seqs(ok[:1])}) and read the account ({seqs(read[:1])})", ok[:1] + read[:1]
    )


@judge("token-expiry.no-relink")
def no_relink(run: SituationRun, ev: Evidence) -> Outcome:
    """R-AUTHZ-1: within the 30 days, no second trip through the bank's screens."""
    acted = ev.acted(run)
    if not acted:
        return nothing_done(run)
    again = ev.authorizations(acted)
    if again:
        return failed(f"the app started a new authorization ({seqs(again)})", again)
    return passed("no new authorization while the grant lasted")


@judge("token-expiry.rotation")
def rotation(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 6749 §6 and §10.4: a refresh token that was exchanged is not sent again."""
    refreshes = ev.refreshes(ev.exchanges)
    exchanged: dict[str, Exchange] = {}
    again: list[Exchange] = []
    for e in refreshes:
        token = e.form.get("refresh_token", "")
        earlier = exchanged.get(token)
        if earlier is not None and earlier.answered <= e.sent:
            again.append(e)
        if e.status == 200 and token not in exchanged:
            exchanged[token] = e
    if not exchanged:
        return not_applicable("the app never exchanged a refresh token in the run")
    if again:
        return failed(f"a refresh token sent again after it was exchanged: {seqs(again)}", again)
    return passed(f"{len(exchanged)} refresh tokens, each exchanged once", list(exchanged.values()))


def relinked(run: SituationRun, ev: Evidence, account: str | None = None) -> Outcome:
    """R-FLOW-9, R-AUTHZ-3, R-ACCT-3: a new link, and the account read through it."""
    acted = ev.acted(run)
    if not acted:
        return nothing_done(run)
    asked = ev.authorizations(acted)
    if not asked:
        return failed("the app never started a new authorization", acted[:5])
    links = [e for e in ev.code_exchanges(acted) if e.status == 200]
    if not links:
        return failed("no new link was made (no code exchanged)", asked[:3])
    fresh_tokens = {t for e in links for t in ev.links.tokens.get(e.seq, set())}
    read = [e for e in acted if e.role == "api" and e.status == 200 and e.bearer in fresh_tokens]
    if account is not None:
        read = [e for e in read if shows_account(e, account)]
    if not read:
        where = f" for {account}" if account else ""
        return failed(f"the app did not read the account{where} through the new link", links)
    return passed(
        f"new authorization ({seqs(asked[:1])}), new link ({seqs(links[:1])}), account read "
        f"({seqs(read[:1])})",
        asked[:1] + links[:1] + read[:1],
    )


def shows_account(e: Exchange, account: str) -> bool:
    if e.query.get("accountId") == account:
        return True
    body = e.response_json
    if isinstance(body, dict) and isinstance(body.get("accounts"), list):
        return any(isinstance(a, dict) and a.get("accountId") == account for a in body["accounts"])
    return False


def stops_old(refused: Callable[[Exchange], bool], what: str) -> Judge:
    def decide(run: SituationRun, ev: Evidence) -> Outcome:
        """RFC 6749 §5.2, RFC 6750 §3.1: a refused link's tokens are dropped."""
        acted = ev.acted(run)
        if not acted:
            return nothing_done(run)
        refusals = [e for e in acted if refused(e)]
        if not refusals:
            return not_applicable(f"the bank never answered {what} in this situation")
        dead: set[str] = set()
        for e in refusals:
            for token in tokens_sent(e):
                dead.add(token)
                link = ev.links.link(token)
                if link is not None:
                    dead |= ev.links.tokens.get(link, set())
        first = refusals[0].answered
        again = [
            e
            for e in acted
            if e.role in ("api", "token") and e.sent >= first and tokens_sent(e) & dead
        ]
        if again:
            return failed(
                f"the app sent the refused link's tokens again after {what} "
                f"({seqs(refusals[:1])}): {seqs(again[:10])}",
                refusals[:1] + again[:10],
            )
        return passed(
            f"nothing sent with the refused link after {seqs(refusals[:1])}", refusals[:1]
        )

    return decide


def invalid_grant(e: Exchange) -> bool:
    return e.role == "token" and e.status == 400 and e.error_code == "invalid_grant"


def account_moved(e: Exchange) -> bool:
    return e.role == "api" and e.status == 403 and e.error_code == "account_moved"


for _situation in ("grant-ends", "revoked"):
    judge(f"{_situation}.relink")(relinked)
    judge(f"{_situation}.stops-old")(stops_old(invalid_grant, "invalid_grant"))


@judge("moved.relink")
def moved_relink(run: SituationRun, ev: Evidence) -> Outcome:
    """R-ACCT-3: the old number is refused; the new one is linked and read."""
    moved = run.facts.get("moved")
    if not isinstance(moved, dict):
        return not_judged("certify could not move the account: " + "; ".join(run.problems))
    return relinked(run, ev, str(moved["to"]))


judge("moved.stops-old")(stops_old(account_moved, "account_moved"))


# -- 明細 --------------------------------------------------------------------------------------


def transaction_reads(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in ev.of(run) if e.role == "api" and e.path == TRANSACTIONS]


@judge("transactions.paging")
def paging(run: SituationRun, ev: Evidence) -> Outcome:
    """R-ACCT-4, INTERFACE.md §5: pages of 500 followed with nextItemKey."""
    reads = transaction_reads(run, ev)
    if not reads:
        return not_judged("the app did not read 明細")
    given: set[str] = set()
    invented: list[Exchange] = []
    more: list[Exchange] = []
    for e in reads:
        key = e.query.get("nextItemKey")
        if key and key not in given:
            invented.append(e)
        body = e.response_json
        if e.status == 200 and isinstance(body, dict) and body.get("hasNext"):
            more.append(e)
            given.add(str(body.get("nextItemKey")))
    if invented:
        return failed(f"a nextItemKey the bank never gave, in {seqs(invented)}", invented)
    if not more:
        return not_applicable(
            "no page had more (hasNext was never true): renkei's personas keep fewer than "
            "500 items in the three-month reach",
            reads[:3],
        )
    for page in more:
        key = str(page.response_json["nextItemKey"])
        follow = [
            e
            for e in reads
            if e.seq > page.seq
            and e.query.get("nextItemKey") == key
            and e.query.get("dateFrom") == page.query.get("dateFrom")
            and e.query.get("dateTo") == page.query.get("dateTo")
        ]
        if not follow:
            return failed(f"the next page after {seqs([page])} was never asked for", [page])
    return passed(f"{len(more)} pages with more, each followed", more)


def out_of_range(e: Exchange) -> bool:
    return e.status == 400 and e.error_code == "history_out_of_range"


@judge("transactions.limit")
def limit(run: SituationRun, ev: Evidence) -> Outcome:
    """R-ACCT-4: a period the bank does not keep is not asked again."""
    reads = transaction_reads(run, ev)
    refused = [e for e in reads if out_of_range(e)]
    if not refused:
        if not reads:
            return not_judged("the app did not read 明細")
        return not_applicable("the app never asked further back than the bank keeps", reads[:3])
    again = [
        e
        for e in reads
        if any(e.seq > r.seq and e.query == r.query and e.sent >= r.answered for r in refused)
    ]
    if again:
        return failed(f"the refused query sent again: {seqs(again)}", refused[:1] + again)
    return passed(f"the refused query ({seqs(refused[:1])}) was not repeated", refused[:1])


@judge("transactions.read")
def read_within(run: SituationRun, ev: Evidence) -> Outcome:
    """R-ACCT-4: 明細 within the reach are read."""
    reads = transaction_reads(run, ev)
    if not reads:
        return not_judged("the app did not read 明細")
    last_refusal = max((e.answered for e in reads if out_of_range(e)), default=-1.0)
    ok = [e for e in reads if e.status == 200 and e.sent >= last_refusal]
    if not ok:
        return failed("no 明細 read (200) after the refusal", reads[-3:])
    return passed(f"明細 read ({seqs(ok[:1])})", ok[:1])


# -- unlink --------------------------------------------------------------------------------------


@judge("unlink.revoke")
def revoke(run: SituationRun, ev: Evidence) -> Outcome:
    """RFC 7009 §2.1: revoking the refresh token ends the grant; R-AUTHZ-4 otherwise."""
    acted = ev.acted(run)
    revokes = [e for e in acted if e.role == "revoke"]
    if not revokes:
        if run.timed_out and not acted:
            return nothing_done(run)
        return failed(
            "no revocation request: an app that only forgets its tokens leaves the grant "
            "alive for the rest of its 30 days",
            acted[:3],
        )
    good = [
        e
        for e in revokes
        if e.status == 200
        and (e.basic is not None or "client_secret" in e.form)
        and e.form.get("token") in ev.links.refresh_tokens
    ]
    if not good:
        return failed(
            "no accepted, authenticated revocation of a refresh token (an access token alone "
            "leaves the grant alive)",
            revokes,
        )
    return passed(f"refresh token revoked ({seqs(good[:1])})", good[:1])


def decide(check: Check, run: SituationRun, ev: Evidence) -> Outcome:
    """The outcome of ``check`` in ``run``; a judge's own crash is reported, not raised."""
    fn = JUDGES[check.id]
    try:
        return fn(run, ev)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return not_judged(f"certify could not judge this ({type(error).__name__}: {error})")


def missing_judges() -> set[str]:
    """Checks of the plan without a judge, and judges without a check (both empty)."""
    planned = {c.id for s in PLAN for c in s.checks}
    return planned ^ set(JUDGES)
