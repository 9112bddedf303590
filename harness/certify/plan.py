"""The certification plan: the situations a partner app is put through, in order,
and the checks that judge each (issue 8, deliverable 1).

This module is data. Every check names the requirements it enforces — IDs of
REQUIREMENTS.md (``R-…``) or RFC clauses (RFC 6749 OAuth 2.0, RFC 7636 PKCE,
RFC 6750 bearer tokens, RFC 7009 revocation, RFC 9110 for ``Retry-After``) — and
a severity, in the manner of the OpenID Foundation's conformance suite:

* ``failure``: the app breaks the contract; no certificate while one fails;
* ``warning``: the app works but does something the specification advises
  against; the certificate is issued with the warning;
* ``review``: judged automatically, but a person should look at the evidence
  before relying on the result (it never decides the verdict).

A situation says which persona of the scenario the tester uses, whether the app
must first hold a fresh link (so that each situation stands on its own and one
misbehaviour does not spill into the next), what certify does to the sandbox
(:class:`Setup`) and, for the faults, on which requests the app meets the
refusal (``fault_role``): certify keeps the fault on until the app has met it
and a little longer (``--hold``), then lifts it. How each check is decided is
:mod:`harness.certify.judge`; how each setup is made is
:mod:`harness.certify.runner`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


class Severity(StrEnum):
    FAILURE = "failure"
    WARNING = "warning"
    REVIEW = "review"


class Setup(StrEnum):
    """What certify does to the sandbox once the situation's link (if any) is made."""

    NONE = "none"
    #: the proxy replaces ``state`` in the bank's next redirect to the app (a forged return)
    TAMPER_STATE = "tamper-state"
    #: an ad-hoc maintenance window from now (R-HOURS-6), lifted by moving the clock past it
    MAINTENANCE = "maintenance"
    #: PUT /sandbox/faults {"congestion": true}, lifted by switching it off
    CONGESTION = "congestion"
    #: the clock moves past the access token's lifetime
    EXPIRE_ACCESS = "expire-access"
    #: the clock moves past the end of the 30-day 認可期間 of the app's newest grant
    END_GRANT = "end-grant"
    #: POST /admin/grants/{id}/revoke for every active grant of the app
    REVOKE = "revoke"
    #: POST /admin/accounts/move: the account of the app's newest grant moves branch
    MOVE = "move"


Scope = Literal["situation", "run"]
Role = Literal["authorize", "api"]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    requirements: tuple[str, ...]
    #: what the app must do for the check to pass, as the certificate states it
    rule: str
    #: ``run``: judged over the whole run's requests at its end (a code or token
    #: reused in any later situation counts), not only the situation's own
    scope: Scope = "situation"


@dataclass(frozen=True)
class Situation:
    id: str
    title: str
    #: the persona (of the scenario's ``personas``) the tester links or fails with
    persona: str
    #: whether the app must hold a fresh link before the setup is made
    needs_link: bool
    setup: Setup
    #: where the fault of MAINTENANCE or CONGESTION is met: the authorization
    #: request (in the browser) or the account API (by the app)
    fault_role: Role | None
    #: what the tester does in the app once the setup is made; ``{persona}``,
    #: ``{account}``, ``{moved_to}`` and ``{until}`` are filled in by the runner
    instructions: str
    checks: tuple[Check, ...]
    #: what the tester does once certify has lifted the fault
    reopened: str = ""


F, W, R = Severity.FAILURE, Severity.WARNING, Severity.REVIEW

