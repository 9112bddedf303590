"""What certify does to the sandbox in a situation, through its controls
(INTERFACE.md §6), once the situation's link (if any) is made.

Each setup is one object of the plan (:mod:`harness.certify.plan`) with a
:meth:`~Setup.make` that steers the sandbox — the clock (``PUT /sandbox/clock``,
``POST /sandbox/clock/advance``), the faults (``PUT /sandbox/faults``), a
maintenance window (``POST /sandbox/maintenance``), revocation (``POST
/admin/grants/{id}/revoke``), the move (``POST /admin/accounts/move``) — or arms
the proxy's forged return, and answers what it did (:class:`Made`): the values
its situation's instructions name and, for a fault, how to lift it. A
:class:`Fault` also says where the app meets it, so that the runner keeps it on
until the app has and lifts it after ``--hold`` seconds. :attr:`Setup.value`
is how the certificate names the setup.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from harness.certify.checks import FaultSite
from harness.certify.judge import SituationRun
from harness.certify.proxy import Recorder
from harness.driver import Sandbox
from renkei.contract import controls

#: What the runner assumes an access token lives when the bank never said (RFC 6749 §5.1).
ACCESS_SECONDS_DEFAULT: Final = 900
#: The 認可期間 the runner assumes when the app holds no grant to read it from (R-AUTHZ-1).
GRANT_DAYS_DEFAULT: Final = 30


class SetupError(Exception):
    """The sandbox refused one of certify's controls."""


