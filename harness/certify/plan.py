"""The certification plan: the situations a partner app is put through, in order,
each one object with its setup, what the tester is told and the checks that
judge it.

This module is data. A situation says which persona of the scenario the tester
uses, whether the app must first hold a fresh link (so that each situation
stands on its own and one misbehaviour does not spill into the next), what
certify does to the sandbox (its :mod:`~harness.certify.setups` object: for a
fault, also where the app meets it), what the tester does then and, for a
fault, once it is lifted. Every check (:mod:`harness.certify.checks`) has a
severity (:class:`Severity`) and names the requirements it enforces — IDs of
REQUIREMENTS.md (``R-…``) or RFC clauses (RFC 6749 OAuth 2.0, RFC 7636 PKCE,
RFC 6750 bearer tokens, RFC 7009 revocation, RFC 9110 for ``Retry-After``).
How renkei's own apps play each situation is keyed by the situation object in
:mod:`harness.certify.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from harness.certify.checks import (
    ACCOUNT_MOVED,
    AT_AUTHORIZATION,
    CANCELLED,
    INVALID_GRANT,
    ON_THE_API,
    AsksOnlyForScopesItUses,
    AuthenticatesTheClient,
    DoesNotRepeatARefusedPeriod,
    DropsTheRefusedLink,
    FollowsPages,
    KeepsTheLinkWhileTheGrantLasts,
    LinksAgain,
    LinksTheMovedAccount,
    NeverRepeatsStateOrChallenge,
    PrefersHttpBasic,
    ReadsWithinTheReach,
    RedeemsACodeOnce,
    RedeemsTheCodeWithItsVerifier,
    RefreshesTheAccessToken,
    RefusesAForgedReturn,
    RevokesTheRefreshToken,
    SendsBearerInTheHeader,
    SendsS256Challenge,
    SendsUnguessableState,
    StopsAfterTheFlowEnds,
    UsesARotatedRefreshTokenOnce,
    UsesTheRegisteredRedirectUri,
    WaitsOutRetryAfter,
    WorksOnceTheFaultIsLifted,
    ends_with,
)
from harness.certify.judge import LINKED, Check, Need
from harness.certify.setups import (
    Congestion,
    EndGrant,
    ExpireAccess,
    Fault,
    ForgeReturn,
    Maintenance,
    MoveAccount,
    Nothing,
    RevokeGrants,
    Setup,
)


class Severity(StrEnum):
    """How much a failed check weighs, in the manner of the OpenID Foundation's
    conformance suite."""

    #: the app breaks the contract; no certificate while one fails
    FAILURE = "failure"
    #: the app works but does something the specification advises against; the
    #: certificate is issued with the warning
    WARNING = "warning"
    #: judged automatically, but a person should look at the evidence before
    #: relying on the result (it never decides the verdict)
    REVIEW = "review"


#: What the tester is told: to link first, to act once the setup is made, to go
#: on once a fault is lifted.
Phase = Literal["link", "act", "reopened"]

#: The link phase's instructions, the same in every situation that starts with one.
LINK: Final = (
    "First link the app as {persona} (account {account}): walk ① to ⑥ and press 許可する; "
    "certify goes on by itself once the app has its tokens."
)


@dataclass(frozen=True, eq=False)
class Situation:
    """One situation of the plan; compared and hashed as itself, so that what
    renkei's apps do in it can be keyed by it."""

    id: str
    title: str
    #: the persona (of the scenario's ``personas``) the tester links or fails with
    persona: str
    setup: Setup
    #: what the tester does in the app once the setup is made; ``{persona}``,
    #: ``{account}``, ``{moved_to}`` and ``{until}`` are filled in by the runner
    instructions: str
    checks: tuple[Check, ...]
    #: whether the app must hold a fresh link before the setup is made
    needs_link: bool = False
    #: what the tester does once certify has lifted the fault
    reopened: str = ""

    def needs_of(self, check: Check) -> tuple[Need, ...]:
        """What a check needs of the situation itself: where a fresh link comes first,
        that the app linked (the run-wide checks look beyond the situation)."""
        return (LINKED,) if self.needs_link and check.scope == "situation" else ()

    def prompt(self, phase: Phase, **values: str) -> str:
        """What the tester is told in ``phase``, with the runner's values filled in."""
        if phase == "link":
            return LINK.format(**values)
        return (self.instructions if phase == "act" else self.reopened).format(**values)

    @property
    def fault(self) -> Fault | None:
        """The situation's fault, which certify keeps on until the app has met it."""
        return self.setup if isinstance(self.setup, Fault) else None