HAPPY = Situation(
    "happy-path",
    "the customer links the app and the app reads the account",
    "manual",
    needs_link=False,
    setup=Setup.NONE,
    fault_role=None,
    instructions=(
        "Link the app as {persona} (account {account}): walk ① to ⑥ in the bank's screens, "
        "press 許可する, then let the app show the account, its balance and this month's "
        "transactions."
    ),
    checks=(
        Check(
            "happy-path.pkce",
            "PKCE with S256",
            F,
            ("RFC 7636 §4.2", "RFC 7636 §4.3"),
            "every authorization request carries a code_challenge of the S256 method "
            "(43 base64url characters) and code_challenge_method=S256",
        ),
        Check(
            "happy-path.state",
            "an unguessable state",
            F,
            ("RFC 6749 §10.12", "RFC 6749 §10.10", "RFC 6749 §4.1.1"),
            "every authorization request carries a state of at least 22 characters "
            "(128 bits in base64url) drawn from at least 8 different characters",
        ),
        Check(
            "happy-path.fresh",
            "a fresh verifier and state for every authorization",
            F,
            ("RFC 7636 §4.1", "RFC 7636 §7.1", "RFC 6749 §10.12"),
            "no code_challenge and no state is sent in two authorization requests of the run",
            scope="run",
        ),
        Check(
            "happy-path.redirect-uri",
            "the exact registered redirect URI",
            F,
            ("RFC 6749 §3.1.2", "RFC 6749 §4.1.3", "RFC 6749 §10.6"),
            "the authorization request names redirect_uri and the bank accepts it (no error "
            "page); the token request repeats the same redirect_uri",
        ),
        Check(
            "happy-path.client-auth",
            "client authentication at the token endpoint",
            F,
            ("RFC 6749 §2.3.1", "RFC 6749 §3.2.1", "RFC 6749 §10.1"),
            "every token request authenticates the client (HTTP Basic or client_secret_post) "
            "and the bank accepts it; the client secret never appears in a URL",
        ),
        Check(
            "happy-path.basic-auth",
            "HTTP Basic rather than the secret in the body",
            W,
            ("RFC 6749 §2.3.1",),
            "token requests authenticate with HTTP Basic (the secret in the request body is "
            "NOT RECOMMENDED)",
        ),
        Check(
            "happy-path.code-exchange",
            "the code exchanged with its verifier",
            F,
            ("RFC 6749 §4.1.3", "RFC 7636 §4.5", "R-AUTHZ-1"),
            "the code of 許可する's redirect goes to the token endpoint with the code_verifier "
            "whose S256 is the authorization request's challenge, and tokens are issued",
        ),
        Check(
            "happy-path.bearer",
            "the access token in the Authorization header",
            F,
            ("RFC 6750 §2.1", "RFC 6750 §5.3"),
            "account API calls carry 'Authorization: Bearer …', never access_token in the "
            "URL, and the bank answers them 200",
        ),
        Check(
            "happy-path.scope",
            "only the scopes the app uses",
            R,
            ("RFC 6749 §3.3",),
            "the authorization request asks for scope explicitly, and asks for "
            "'transactions' only if the app reads 明細 during the run",
        ),
    ),
)

FORGED = Situation(
    "forged-state",
    "a forged return: state does not match",
    "manual",
    needs_link=False,
    setup=Setup.TAMPER_STATE,
    fault_role=None,
    instructions=(
        "Link the app again as {persona} (account {account}). On the way back from "
        "許可する certify replaces 'state' in the bank's redirect, as a cross-site request "
        "forgery would: the app must refuse that return and not redeem its code."
    ),
    checks=(
        Check(
            "forged-state.refused",
            "a return with a foreign state is refused",
            F,
            ("RFC 6749 §10.12", "RFC 6749 §4.1.2"),
            "the code of the return whose state the app did not send never reaches the "
            "token endpoint",
            scope="run",
        ),
    ),
)

CANCEL = Situation(
    "cancel",
    "the customer cancels",
    "manual",
    needs_link=False,
    setup=Setup.NONE,
    fault_role=None,
    instructions=(
        "Start linking as {persona} (account {account}), then press 中止する on ② (or "
        "拒否する on ⑥) and 連携元画面へ. The app gets error=access_denied; do not start "
        "again."
    ),
    checks=(
        Check(
            "cancel.no-loop",
            "access_denied ends the attempt",
            F,
            ("R-FLOW-7", "RFC 6749 §4.1.2.1"),
            "after the flow returns access_denied the app does not start a new authorization "
            "by itself",
        ),
    ),
)