class SandboxControls:
    """The sandbox's controls as certify uses them, for the client under
    certification; also where each persona's account is now (a move changes it)."""

    def __init__(
        self,
        sandbox: Sandbox,
        recorder: Recorder,
        client_id: str,
        branches: list[str],
        accounts: dict[str, str],
    ) -> None:
        self.sandbox, self.recorder, self.client_id = sandbox, recorder, client_id
        #: branch codes an account may be moved to (R-ACCT-3)
        self.branches = branches
        #: each persona's account, by persona id
        self.accounts = accounts

    def ok(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        """The control's JSON answer; :class:`SetupError` unless it is 200."""
        r = self.sandbox.request(method, path, **body)
        if r.status_code != 200:
            said = " ".join(r.text.split())[:200]  # one line, whatever the body
            raise SetupError(f"{method} {path} answered {r.status_code}: {said}")
        answer: dict[str, Any] = r.json()
        return answer

    def clock(self) -> dt.datetime:
        return dt.datetime.fromisoformat(str(self.ok("GET", controls.CLOCK_PATH)["now"]))

    def advance(self, seconds: float) -> None:
        self.ok("POST", controls.CLOCK_ADVANCE_PATH, seconds=seconds)

    def grants(self, active: bool = True) -> list[dict[str, Any]]:
        """The client's grants (``GET /admin/grants``), oldest first."""
        found = [
            g
            for g in self.ok("GET", controls.GRANTS_PATH)["grants"]
            if g.get("client_id") == self.client_id and (g.get("active") or not active)
        ]
        return sorted(found, key=lambda g: str(g.get("granted_at")))

    def access_lifetime(self) -> int:
        """The longest ``expires_in`` the bank gave this client (RFC 6749 §5.1)."""
        lives = [
            int(e.response_json["expires_in"])
            for e in self.recorder.snapshot()
            if e.role == "token"
            and e.status == 200
            and isinstance(e.response_json, dict)
            and isinstance(e.response_json.get("expires_in"), int)
        ]
        return max(lives, default=ACCESS_SECONDS_DEFAULT)


@dataclass
class Made:
    """What a setup did: the values its situation's instructions name (``until``,
    ``moved_to``) and, for a fault, how to lift it."""

    values: dict[str, str] = field(default_factory=dict)
    lift: Callable[[], None] | None = None


@dataclass(frozen=True)
class Setup(ABC):
    """What certify does to the sandbox before the tester acts."""

    #: the setup's name in the certificate
    value: ClassVar[str]

    @abstractmethod
    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        """Steer the sandbox; certify's doings go in ``run.facts``, what went wrong
        short of a refused control in ``run.problems``."""


@dataclass(frozen=True)
class Nothing(Setup):
    """The situation is the tester's doing alone."""

    value: ClassVar[str] = "none"

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        return Made()


@dataclass(frozen=True)
class ForgeReturn(Setup):
    """The proxy replaces ``state`` in the bank's next redirect to the app (RFC 6749
    §10.12: a forged return); the runner disarms it when the situation ends."""

    value: ClassVar[str] = "tamper-state"

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        sandbox.recorder.forge_next_state(True)
        return Made()


@dataclass(frozen=True)
class Fault(Setup):
    """A refusal of the whole service (R-ERR-SYS-*), on until the app has met it."""

    #: where the app meets it: the authorization request (in the browser) or the account API
    met_on: FaultSite


@dataclass(frozen=True)
class Maintenance(Fault):
    """An ad-hoc maintenance window from now (R-HOURS-6, R-ERR-SYS-1), lifted by
    moving the clock past its end."""

    value: ClassVar[str] = "maintenance"
    length: dt.timedelta = dt.timedelta(minutes=30)

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        now = sandbox.clock()
        end = now + self.length
        sandbox.ok("POST", controls.MAINTENANCE_PATH, start=now.isoformat(), end=end.isoformat())
        run.facts["maintenance"] = {"start": now.isoformat(), "end": end.isoformat()}

        def lift() -> None:
            left = (end - sandbox.clock()).total_seconds()
            if left > -1:
                sandbox.advance(left + 1)

        return Made({"until": end.strftime("%H:%M JST")}, lift)


@dataclass(frozen=True)
class Congestion(Fault):
    """``PUT /sandbox/faults {"congestion": true}`` (R-ERR-SYS-2), lifted by switching it off."""

    value: ClassVar[str] = "congestion"

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        sandbox.ok("PUT", controls.FAULTS_PATH, **{controls.CONGESTION: True})
        run.facts["faults"] = {controls.CONGESTION: True}

        def lift() -> None:
            sandbox.ok("PUT", controls.FAULTS_PATH, **{controls.CONGESTION: False})

        return Made(lift=lift)


@dataclass(frozen=True)
class ExpireAccess(Setup):
    """The clock past the access token's lifetime (RFC 6749 §6: time to refresh)."""

    value: ClassVar[str] = "expire-access"
    #: beyond the lifetime, so that it is over whatever rounding
    margin_seconds: int = 60

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        moved = sandbox.access_lifetime() + self.margin_seconds
        sandbox.advance(moved)
        run.facts["clock_advanced_seconds"] = moved
        return Made()


@dataclass(frozen=True)
class EndGrant(Setup):
    """The clock past the end of the 30-day 認可期間 of the app's newest grant (R-AUTHZ-1)."""

    value: ClassVar[str] = "end-grant"
    #: beyond the end, so that it is over whatever rounding
    margin_seconds: int = 60

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        now = sandbox.clock()
        ends = [dt.datetime.fromisoformat(str(g["ends_at"])) for g in sandbox.grants()]
        if ends:
            seconds = (max(ends) - now).total_seconds() + self.margin_seconds
        else:
            run.problems.append(
                f"the app held no active grant; the clock moved {GRANT_DAYS_DEFAULT} days"
            )
            seconds = GRANT_DAYS_DEFAULT * 86400 + self.margin_seconds
        sandbox.advance(seconds)
        run.facts["clock_advanced_seconds"] = round(seconds)
        return Made()


@dataclass(frozen=True)
class RevokeGrants(Setup):
    """``POST /admin/grants/{id}/revoke`` for every active grant of the app (R-AUTHZ-3)."""

    value: ClassVar[str] = "revoke"

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        revoked = [g["grant_id"] for g in sandbox.grants()]
        for grant_id in revoked:
            sandbox.ok("POST", controls.revoke_path(grant_id))
        run.facts["revoked_grants"] = len(revoked)
        if not revoked:
            run.problems.append("the app held no active grant to revoke")
        return Made()


@dataclass(frozen=True)
class MoveAccount(Setup):
    """``POST /admin/accounts/move`` (R-ACCT-3): the account of the app's newest grant
    to the first other branch the bank accepts, same number."""

    value: ClassVar[str] = "move"
    #: what the instructions name when no account could be moved
    NONE: ClassVar[str] = "(none)"

    def make(self, sandbox: SandboxControls, run: SituationRun) -> Made:
        return Made({"moved_to": self.move(sandbox, run)})

    def move(self, sandbox: SandboxControls, run: SituationRun) -> str:
        held = sandbox.grants()
        if not held:
            run.problems.append("the app held no active grant: no account to move")
            return self.NONE
        old = str(held[-1]["account"])
        fields = controls.account_fields(old)
        refusals = []
        for other in (b for b in sandbox.branches if b != fields["branch_no"]):
            new = {**fields, "branch_no": other}
            r = sandbox.sandbox.request("POST", controls.MOVE_PATH, **{"from": fields}, to=new)
            if r.status_code == 200:
                moved = controls.account_id(new)
                run.facts["moved"] = {"from": old, "to": moved}
                run.moved_to = moved
                for pid, account in sandbox.accounts.items():
                    if account == old:
                        sandbox.accounts[pid] = moved
                return moved
            refusals.append(f"{other}: {r.status_code}")
        run.problems.append(f"the bank refused every move of {old} ({', '.join(refusals)})")
        return self.NONE
