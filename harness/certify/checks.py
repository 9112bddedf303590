"""The checks of the certification plan, one class per thing the app must do.

Each class is named for that thing (``SendsS256Challenge``, ``WaitsOutRetryAfter``)
and holds its rule, the evidence it needs (:class:`~harness.certify.judge.Need`)
and its judge; the plan (:mod:`harness.certify.plan`) gives each instance its
id, title, severity and references. A rule is built from the constants its
judge applies, so the certificate always states the bound that was checked.

Times: the bank's ``Retry-After`` (RFC 9110 §10.2.3) is measured from the moment
the proxy passed the refusal on to the moment the next request reached it, with
a tolerance of a tenth of the wait (at most a second) for the app's timer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import ClassVar, Final

from harness.certify.judge import (
    ACTED,
    Check,
    Evidence,
    Need,
    Outcome,
    Result,
    Scope,
    SituationRun,
    failed,
    passed,
    s256,
    seqs,
    tokens_sent,
)
from harness.certify.record import Exchange, Role
from renkei.contract import api, oauth
from renkei.contract.errors import ERRORS
from renkei.contract.screens import CANCEL_PATH, SCREEN_PATHS, Screen

OK: Final = HTTPStatus.OK
UNAVAILABLE: Final = HTTPStatus.SERVICE_UNAVAILABLE
TRANSACTIONS: Final = api.TRANSACTIONS_PATH


# -- what the checks look for: the same selection serves a need and its judge ---------------------


def asked_here(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return ev.authorizations(ev.of(run))


def asked_in_run(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return ev.authorizations(ev.exchanges)


def token_calls_here(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in ev.of(run) if e.role == "token" and ev.mine(e)]


def secret_in_url(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in ev.exchanges if "client_secret" in e.query]


def unscoped_here(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in asked_here(run, ev) if not e.query.get("scope")]


def read_in_run(run: SituationRun, ev: Evidence) -> bool:
    return any(e.role == "api" and e.status == OK for e in ev.exchanges)


def api_calls_here(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in ev.of(run) if e.role == "api"]


def allow_redirects(exchanges: Iterable[Exchange]) -> list[Exchange]:
    """The bank's redirects back to the app with a code (「許可する」), untampered."""
    found = []
    for e in exchanges:
        back = e.returned_to_app()
        if back and back.get("code") and e.location and not e.tampered:
            found.append(e)
    return found