LOCKED = Situation(
    "locked",
    "the account locks (R-ERR-HOST-3)",
    "lockout",
    needs_link=False,
    setup=Setup.NONE,
    fault_role=None,
    instructions=(
        "Start linking as {persona} (account {account}) and enter a wrong name on ② five "
        "times: the fifth answers お取扱いができなくなりました (locked_now). Press "
        "連携元画面へ; do not start again."
    ),
    checks=(
        Check(
            "locked.no-loop",
            "no new attempt after the lock",
            F,
            ("R-ERR-HOST-3", "RFC 6749 §4.1.2.1"),
            "after the flow ends with locked_now the app does not start a new authorization "
            "by itself",
        ),
    ),
)

B84 = Situation(
    "b84",
    "the locked account answers B84 (R-ERR-HOST-4)",
    "lockout",
    needs_link=False,
    setup=Setup.NONE,
    fault_role=None,
    instructions=(
        "Try linking {persona} (account {account}) once more: ② answers 理由コードはB84. "
        "Press 連携元画面へ; do not start again."
    ),
    checks=(
        Check(
            "b84.no-loop",
            "no new attempt after B84",
            F,
            ("R-ERR-HOST-4", "RFC 6749 §4.1.2.1"),
            "after the flow ends with B84 the app does not start a new authorization by itself",
        ),
    ),
)


def _storm(situation: str, requirement: str, what: str) -> tuple[Check, Check]:
    return (
        Check(
            f"{situation}.no-storm",
            "no new authorization before Retry-After",
            F,
            (requirement, "RFC 6749 §4.1.2.1", "RFC 9110 §10.2.3"),
            f"while {what}, the app sends no authorization request sooner than the "
            "Retry-After of the bank's last refusal",
        ),
        Check(
            f"{situation}.recovers",
            "links once the bank answers again",
            W,
            (requirement,),
            "once certify has lifted the fault, the customer can link through the app",
        ),
    )


def _retry(situation: str, requirement: str, what: str) -> tuple[Check, Check]:
    return (
        Check(
            f"{situation}.retry-after",
            "Retry-After honoured on the account API",
            F,
            (requirement, "RFC 9110 §10.2.3"),
            f"while {what}, the app sends no account API request sooner than the "
            "Retry-After of the bank's last 503",
        ),
        Check(
            f"{situation}.recovers",
            "reads the account once the bank answers again",
            W,
            (requirement,),
            "once certify has lifted the fault, the app reads the account API again (200)",
        ),
    )


CLOSED_AUTHORIZE = Situation(
    "closed-authorize",
    "out of hours when the customer starts linking",
    "manual",
    needs_link=False,
    setup=Setup.MAINTENANCE,
    fault_role="authorize",
    instructions=(
        "The bank is closed for maintenance until {until}. Start linking as {persona} in "
        "the app: the bank answers ただ今の時間はサービスを行っておりません; press "
        "連携元画面へ and do not try again until certify says the bank is open."
    ),
    reopened="The bank is open again: link the app as {persona} (account {account}).",
    checks=_storm("closed-authorize", "R-ERR-SYS-1", "the bank is closed"),
)

CONGESTED_AUTHORIZE = Situation(
    "congested-authorize",
    "congestion when the customer starts linking",
    "manual",
    needs_link=False,
    setup=Setup.CONGESTION,
    fault_role="authorize",
    instructions=(
        "The bank is congested. Start linking as {persona} in the app: the bank answers "
        "ただ今受付が混雑しております; press 連携元画面へ and do not try again until "
        "certify says the congestion is over."
    ),
    reopened="The congestion is over: link the app as {persona} (account {account}).",
    checks=_storm("congested-authorize", "R-ERR-SYS-2", "the bank is congested"),
)

CLOSED_API = Situation(
    "closed-api",
    "out of hours on the account API",
    "manual",
    needs_link=True,
    setup=Setup.MAINTENANCE,
    fault_role="api",
    instructions=(
        "The bank is closed for maintenance until {until}. Open the balance in the app: the "
        "account API answers 503 with Retry-After. Do not retry by hand until certify says "
        "the bank is open."
    ),
    reopened="The bank is open again: open the balance again (or let the app retry).",
    checks=_retry("closed-api", "R-ERR-SYS-1", "the bank is closed"),
)

