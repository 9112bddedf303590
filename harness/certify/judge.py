"""How a check of the plan is decided from the recorded requests.

A check (:class:`Check`) looks only at what the proxy recorded — the app's
requests and the bank's answers, with their times (:class:`Evidence`) — and at
what certify itself did in the situation (:class:`SituationRun`: when the setup
was made, when a fault was lifted, where an account moved). It answers one of
four results:

* ``passed`` / ``failed``: the evidence shows the rule kept or broken; the
  exchanges that show it are named by their sequence numbers;
* ``not judged``: the situation did not produce the evidence the check needs —
  the app (or tester) did not do what the instructions asked, or an earlier
  failure kept it from getting there (an app refused for lack of PKCE never
  links); a failure-severity check left unjudged withholds the certificate;
* ``not applicable``: the situation ran, but the case the check is about did
  not arise (no page of 明細 had more; the app never asked further back than
  the bank keeps).

The last two are never written in a check's judge: a check declares what it
:attr:`~Check.needs` (:class:`Need`), and :func:`decide` answers the need's
verdict when the evidence is missing, before the judge runs. The concrete
checks are :mod:`harness.certify.checks`; the situations that hold them,
:mod:`harness.certify.plan`.
"""

from __future__ import annotations

import base64
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from harness.certify.record import Exchange

if TYPE_CHECKING:
    from harness.certify.plan import Severity, Situation


class Result(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_JUDGED = "not judged"
    NOT_APPLICABLE = "not applicable"


#: ``run``: judged over the whole run's requests at its end (a code or token
#: reused in any later situation counts), not only the situation's own.
Scope = Literal["situation", "run"]


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
    #: when certify began to lift the fault (a maintenance window, congestion), if it
    #: did: a request the app sent while the lift was under way may already be answered
    #: as the bank would again
    lifting: float | None = None
    #: when certify had lifted the fault, if it did
    cleared: float | None = None
    ended: float = 0.0
    timed_out: bool = False
    #: the account certify moved the app's linked account to (R-ACCT-3), if it did
    moved_to: str | None = None
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


#: What a need looks for: anything true when the evidence is there (usually the
#: exchanges themselves, the same selection the judge then works on).
Finder = Callable[[SituationRun, Evidence], object]


@dataclass(frozen=True)
class Need:
    """Evidence a check cannot be judged without, and the verdict when it is missing.

    ``missing`` is the certificate's one-line reason; ``{timeout}`` in it becomes
    a note that certify stopped waiting (when it did), ``{problems}`` the problems
    certify met setting the situation up. ``waived_by`` finds evidence that
    decides the check without this need — a failure the record shows by itself
    (a client secret in a URL fails client authentication whether or not a token
    request followed).
    """

    missing: str
    present: Finder
    #: NOT_JUDGED: the situation did not produce it; NOT_APPLICABLE: the case never arose
    otherwise: Result = Result.NOT_JUDGED
    waived_by: Finder | None = None
    #: the exchanges the verdict points to when the need is missing (what was there instead)
    shows: Callable[[SituationRun, Evidence], Iterable[Exchange]] | None = None

    def unmet(self, run: SituationRun, ev: Evidence) -> Outcome | None:
        """The verdict when the need is not met, else None."""
        if self.waived_by is not None and self.waived_by(run, ev):
            return None
        if self.present(run, ev):
            return None
        timeout = " (certify stopped waiting: timeout)" if run.timed_out else ""
        why = self.missing.format(timeout=timeout, problems="; ".join(run.problems))
        shown = () if self.shows is None else tuple(e.seq for e in self.shows(run, ev))
        return Outcome(self.otherwise, why, shown)

    def unless(self, waiver: Finder) -> Need:
        """This need, waived when ``waiver`` finds evidence that decides the check."""
        return replace(self, waived_by=waiver)


#: The situation started with a fresh link of its own (its setup came after it).
LINKED = Need(
    "the app did not link at the start of the situation", lambda run, ev: run.act_began is not None
)
#: The app did something once the situation was set up.
ACTED = Need(
    "the app sent no request once the situation was set up{timeout}",
    lambda run, ev: ev.acted(run),
)


@dataclass(frozen=True)
class Check(ABC):
    """One check of the plan: what it is called, how much it weighs, what it
    enforces (IDs of REQUIREMENTS.md, ``R-…``, or RFC clauses) and, in its
    subclass, its rule, what evidence it needs and its judge.

    Each subclass is named for what the app must do, in the manner of the
    OpenID Foundation's conformance suite; its rule text is built from the same
    constants its judge uses, so that the certificate states the bound the
    judge applies.
    """

    id: str
    title: str
    severity: Severity
    requirements: tuple[str, ...]
    #: over the situation's requests, or the whole run's (at its end)
    scope: ClassVar[Scope] = "situation"

    @property
    @abstractmethod
    def rule(self) -> str:
        """What the app must do for the check to pass, as the certificate states it."""

    @property
    def needs(self) -> tuple[Need, ...]:
        """The evidence the judge cannot decide without, in the order they are asked."""
        return ()

    @abstractmethod
    def judge(self, run: SituationRun, ev: Evidence) -> Outcome:
        """``passed``, ``failed`` or, for a case that never arose, ``not applicable``,
        once every need is met."""


def seqs(exchanges: Iterable[Exchange]) -> str:
    return ", ".join(f"#{e.seq}" for e in exchanges)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def decide(check: Check, run: SituationRun, ev: Evidence) -> Outcome:
    """The outcome of ``check`` in ``run``: the first unmet need's verdict (the
    situation's own first, then the check's), else the judge's; a judge's own
    crash is reported, not raised."""
    try:
        for need in (*run.situation.needs_of(check), *check.needs):
            unmet = need.unmet(run, ev)
            if unmet is not None:
                return unmet
        return check.judge(run, ev)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return not_judged(f"certify could not judge this ({type(error).__name__}: {error})")