def returns_here(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return allow_redirects(ev.of(run))


def forged_here(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in ev.of(run) if e.tampered]


def redeemed_in_run(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in ev.code_exchanges(ev.exchanges) if e.form.get("code")]


def acted_with_tokens(run: SituationRun, ev: Evidence) -> bool:
    return any(e.role in ("api", "token") for e in ev.acted(run))


def refreshed_in_run(run: SituationRun, ev: Evidence) -> bool:
    return any(e.status == OK for e in ev.refreshes(ev.exchanges))


def transaction_reads(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in ev.of(run) if e.role == "api" and e.path == TRANSACTIONS]


def first_reads(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return transaction_reads(run, ev)[:3]


AUTHORIZED = Need("the app sent no authorization request", asked_here)
TOKEN_REQUESTED = Need("the app made no token request", token_calls_here)
READ_DETAILS = Need("the app did not read 明細", transaction_reads)
ACTED_WITH_TOKENS = Need(ACTED.missing, acted_with_tokens)


# -- the happy path: PKCE, state, redirect URI, client authentication, bearer, scope ---------------


@dataclass(frozen=True)
class SendsS256Challenge(Check):
    """RFC 7636 §4.2–4.3: a challenge of the S256 method on every authorization request."""

    METHOD: ClassVar[str] = oauth.CODE_CHALLENGE_METHODS[0]
    CHALLENGE: ClassVar[re.Pattern[str]] = re.compile(oauth.CODE_CHALLENGE_PATTERN)

    @property
    def rule(self) -> str:
        return (
            f"every authorization request carries a code_challenge of the {self.METHOD} method "
            f"({oauth.CODE_CHALLENGE_LENGTH} base64url characters) and "
            f"code_challenge_method={self.METHOD}"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (AUTHORIZED,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        asked = asked_here(run, ev)
        bad = [
            e
            for e in asked
            if e.query.get("code_challenge_method") != self.METHOD
            or not self.CHALLENGE.fullmatch(e.query.get("code_challenge", ""))
        ]
        if bad:
            return failed(f"no {self.METHOD} code_challenge in {seqs(bad)}", bad)
        return passed(
            f"{self.METHOD} challenge in every authorization request ({seqs(asked)})", asked
        )


@dataclass(frozen=True)
class SendsUnguessableState(Check):
    """RFC 6749 §10.12 and §10.10: a state nobody can guess — 128 bits (§10.10's bound
    for a guess) in base64url, and some variety."""

    bits: int = 128
    variety: int = 8

    @property
    def length(self) -> int:
        """Characters of base64url (6 bits each) that carry ``bits``."""
        return math.ceil(self.bits / 6)

    @property
    def rule(self) -> str:
        return (
            f"every authorization request carries a state of at least {self.length} characters "
            f"({self.bits} bits in base64url) drawn from at least {self.variety} different "
            "characters"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (AUTHORIZED,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        asked = asked_here(run, ev)
        bad = [
            e
            for e in asked
            if len(e.query.get("state", "")) < self.length
            or len(set(e.query.get("state", ""))) < self.variety
        ]
        if bad:
            return failed(
                f"state missing or guessable (under {self.length} characters or under "
                f"{self.variety} different ones) in {seqs(bad)}",
                bad,
            )
        return passed(f"an unguessable state in {seqs(asked)}", asked)


@dataclass(frozen=True)
class NeverRepeatsStateOrChallenge(Check):
    """RFC 7636 §4.1 and §7.1, RFC 6749 §10.12: a new verifier and state each time."""

    scope: ClassVar[Scope] = "run"
    PARAMETERS: ClassVar[tuple[str, ...]] = ("state", "code_challenge")

    @property
    def rule(self) -> str:
        return (
            f"no {' and no '.join(reversed(self.PARAMETERS))} is sent in two authorization "
            "requests of the run"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (Need("the app sent no authorization request in the run", asked_in_run),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        asked = asked_in_run(run, ev)
        repeated: list[Exchange] = []
        for name in self.PARAMETERS:
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


@dataclass(frozen=True)
class UsesTheRegisteredRedirectUri(Check):
    """RFC 6749 §3.1.2 and §4.1.3: the registered URI, exactly, and the same one again."""

    @property
    def rule(self) -> str:
        return (
            "the authorization request names redirect_uri and the bank accepts it (no error "
            "page); the token request repeats the same redirect_uri"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (AUTHORIZED,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        asked = asked_here(run, ev)
        bad = [
            e
            for e in asked
            if not e.query.get("redirect_uri") or e.status == HTTPStatus.BAD_REQUEST
        ]
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
        uris = {e.query["redirect_uri"] for e in asked_in_run(run, ev)}
        redeemed = ev.code_exchanges(ev.of(run))
        wrong = [e for e in redeemed if e.form.get("redirect_uri") not in uris]
        if wrong:
            return failed(
                "the token request's redirect_uri is not the authorization request's in "
                f"{seqs(wrong)}",
                wrong,
            )
        return passed(
            f"redirect_uri accepted and repeated ({seqs(asked + redeemed)})", asked + redeemed
        )


@dataclass(frozen=True)
class AuthenticatesTheClient(Check):
    """RFC 6749 §2.3.1 and §3.2.1: the client authenticates; its secret stays out of URLs."""

    @property
    def rule(self) -> str:
        return (
            "every token request authenticates the client (HTTP Basic or client_secret_post) "
            "and the bank accepts it; the client secret never appears in a URL"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        # A secret in a URL fails the check whether or not a token request followed.
        return (TOKEN_REQUESTED.unless(secret_in_url),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        leaks = secret_in_url(run, ev)
        if leaks:
            return failed(f"client_secret in a URL in {seqs(leaks)}", leaks)
        calls = token_calls_here(run, ev)
        bad = [
            e
            for e in calls
            if (e.basic is None and "client_secret" not in e.form)
            or e.status == HTTPStatus.UNAUTHORIZED
            or e.error_code == "invalid_client"
        ]
        if bad:
            return failed(
                f"the client did not authenticate, or the bank refused it, in {seqs(bad)}", bad
            )
        return passed(f"the client authenticated in {seqs(calls)}", calls)


@dataclass(frozen=True)
class PrefersHttpBasic(Check):
    """RFC 6749 §2.3.1: the secret in the request body is NOT RECOMMENDED."""

    @property
    def rule(self) -> str:
        return (
            "token requests authenticate with HTTP Basic (the secret in the request body is "
            "NOT RECOMMENDED)"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (TOKEN_REQUESTED,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        calls = token_calls_here(run, ev)
        bad = [e for e in calls if e.basic is None]
        if bad:
            return failed(f"no HTTP Basic authentication in {seqs(bad)}", bad)
        return passed(f"HTTP Basic in {seqs(calls)}", calls)


@dataclass(frozen=True)
class RedeemsTheCodeWithItsVerifier(Check):
    """RFC 6749 §4.1.3, RFC 7636 §4.5: the code redeemed with the matching verifier."""

    METHOD: ClassVar[str] = oauth.CODE_CHALLENGE_METHODS[0]

    @property
    def rule(self) -> str:
        return (
            "the code of 許可する's redirect goes to the token endpoint with the code_verifier "
            f"whose {self.METHOD} is the authorization request's challenge, and tokens are issued"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (
            Need("the customer never got back to the app with a code (許可する)", returns_here),
        )

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        challenges = {
            e.query.get("state"): e.query.get("code_challenge", "") for e in asked_in_run(run, ev)
        }
        shown: list[Exchange] = []
        for back in returns_here(run, ev):
            values = back.returned_to_app() or {}
            uses = [
                e for e in ev.code_exchanges(ev.exchanges) if e.form.get("code") == values["code"]
            ]
            if not uses:
                return failed(
                    f"the code of {seqs([back])} never reached the token endpoint", [back]
                )
            first = uses[0]
            verifier = first.form.get("code_verifier", "")
            if not verifier or s256(verifier) != challenges.get(values.get("state")):
                return failed(
                    f"no code_verifier matching the authorization request's challenge in "
                    f"{seqs([first])}",
                    [back, first],
                )
            if first.status != OK:
                return failed(f"the bank refused the code exchange {seqs([first])}", [back, first])
            shown += [back, first]
        return passed(f"code exchanged with its verifier ({seqs(shown)})", shown)


@dataclass(frozen=True)
class SendsBearerInTheHeader(Check):
    """RFC 6750 §2.1 and §5.3: the token in the Authorization header, never in the URL."""

    @property
    def rule(self) -> str:
        return (
            "account API calls carry 'Authorization: Bearer …', never access_token in the "
            f"URL, and the bank answers them {OK:d}"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (Need("the app did not call the account API", api_calls_here),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        calls = api_calls_here(run, ev)
        bad = [e for e in calls if e.bearer is None or "access_token" in e.query]
        if bad:
            return failed(f"no Authorization: Bearer (or a token in the URL) in {seqs(bad)}", bad)
        read = [e for e in calls if e.status == OK]
        if not read:
            return failed(
                f"the bank answered none of the account API calls {OK:d} ({seqs(calls)})", calls
            )
        return passed(f"Bearer tokens in the header, {len(read)} answers {OK:d}", calls)


@dataclass(frozen=True)
class AsksOnlyForScopesItUses(Check):
    """RFC 6749 §3.3: ask for what the app uses."""

    #: the scope whose use shows in the record: the app reads 明細
    SHOWN: ClassVar[str] = api.SCOPE_OF[TRANSACTIONS]

    @property
    def rule(self) -> str:
        return (
            "the authorization request asks for scope explicitly, and asks for "
            f"'{self.SHOWN}' only if the app reads 明細 during the run"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        # Whether the scopes are used needs an account read; asking for none fails without.
        read = Need("the app never read the account API in the run", read_in_run)
        return (AUTHORIZED, read.unless(unscoped_here))

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        asked = asked_here(run, ev)
        unscoped = unscoped_here(run, ev)
        if unscoped:
            return failed(
                f"no scope asked in {seqs(unscoped)}: the bank gives every scope", unscoped
            )
        wanted = {s for e in asked for s in e.query["scope"].split()}
        reads = [e for e in ev.exchanges if e.role == "api" and e.path == TRANSACTIONS]
        if self.SHOWN in wanted and not reads:
            return failed(f"asked for '{self.SHOWN}' but never read 明細 in the run", asked)
        return passed(f"scope {' '.join(sorted(wanted))}, each used", asked)


# -- the forged return and the replayed code ---------------------------------------------------


@dataclass(frozen=True)
class RefusesAForgedReturn(Check):
    """RFC 6749 §10.12: a return whose state the app did not send is refused."""

    scope: ClassVar[Scope] = "run"

    @property
    def rule(self) -> str:
        return (
            "the code of the return whose state the app did not send never reaches the "
            "token endpoint"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (Need("no redirect back from 許可する passed the proxy to be forged", forged_here),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        forged = forged_here(run, ev)
        code = forged[0].tampered["code"] if forged[0].tampered else ""
        used = [e for e in ev.code_exchanges(ev.exchanges) if e.form.get("code") == code]
        if used:
            return failed(
                f"the app redeemed the forged return's code in {seqs(used)}", forged + used
            )
        return passed(f"the forged return ({seqs(forged)}) was not redeemed", forged)


@dataclass(frozen=True)
class RedeemsACodeOnce(Check):
    """RFC 6749 §4.1.2 and §10.5: an authorization code is used once."""

    scope: ClassVar[Scope] = "run"

    @property
    def rule(self) -> str:
        return "no authorization code reaches the token endpoint twice"

    @property
    def needs(self) -> tuple[Need, ...]:
        return (Need("the app redeemed no code in the run", redeemed_in_run),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        uses = redeemed_in_run(run, ev)
        seen: set[str] = set()
        again: list[Exchange] = []
        for e in uses:
            code = e.form["code"]
            if code in seen:
                again.append(e)
            seen.add(code)
        if again:
            return failed(
                f"a code sent to the token endpoint a second time in {seqs(again)}", again
            )
        return passed(f"{len(uses)} codes, each redeemed once", uses)


# -- the flow ends without a code ---------------------------------------------------------------


@dataclass(frozen=True)
class FlowEnd:
    """How a flow ends without a code: as the judge finds it, as its rule says it
    ("returns access_denied") and as its details name it."""

    said: str
    named: str
    found: Callable[[Exchange], bool]


def cancelled(e: Exchange) -> bool:
    back = e.returned_to_app() or {}
    return (
        e.path in (CANCEL_PATH, SCREEN_PATHS[Screen.CONSENT.value])
        and back.get("error") == "access_denied"
    )


def ends_with(code: str) -> FlowEnd:
    """The flow's last screen shows ``code`` (R-ERR-HOST-3, R-ERR-HOST-4)."""
    return FlowEnd(f"ends with {code}", code, lambda e: code in e.error_codes)


CANCELLED: Final = FlowEnd(
    "returns access_denied", "access_denied (中止する / 拒否する)", cancelled
)


@dataclass(frozen=True)
class StopsAfterTheFlowEnds(Check):
    """R-FLOW-7, R-ERR-HOST-3/4, RFC 6749 §4.1.2.1: the attempt is over."""

    end: FlowEnd

    @property
    def rule(self) -> str:
        return (
            f"after the flow {self.end.said} the app does not start a new authorization by itself"
        )

    def ends(self, run: SituationRun, ev: Evidence) -> list[Exchange]:
        return [e for e in ev.of(run) if self.end.found(e)]

    @property
    def needs(self) -> tuple[Need, ...]:
        return (Need(f"the flow never ended with {self.end.named}", self.ends),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        ends = self.ends(run, ev)
        after = [e for e in asked_here(run, ev) if e.sent >= ends[0].answered]
        if after:
            return failed(
                f"a new authorization by the app after {self.end.named} ({seqs(ends[:1])}): "
                f"{seqs(after)}",
                ends[:1] + after,
            )
        return passed(f"no new authorization after {self.end.named} ({seqs(ends[:1])})", ends[:1])


# -- faults: out of hours and congestion ---------------------------------------------------------


@dataclass(frozen=True)
class FaultSite:
    """Where the app meets a fault of the plan (R-ERR-SYS-1/2), and how the rules
    and details name what happens there."""

    #: the requests that meet the fault's 503
    role: Role
    #: what the app sends there, in the rules' words
    requests: str
    #: the bank's answer there, in the rules' words
    refusal: str
    #: working again there, in the rule's words; and the detail when the app did not
    recovered: str
    not_recovered: str


#: The authorization request: the browser gets the 503, the app an error return
#: (temporarily_unavailable), which is why the rule speaks of a refusal.
AT_AUTHORIZATION: Final = FaultSite(
    "authorize",
    "authorization request",
    "refusal",
    "the customer can link through the app",
    "no link was made",
)
ON_THE_API: Final = FaultSite(
    "api",
    "account API request",
    f"{UNAVAILABLE:d}",
    f"the app reads the account API again ({OK:d})",
    f"the app read no account API answer {OK:d}",
)


@dataclass(frozen=True)
class WaitsOutRetryAfter(Check):
    """RFC 9110 §10.2.3 with R-ERR-SYS-1/2: no request sooner than the bank said."""

    on: FaultSite
    #: the fault in the rule's words: "the bank is closed"
    fault: str
    #: the part of the wait allowed for the app's timer (a tenth), and at most a second
    SLACK: ClassVar[int] = 10
    MOST_SLACK: ClassVar[float] = 1.0

    @property
    def rule(self) -> str:
        return (
            f"while {self.fault}, the app sends no {self.on.requests} sooner than the "
            f"Retry-After of the bank's last {self.on.refusal}"
        )

    def tolerance(self, wait: float) -> float:
        return min(self.MOST_SLACK, wait / self.SLACK)

    def requests(self, run: SituationRun, ev: Evidence) -> list[Exchange]:
        return [e for e in ev.acted(run) if e.role == self.on.role]

    def refusals(self, run: SituationRun, ev: Evidence) -> list[Exchange]:
        """The bank's 503s while the fault was on."""
        until = run.cleared if run.cleared is not None else run.ended
        return [
            e for e in self.requests(run, ev) if e.status == UNAVAILABLE and e.answered <= until
        ]

    @property
    def needs(self) -> tuple[Need, ...]:
        met = f"the app never met the refusal (no {UNAVAILABLE:d} while the fault was on)"
        return (Need(met, self.refusals),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        until = run.cleared if run.cleared is not None else run.ended
        refusals = self.refusals(run, ev)
        early: list[Exchange] = []
        for e in self.requests(run, ev):
            if e.sent >= until:
                continue  # the fault was lifted: the customer may try again
            before = [r for r in refusals if r.answered <= e.sent]
            if not before:
                continue
            last = before[-1]
            wait = last.retry_after
            if wait is not None and e.sent < last.answered + wait - self.tolerance(wait):
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


FAULT_LIFTED = Need(
    "certify never lifted the fault: the app did not meet it",
    lambda run, ev: run.cleared is not None,
)


@dataclass(frozen=True)
class WorksOnceTheFaultIsLifted(Check):
    """R-ERR-SYS-1/2: the fault passes and the app works again."""

    on: FaultSite

    @property
    def rule(self) -> str:
        return f"once certify has lifted the fault, {self.on.recovered}"

    @property
    def needs(self) -> tuple[Need, ...]:
        return (FAULT_LIFTED,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        # An OK answered once the lift had begun: the bank answers again. Not "sent after
        # the lift had ended": a request sent while the lift was under way can be the
        # first the bank answers, and the app, answered, sends no other.
        lifted = run.lifting if run.lifting is not None else run.ended
        acted = [e for e in ev.acted(run) if e.answered >= lifted and e.status == OK]
        if self.on is AT_AUTHORIZATION:
            ok = ev.code_exchanges(acted)  # a link made: the code exchanged
        else:
            ok = [e for e in acted if e.role == self.on.role]
        if not ok:
            return failed(f"after certify lifted the fault {self.on.not_recovered}")
        return passed(f"working again after the fault was lifted ({seqs(ok[:1])})", ok[:1])


# -- tokens: expiry, rotation, the grant's end, revocation, the move ----------------------------


@dataclass(frozen=True)
class RefreshesTheAccessToken(Check):
    """RFC 6749 §6: a new access token from the refresh token."""

    GRANT: ClassVar[str] = "refresh_token"

    @property
    def rule(self) -> str:
        return (
            f"the app obtains a new access token with grant_type={self.GRANT} and reads the "
            "account API with it"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (ACTED_WITH_TOKENS,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        acted = ev.acted(run)
        ok = [e for e in ev.refreshes(acted) if e.status == OK]
        if not ok:
            return failed(
                "the app did not get a new access token with its refresh token", acted[:5]
            )
        fresh_tokens = {
            str(e.response_json.get("access_token"))
            for e in ok
            if isinstance(e.response_json, dict)
        }
        read = [e for e in acted if e.role == "api" and e.status == OK and e.bearer in fresh_tokens]
        if not read:
            return failed("the app did not read the account API with the refreshed token", ok)
        return passed(
            f"refreshed ({seqs(ok[:1])}) and read the account ({seqs(read[:1])})",
            ok[:1] + read[:1],
        )


@dataclass(frozen=True)
class KeepsTheLinkWhileTheGrantLasts(Check):
    """R-AUTHZ-1: within the 30 days, no second trip through the bank's screens."""

    @property
    def rule(self) -> str:
        return (
            "the app does not send the customer through the flow again while the 30-day "
            "grant still lasts"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (ACTED,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        again = ev.authorizations(ev.acted(run))
        if again:
            return failed(f"the app started a new authorization ({seqs(again)})", again)
        return passed("no new authorization while the grant lasted")


@dataclass(frozen=True)
class UsesARotatedRefreshTokenOnce(Check):
    """RFC 6749 §6 and §10.4: a refresh token that was exchanged is not sent again."""

    scope: ClassVar[Scope] = "run"

    @property
    def rule(self) -> str:
        return (
            "once a refresh token has been exchanged, the app uses the new one: no refresh "
            "token is sent again after a successful refresh"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (
            Need(
                "the app never exchanged a refresh token in the run",
                refreshed_in_run,
                Result.NOT_APPLICABLE,
            ),
        )

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        exchanged: dict[str, Exchange] = {}
        again: list[Exchange] = []
        for e in ev.refreshes(ev.exchanges):
            token = e.form.get("refresh_token", "")
            earlier = exchanged.get(token)
            if earlier is not None and earlier.answered <= e.sent:
                again.append(e)
            if e.status == OK and token not in exchanged:
                exchanged[token] = e
        if again:
            return failed(
                f"a refresh token sent again after it was exchanged: {seqs(again)}", again
            )
        return passed(
            f"{len(exchanged)} refresh tokens, each exchanged once", list(exchanged.values())
        )


def shows_account(e: Exchange, account: str) -> bool:
    if e.query.get("accountId") == account:
        return True
    body = e.response_json
    if isinstance(body, dict) and isinstance(body.get("accounts"), list):
        return any(isinstance(a, dict) and a.get("accountId") == account for a in body["accounts"])
    return False


def relinked(run: SituationRun, ev: Evidence, account: str | None = None) -> Outcome:
    """R-FLOW-9, R-AUTHZ-3, R-ACCT-3: a new link, and the account read through it."""
    acted = ev.acted(run)
    asked = ev.authorizations(acted)
    if not asked:
        return failed("the app never started a new authorization", acted[:5])
    links = [e for e in ev.code_exchanges(acted) if e.status == OK]
    if not links:
        return failed("no new link was made (no code exchanged)", asked[:3])
    fresh_tokens = {t for e in links for t in ev.links.tokens.get(e.seq, set())}
    read = [e for e in acted if e.role == "api" and e.status == OK and e.bearer in fresh_tokens]
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


@dataclass(frozen=True)
class LinksAgain(Check):
    """R-FLOW-9, R-AUTHZ-3: after the bank ends the link, the customer links again."""

    #: what ended the link, in the rule's words: "the 30-day grant has ended"
    after: str

    @property
    def rule(self) -> str:
        return (
            f"after {self.after}, the app starts a new authorization, the customer links again "
            "and the app reads the account API with the new tokens"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (ACTED,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        return relinked(run, ev)


MOVED_ACCOUNT = Need(
    "certify could not move the account: {problems}", lambda run, ev: run.moved_to is not None
)


@dataclass(frozen=True)
class LinksTheMovedAccount(Check):
    """R-ACCT-3: the old number is refused; the new one is linked and read."""

    @property
    def rule(self) -> str:
        return (
            "after the bank refuses the old account, the app starts a new authorization, the "
            "customer links the new number and the app reads the new account"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        return (MOVED_ACCOUNT, ACTED)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        return relinked(run, ev, run.moved_to)


@dataclass(frozen=True)
class Refusal:
    """An answer that ends a link (INTERFACE.md §1, §5): its code, the requests it
    answers, and in the rule's words who gives it and what the app must drop."""

    code: str
    role: Role
    status: int
    by: str
    dropped: str

    def __call__(self, e: Exchange) -> bool:
        return e.role == self.role and e.status == self.status and e.error_code == self.code


#: RFC 6749 §5.2: the token endpoint's refusal of a refresh token whose grant has ended.
INVALID_GRANT: Final = Refusal(
    "invalid_grant", "token", HTTPStatus.BAD_REQUEST, "the bank", "refresh or access token"
)
ACCOUNT_MOVED: Final = Refusal(
    "account_moved", "api", ERRORS["account_moved"].status, "the account API", "tokens"
)


@dataclass(frozen=True)
class DropsTheRefusedLink(Check):
    """RFC 6749 §5.2, RFC 6750 §3.1: a refused link's tokens are dropped."""

    refusal: Refusal

    @property
    def rule(self) -> str:
        r = self.refusal
        return (
            f"once {r.by} has answered {r.code}, the app never sends that link's {r.dropped} again"
        )

    def refusals(self, run: SituationRun, ev: Evidence) -> list[Exchange]:
        return [e for e in ev.acted(run) if self.refusal(e)]

    @property
    def needs(self) -> tuple[Need, ...]:
        never = f"the bank never answered {self.refusal.code} in this situation"
        return (ACTED, Need(never, self.refusals, Result.NOT_APPLICABLE))

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        acted = ev.acted(run)
        refusals = self.refusals(run, ev)
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
                f"the app sent the refused link's tokens again after {self.refusal.code} "
                f"({seqs(refusals[:1])}): {seqs(again[:10])}",
                refusals[:1] + again[:10],
            )
        return passed(
            f"nothing sent with the refused link after {seqs(refusals[:1])}", refusals[:1]
        )


# -- 明細 --------------------------------------------------------------------------------------


def out_of_range(e: Exchange) -> bool:
    return (
        e.status == ERRORS["history_out_of_range"].status and e.error_code == "history_out_of_range"
    )


def pages_with_more(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [
        e
        for e in transaction_reads(run, ev)
        if e.status == OK and isinstance(e.response_json, dict) and e.response_json.get("hasNext")
    ]


def invented_keys(run: SituationRun, ev: Evidence) -> list[Exchange]:
    """Reads with a nextItemKey no earlier page gave."""
    given: set[str] = set()
    invented: list[Exchange] = []
    for e in transaction_reads(run, ev):
        key = e.query.get("nextItemKey")
        if key and key not in given:
            invented.append(e)
        body = e.response_json
        if e.status == OK and isinstance(body, dict) and body.get("hasNext"):
            given.add(str(body.get("nextItemKey")))
    return invented


def refused_reads(run: SituationRun, ev: Evidence) -> list[Exchange]:
    return [e for e in transaction_reads(run, ev) if out_of_range(e)]


@dataclass(frozen=True)
class FollowsPages(Check):
    """R-ACCT-4, INTERFACE.md §5: pages of 明細 followed with nextItemKey."""

    #: what the next page's request repeats of the page before
    KEPT: ClassVar[tuple[str, ...]] = ("dateFrom", "dateTo")

    @property
    def rule(self) -> str:
        return (
            "when a page says hasNext, the app asks for the next one with its nextItemKey and "
            f"the same {' and '.join(self.KEPT)}, and never sends a nextItemKey it was not given"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        more = Need(
            "no page had more (hasNext was never true): renkei's personas keep fewer than "
            "500 items in the three-month reach",
            pages_with_more,
            Result.NOT_APPLICABLE,
            shows=first_reads,
        )
        # A key the bank never gave fails the check whether or not a page had more.
        return (READ_DETAILS, more.unless(invented_keys))

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        invented = invented_keys(run, ev)
        if invented:
            return failed(f"a nextItemKey the bank never gave, in {seqs(invented)}", invented)
        reads = transaction_reads(run, ev)
        more = pages_with_more(run, ev)
        for page in more:
            key = str(page.response_json["nextItemKey"])
            follow = [
                e
                for e in reads
                if e.seq > page.seq
                and e.query.get("nextItemKey") == key
                and all(e.query.get(name) == page.query.get(name) for name in self.KEPT)
            ]
            if not follow:
                return failed(f"the next page after {seqs([page])} was never asked for", [page])
        return passed(f"{len(more)} pages with more, each followed", more)


@dataclass(frozen=True)
class DoesNotRepeatARefusedPeriod(Check):
    """R-ACCT-4: a period the bank does not keep is not asked again."""

    @property
    def rule(self) -> str:
        return "after history_out_of_range, the app does not send the same query again"

    @property
    def needs(self) -> tuple[Need, ...]:
        never = Need(
            "the app never asked further back than the bank keeps",
            refused_reads,
            Result.NOT_APPLICABLE,
            shows=first_reads,
        )
        return (READ_DETAILS, never)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        reads = transaction_reads(run, ev)
        refused = refused_reads(run, ev)
        again = [
            e
            for e in reads
            if any(e.seq > r.seq and e.query == r.query and e.sent >= r.answered for r in refused)
        ]
        if again:
            return failed(f"the refused query sent again: {seqs(again)}", refused[:1] + again)
        return passed(f"the refused query ({seqs(refused[:1])}) was not repeated", refused[:1])


@dataclass(frozen=True)
class ReadsWithinTheReach(Check):
    """R-ACCT-4: 明細 within the reach are read."""

    @property
    def rule(self) -> str:
        return f"the app reads 明細 ({OK:d}) in this situation, after any refused query"

    @property
    def needs(self) -> tuple[Need, ...]:
        return (READ_DETAILS,)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        reads = transaction_reads(run, ev)
        last_refusal = max((e.answered for e in reads if out_of_range(e)), default=-1.0)
        ok = [e for e in reads if e.status == OK and e.sent >= last_refusal]
        if not ok:
            return failed(f"no 明細 read ({OK:d}) after the refusal", reads[-3:])
        return passed(f"明細 read ({seqs(ok[:1])})", ok[:1])


# -- unlink --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevokesTheRefreshToken(Check):
    """RFC 7009 §2.1: revoking the refresh token ends the grant; R-AUTHZ-4 otherwise."""

    @property
    def rule(self) -> str:
        return (
            f"the app sends its refresh token to {oauth.REVOKE_PATH} with client authentication "
            "and the bank accepts it (revoking only the access token leaves the grant alive)"
        )

    @property
    def needs(self) -> tuple[Need, ...]:
        # Not revoking is a failure once the tester said done; only silence until the
        # timeout leaves nothing to judge.
        return (ACTED.unless(lambda run, ev: not run.timed_out),)

    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        acted = ev.acted(run)
        revokes = [e for e in acted if e.role == "revoke"]
        if not revokes:
            return failed(
                "no revocation request: an app that only forgets its tokens leaves the grant "
                "alive for the rest of its 30 days",
                acted[:3],
            )
        good = [
            e
            for e in revokes
            if e.status == OK
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