CONGESTED_API = Situation(
    "congested-api",
    "congestion on the account API",
    "manual",
    needs_link=True,
    setup=Setup.CONGESTION,
    fault_role="api",
    instructions=(
        "The bank is congested. Open the balance in the app: the account API answers 503 "
        "with Retry-After. Do not retry by hand until certify says the congestion is over."
    ),
    reopened="The congestion is over: open the balance again (or let the app retry).",
    checks=_retry("congested-api", "R-ERR-SYS-2", "the bank is congested"),
)

TOKEN_EXPIRY = Situation(
    "token-expiry",
    "the access token expires",
    "manual",
    needs_link=True,
    setup=Setup.EXPIRE_ACCESS,
    fault_role=None,
    instructions=(
        "The sandbox clock has moved past the access token's lifetime. Open the balance in "
        "the app: it should get a new access token with its refresh token, without "
        "sending you through the bank's screens."
    ),
    checks=(
        Check(
            "token-expiry.refresh",
            "the refresh token is used",
            F,
            ("RFC 6749 §6", "RFC 6750 §3.1", "R-AUTHZ-1"),
            "the app obtains a new access token with grant_type=refresh_token and reads the "
            "account API with it",
        ),
        Check(
            "token-expiry.no-relink",
            "no new authorization while the grant lasts",
            W,
            ("R-AUTHZ-1", "R-FLOW-9"),
            "the app does not send the customer through the flow again while the 30-day "
            "grant still lasts",
        ),
        Check(
            "token-expiry.rotation",
            "a rotated refresh token is not reused",
            F,
            ("RFC 6749 §6", "RFC 6749 §10.4"),
            "once a refresh token has been exchanged, the app uses the new one: no refresh "
            "token is sent again after a successful refresh",
            scope="run",
        ),
    ),
)


def _relink(situation: str, requirements: tuple[str, ...], what: str) -> tuple[Check, Check]:
    return (
        Check(
            f"{situation}.relink",
            "the customer is sent through the flow again",
            F,
            requirements,
            f"after {what}, the app starts a new authorization, the customer links again and "
            "the app reads the account API with the new tokens",
        ),
        Check(
            f"{situation}.stops-old",
            "the ended link's tokens are dropped",
            F,
            ("RFC 6749 §5.2", "RFC 6750 §3.1", *requirements[:1]),
            "once the bank has answered invalid_grant, the app never sends that link's "
            "refresh or access token again",
        ),
    )


GRANT_ENDS = Situation(
    "grant-ends",
    "the 30-day 認可期間 ends",
    "manual",
    needs_link=True,
    setup=Setup.END_GRANT,
    fault_role=None,
    instructions=(
        "The sandbox clock has moved past the end of the 30-day 認可期間. Open the balance "
        "in the app: the bank refuses its refresh token (invalid_grant), and the app should "
        "send you through the flow again: link as {persona} (account {account})."
    ),
    checks=_relink(
        "grant-ends", ("R-FLOW-9", "R-AUTHZ-1", "RFC 6749 §5.2"), "the 30-day grant has ended"
    ),
)

REVOKED = Situation(
    "revoked",
    "the bank revokes the link (R-AUTHZ-3)",
    "manual",
    needs_link=True,
    setup=Setup.REVOKE,
    fault_role=None,
    instructions=(
        "The bank has ended the link at the customer's request. Open the balance in the "
        "app: its tokens are refused, and the app should send you through the flow again: "
        "link as {persona} (account {account})."
    ),
    checks=_relink(
        "revoked", ("R-AUTHZ-3", "RFC 6749 §5.2", "RFC 6750 §3.1"), "the bank revoked the link"
    ),
)