F, W, R = Severity.FAILURE, Severity.WARNING, Severity.REVIEW

HAPPY = Situation(
    "happy-path",
    "the customer links the app and the app reads the account",
    "manual",
    Nothing(),
    "Link the app as {persona} (account {account}): walk ① to ⑥ in the bank's screens, "
    "press 許可する, then let the app show the account, its balance and this month's "
    "transactions.",
    (
        SendsS256Challenge(
            "happy-path.pkce", "PKCE with S256", F, ("RFC 7636 §4.2", "RFC 7636 §4.3")
        ),
        SendsUnguessableState(
            "happy-path.state",
            "an unguessable state",
            F,
            ("RFC 6749 §10.12", "RFC 6749 §10.10", "RFC 6749 §4.1.1"),
        ),
        NeverRepeatsStateOrChallenge(
            "happy-path.fresh",
            "a fresh verifier and state for every authorization",
            F,
            ("RFC 7636 §4.1", "RFC 7636 §7.1", "RFC 6749 §10.12"),
        ),
        UsesTheRegisteredRedirectUri(
            "happy-path.redirect-uri",
            "the exact registered redirect URI",
            F,
            ("RFC 6749 §3.1.2", "RFC 6749 §4.1.3", "RFC 6749 §10.6"),
        ),
        AuthenticatesTheClient(
            "happy-path.client-auth",
            "client authentication at the token endpoint",
            F,
            ("RFC 6749 §2.3.1", "RFC 6749 §3.2.1", "RFC 6749 §10.1"),
        ),
        PrefersHttpBasic(
            "happy-path.basic-auth",
            "HTTP Basic rather than the secret in the body",
            W,
            ("RFC 6749 §2.3.1",),
        ),
        RedeemsTheCodeWithItsVerifier(
            "happy-path.code-exchange",
            "the code exchanged with its verifier",
            F,
            ("RFC 6749 §4.1.3", "RFC 7636 §4.5", "R-AUTHZ-1"),
        ),
        SendsBearerInTheHeader(
            "happy-path.bearer",
            "the access token in the Authorization header",
            F,
            ("RFC 6750 §2.1", "RFC 6750 §5.3"),
        ),
        AsksOnlyForScopesItUses(
            "happy-path.scope", "only the scopes the app uses", R, ("RFC 6749 §3.3",)
        ),
    ),
)

FORGED = Situation(
    "forged-state",
    "a forged return: state does not match",
    "manual",
    ForgeReturn(),
    "Link the app again as {persona} (account {account}). On the way back from "
    "許可する certify replaces 'state' in the bank's redirect, as a cross-site request "
    "forgery would: the app must refuse that return and not redeem its code.",
    (
        RefusesAForgedReturn(
            "forged-state.refused",
            "a return with a foreign state is refused",
            F,
            ("RFC 6749 §10.12", "RFC 6749 §4.1.2"),
        ),
    ),
)

CANCEL = Situation(
    "cancel",
    "the customer cancels",
    "manual",
    Nothing(),
    "Start linking as {persona} (account {account}), then press 中止する on ② (or "
    "拒否する on ⑥) and 連携元画面へ. The app gets error=access_denied; do not start "
    "again.",
    (
        StopsAfterTheFlowEnds(
            "cancel.no-loop",
            "access_denied ends the attempt",
            F,
            ("R-FLOW-7", "RFC 6749 §4.1.2.1"),
            CANCELLED,
        ),
    ),
)

LOCKED = Situation(
    "locked",
    "the account locks (R-ERR-HOST-3)",
    "lockout",
    Nothing(),
    "Start linking as {persona} (account {account}) and enter a wrong name on ② five "
    "times: the fifth answers お取扱いができなくなりました (locked_now). Press "
    "連携元画面へ; do not start again.",
    (
        StopsAfterTheFlowEnds(
            "locked.no-loop",
            "no new attempt after the lock",
            F,
            ("R-ERR-HOST-3", "RFC 6749 §4.1.2.1"),
            ends_with("locked_now"),
        ),
    ),
)

B84 = Situation(
    "b84",
    "the locked account answers B84 (R-ERR-HOST-4)",
    "lockout",
    Nothing(),
    "Try linking {persona} (account {account}) once more: ② answers 理由コードはB84. "
    "Press 連携元画面へ; do not start again.",
    (
        StopsAfterTheFlowEnds(
            "b84.no-loop",
            "no new attempt after B84",
            F,
            ("R-ERR-HOST-4", "RFC 6749 §4.1.2.1"),
            ends_with("B84"),
        ),
    ),
)