MOVED = Situation(
    "moved",
    "the account moves to another branch (R-ACCT-3)",
    "manual",
    needs_link=True,
    setup=Setup.MOVE,
    fault_role=None,
    instructions=(
        "The bank has moved the linked account to {moved_to} (移管). Open the balance in "
        "the app: the account API answers 403 account_moved, and the app should send you "
        "through the flow again: link the new number {moved_to} as {persona}."
    ),
    checks=(
        Check(
            "moved.relink",
            "the new account is linked",
            F,
            ("R-ACCT-3",),
            "after the bank refuses the old account, the app starts a new authorization, the "
            "customer links the new number and the app reads the new account",
        ),
        Check(
            "moved.stops-old",
            "the old account's link is dropped",
            W,
            ("R-ACCT-3", "RFC 6750 §3.1"),
            "once the account API has answered account_moved, the app never sends that "
            "link's tokens again",
        ),
    ),
)

TRANSACTIONS = Situation(
    "transactions",
    "明細: pages and the three-month reach (R-ACCT-4)",
    # A shopkeeper's account: three months of 明細 take two pages of 500, and
    # still more than one after the plan has moved the clock a month on.
    "many-items",
    needs_link=True,
    setup=Setup.NONE,
    fault_role=None,
    instructions=(
        "Show the transactions of the last three months in the app: there are more than "
        "500, so the bank answers them in pages. Then ask for a period older than the bank "
        "keeps (from four months ago): the bank keeps about three months and refuses older "
        "dates with history_out_of_range."
    ),
    checks=(
        Check(
            "transactions.paging",
            "pages followed with nextItemKey",
            F,
            ("R-ACCT-4",),
            "when a page says hasNext, the app asks for the next one with its nextItemKey and "
            "the same dateFrom and dateTo, and never sends a nextItemKey it was not given",
        ),
        Check(
            "transactions.limit",
            "a refused period is not asked again",
            F,
            ("R-ACCT-4",),
            "after history_out_of_range, the app does not send the same query again",
        ),
        Check(
            "transactions.read",
            "transactions read within the reach",
            W,
            ("R-ACCT-4",),
            "the app reads 明細 (200) in this situation, after any refused query",
        ),
    ),
)

UNLINK = Situation(
    "unlink",
    "the customer removes the link in the app",
    "manual",
    needs_link=True,
    setup=Setup.NONE,
    fault_role=None,
    instructions=(
        "Remove the link to the bank in the app (連携解除): the app should revoke its "
        "refresh token at the bank's revocation endpoint."
    ),
    checks=(
        Check(
            "unlink.revoke",
            "the refresh token is revoked",
            W,
            ("RFC 7009 §2.1", "R-AUTHZ-4"),
            "the app sends its refresh token to /oauth/revoke with client authentication "
            "and the bank accepts it (revoking only the access token leaves the grant alive)",
        ),
    ),
)

CODE_REPLAY = Situation(
    "code-replay",
    "the return reaches the app twice",
    "manual",
    needs_link=False,
    setup=Setup.NONE,
    fault_role=None,
    instructions=(
        "Link the app as {persona} (account {account}); after 許可する load the app's "
        "return page a second time (the browser's Back, then Forward): the app must not "
        "redeem the same code twice, which the bank refuses and punishes by revoking what "
        "the first use issued."
    ),
    checks=(
        Check(
            "code-replay.once",
            "a code is redeemed once",
            F,
            ("RFC 6749 §4.1.2", "RFC 6749 §10.5", "R-FLOW-8"),
            "no authorization code reaches the token endpoint twice",
            scope="run",
        ),
    ),
)

PLAN: Final[tuple[Situation, ...]] = (
    HAPPY,
    FORGED,
    CANCEL,
    LOCKED,
    B84,
    CLOSED_AUTHORIZE,
    CONGESTED_AUTHORIZE,
    CLOSED_API,
    CONGESTED_API,
    TOKEN_EXPIRY,
    GRANT_ENDS,
    REVOKED,
    MOVED,
    TRANSACTIONS,
    UNLINK,
    CODE_REPLAY,
)

#: The personas the plan needs in the scenario (or ``--personas``) file.
PERSONAS: Final = tuple(dict.fromkeys(s.persona for s in PLAN))


def checks() -> list[Check]:
    """Every check of the plan, in order."""
    return [c for s in PLAN for c in s.checks]


def situation(situation_id: str) -> Situation:
    for s in PLAN:
        if s.id == situation_id:
            return s
    raise KeyError(situation_id)