def _fault(
    sid: str,
    title: str,
    setup: Fault,
    requirement: str,
    fault: str,
    instructions: str,
    reopened: str,
) -> Situation:
    """A fault's situation: while it is on, no request sooner than Retry-After where
    the app meets it; once certify lifts it, the app works again. Where the fault is
    met is the setup's, so the runner waits for the refusal the checks judge."""
    site = setup.met_on
    if site is AT_AUTHORIZATION:
        waits = WaitsOutRetryAfter(
            f"{sid}.no-storm",
            "no new authorization before Retry-After",
            F,
            (requirement, "RFC 6749 §4.1.2.1", "RFC 9110 §10.2.3"),
            site,
            fault,
        )
        works = WorksOnceTheFaultIsLifted(
            f"{sid}.recovers", "links once the bank answers again", W, (requirement,), site
        )
    else:
        waits = WaitsOutRetryAfter(
            f"{sid}.retry-after",
            "Retry-After honoured on the account API",
            F,
            (requirement, "RFC 9110 §10.2.3"),
            site,
            fault,
        )
        works = WorksOnceTheFaultIsLifted(
            f"{sid}.recovers",
            "reads the account once the bank answers again",
            W,
            (requirement,),
            site,
        )
    # On the account API the app must hold a link to meet the fault at all.
    return Situation(
        sid,
        title,
        "manual",
        setup,
        instructions,
        (waits, works),
        needs_link=site is ON_THE_API,
        reopened=reopened,
    )


CLOSED_AUTHORIZE = _fault(
    "closed-authorize",
    "out of hours when the customer starts linking",
    Maintenance(AT_AUTHORIZATION),
    "R-ERR-SYS-1",
    "the bank is closed",
    "The bank is closed for maintenance until {until}. Start linking as {persona} in "
    "the app: the bank answers ただ今の時間はサービスを行っておりません; press "
    "連携元画面へ and do not try again until certify says the bank is open.",
    "The bank is open again: link the app as {persona} (account {account}).",
)

CONGESTED_AUTHORIZE = _fault(
    "congested-authorize",
    "congestion when the customer starts linking",
    Congestion(AT_AUTHORIZATION),
    "R-ERR-SYS-2",
    "the bank is congested",
    "The bank is congested. Start linking as {persona} in the app: the bank answers "
    "ただ今受付が混雑しております; press 連携元画面へ and do not try again until "
    "certify says the congestion is over.",
    "The congestion is over: link the app as {persona} (account {account}).",
)

CLOSED_API = _fault(
    "closed-api",
    "out of hours on the account API",
    Maintenance(ON_THE_API),
    "R-ERR-SYS-1",
    "the bank is closed",
    "The bank is closed for maintenance until {until}. Open the balance in the app: the "
    "account API answers 503 with Retry-After. Do not retry by hand until certify says "
    "the bank is open.",
    "The bank is open again: open the balance again (or let the app retry).",
)

CONGESTED_API = _fault(
    "congested-api",
    "congestion on the account API",
    Congestion(ON_THE_API),
    "R-ERR-SYS-2",
    "the bank is congested",
    "The bank is congested. Open the balance in the app: the account API answers 503 "
    "with Retry-After. Do not retry by hand until certify says the congestion is over.",
    "The congestion is over: open the balance again (or let the app retry).",
)

TOKEN_EXPIRY = Situation(
    "token-expiry",
    "the access token expires",
    "manual",
    ExpireAccess(),
    "The sandbox clock has moved past the access token's lifetime. Open the balance in "
    "the app: it should get a new access token with its refresh token, without "
    "sending you through the bank's screens.",
    (
        RefreshesTheAccessToken(
            "token-expiry.refresh",
            "the refresh token is used",
            F,
            ("RFC 6749 §6", "RFC 6750 §3.1", "R-AUTHZ-1"),
        ),
        KeepsTheLinkWhileTheGrantLasts(
            "token-expiry.no-relink",
            "no new authorization while the grant lasts",
            W,
            ("R-AUTHZ-1", "R-FLOW-9"),
        ),
        UsesARotatedRefreshTokenOnce(
            "token-expiry.rotation",
            "a rotated refresh token is not reused",
            F,
            ("RFC 6749 §6", "RFC 6749 §10.4"),
        ),
    ),
    needs_link=True,
)


def _link_ends_checks(
    situation: str, requirements: tuple[str, ...], ended: str
) -> tuple[Check, Check]:
    """After the bank refuses the link with invalid_grant: the customer is sent
    through the flow again, and the ended link's tokens are never sent again."""
    return (
        LinksAgain(
            f"{situation}.relink",
            "the customer is sent through the flow again",
            F,
            requirements,
            ended,
        ),
        DropsTheRefusedLink(
            f"{situation}.stops-old",
            "the ended link's tokens are dropped",
            F,
            ("RFC 6749 §5.2", "RFC 6750 §3.1", *requirements[:1]),
            INVALID_GRANT,
        ),
    )


GRANT_ENDS = Situation(
    "grant-ends",
    "the 30-day 認可期間 ends",
    "manual",
    EndGrant(),
    "The sandbox clock has moved past the end of the 30-day 認可期間. Open the balance "
    "in the app: the bank refuses its refresh token (invalid_grant), and the app should "
    "send you through the flow again: link as {persona} (account {account}).",
    _link_ends_checks(
        "grant-ends", ("R-FLOW-9", "R-AUTHZ-1", "RFC 6749 §5.2"), "the 30-day grant has ended"
    ),
    needs_link=True,
)

REVOKED = Situation(
    "revoked",
    "the bank revokes the link (R-AUTHZ-3)",
    "manual",
    RevokeGrants(),
    "The bank has ended the link at the customer's request. Open the balance in the "
    "app: its tokens are refused, and the app should send you through the flow again: "
    "link as {persona} (account {account}).",
    _link_ends_checks(
        "revoked", ("R-AUTHZ-3", "RFC 6749 §5.2", "RFC 6750 §3.1"), "the bank revoked the link"
    ),
    needs_link=True,
)

MOVED = Situation(
    "moved",
    "the account moves to another branch (R-ACCT-3)",
    "manual",
    MoveAccount(),
    "The bank has moved the linked account to {moved_to} (移管). Open the balance in "
    "the app: the account API answers 403 account_moved, and the app should send you "
    "through the flow again: link the new number {moved_to} as {persona}.",
    (
        LinksTheMovedAccount("moved.relink", "the new account is linked", F, ("R-ACCT-3",)),
        DropsTheRefusedLink(
            "moved.stops-old",
            "the old account's link is dropped",
            W,
            ("R-ACCT-3", "RFC 6750 §3.1"),
            ACCOUNT_MOVED,
        ),
    ),
    needs_link=True,
)

TRANSACTIONS = Situation(
    "transactions",
    "明細: pages and the three-month reach (R-ACCT-4)",
    # A shopkeeper's account: three months of 明細 take two pages of 500, and
    # still more than one after the plan has moved the clock a month on.
    "many-items",
    Nothing(),
    "Show the transactions of the last three months in the app: there are more than "
    "500, so the bank answers them in pages. Then ask for a period older than the bank "
    "keeps (from four months ago): the bank keeps about three months and refuses older "
    "dates with history_out_of_range.",
    (
        FollowsPages("transactions.paging", "pages followed with nextItemKey", F, ("R-ACCT-4",)),
        DoesNotRepeatARefusedPeriod(
            "transactions.limit", "a refused period is not asked again", F, ("R-ACCT-4",)
        ),
        ReadsWithinTheReach(
            "transactions.read", "transactions read within the reach", W, ("R-ACCT-4",)
        ),
    ),
    needs_link=True,
)

UNLINK = Situation(
    "unlink",
    "the customer removes the link in the app",
    "manual",
    Nothing(),
    "Remove the link to the bank in the app (連携解除): the app should revoke its "
    "refresh token at the bank's revocation endpoint.",
    (
        RevokesTheRefreshToken(
            "unlink.revoke", "the refresh token is revoked", W, ("RFC 7009 §2.1", "R-AUTHZ-4")
        ),
    ),
    needs_link=True,
)

CODE_REPLAY = Situation(
    "code-replay",
    "the return reaches the app twice",
    "manual",
    Nothing(),
    "Link the app as {persona} (account {account}); after 許可する load the app's "
    "return page a second time (the browser's Back, then Forward): the app must not "
    "redeem the same code twice, which the bank refuses and punishes by revoking what "
    "the first use issued.",
    (
        RedeemsACodeOnce(
            "code-replay.once",
            "a code is redeemed once",
            F,
            ("RFC 6749 §4.1.2", "RFC 6749 §10.5", "R-FLOW-8"),
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
    """The situation of the plan with this id (as the proxy's status names it)."""
    for s in PLAN:
        if s.id == situation_id:
            return s
    raise KeyError(situation_id)
