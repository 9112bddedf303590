"""Stepping through the plan: the sandbox set up for each situation, the tester
told what to do, the app waited for (issue 8, deliverable 2).

For each situation of :data:`~harness.certify.plan.PLAN` the runner

1. if the situation needs a link, asks for one and waits until the app has
   exchanged a new code (so that each situation starts from a live link of its
   own);
2. makes the setup through the sandbox controls of INTERFACE.md §6 — the clock
   (``PUT /sandbox/clock``, ``POST /sandbox/clock/advance``), the faults
   (``PUT /sandbox/faults``), a maintenance window (``POST /sandbox/maintenance``),
   revocation (``POST /admin/grants/{id}/revoke``), the move
   (``POST /admin/accounts/move``) — or arms the proxy's forged return;
3. for a fault, waits until the app has met it (a 503 on the situation's
   ``fault_role``), keeps it on for ``hold`` seconds to see whether the app
   storms, then lifts it and says so;
4. waits for "done" — Enter on a terminal, or ``POST /_certify/done`` — at most
   ``timeout`` seconds for the whole situation, then judges its checks.

Before the first situation the sandbox is reset to its scenario (``POST
/sandbox/reset``) and its clock frozen at 10:15 JST of the bank's own today: open
by every rule of R-HOURS, and the day the scenario's relative dates (histories)
were built for. The clock only moves when certify moves it.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from harness.certify.judge import Evidence, Outcome, Result, SituationRun, decide
from harness.certify.plan import PLAN, Setup, Situation
from harness.certify.proxy import Recorder
from harness.certify.record import Exchange
from harness.driver import Sandbox
from harness.personas import Persona

#: The time of day the run starts at: open by every rule of R-HOURS.
START_TIME: Final = "10:15:00"
MAINTENANCE: Final = dt.timedelta(minutes=30)
#: Beyond a token's lifetime or a grant's end, so that it is over whatever rounding.
MARGIN_SECONDS: Final = 60
ACCESS_SECONDS_DEFAULT: Final = 900
#: An Enter this soon after a situation is shown belongs to the one before.
KEYBOARD_GRACE: Final = 1.0
GRANT_DAYS_DEFAULT: Final = 30
MARKS: Final = {
    Result.PASSED: "passed",
    Result.FAILED: "FAILED",
    Result.NOT_JUDGED: "not judged",
    Result.NOT_APPLICABLE: "n/a",
}


class SetupError(Exception):
    """The sandbox refused one of certify's controls."""


@dataclass
class Options:
    client_id: str
    #: the personas of the scenario (or ``--personas``), by id
    personas: dict[str, Persona]
    #: branch codes an account may be moved to (R-ACCT-3)
    branches: list[str]
    timeout: float = 600.0
    hold: float = 5.0
    #: read Enter from the terminal as "done"
    keyboard: bool = False
    #: the client's registered redirect URIs, when known
    redirect_uris: tuple[str, ...] = ()


@dataclass
class Judged:
    run: SituationRun
    outcomes: dict[str, Outcome] = field(default_factory=dict)


class Runner:
    def __init__(
        self, options: Options, recorder: Recorder, sandbox: Sandbox, proxy_url: str, out: TextIO
    ) -> None:
        self.o, self.recorder, self.sandbox, self.proxy_url, self.out = (
            options,
            recorder,
            sandbox,
            proxy_url,
            out,
        )
        #: where each persona's account is now (the move changes it)
        self.accounts = {pid: p.account_id for pid, p in options.personas.items()}
        self.runs: list[SituationRun] = []
        self.started_at = ""
        #: when the tester was last told something (for the keyboard's grace)
        self.shown_at = 0.0

    # -- the sandbox ---------------------------------------------------------------------------

    def _ok(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        r = self.sandbox.request(method, path, **body)
        if r.status_code != 200:
            said = " ".join(r.text.split())[:200]  # one line, whatever the body
            raise SetupError(f"{method} {path} answered {r.status_code}: {said}")
        answer: dict[str, Any] = r.json()
        return answer

    def clock(self) -> dt.datetime:
        return dt.datetime.fromisoformat(str(self._ok("GET", "/sandbox/clock")["now"]))

    def advance(self, seconds: float) -> None:
        self._ok("POST", "/sandbox/clock/advance", seconds=seconds)

    def prepare(self) -> None:
        """Reset the sandbox and freeze its clock at 10:15 JST of its today."""
        self._ok("POST", "/sandbox/reset")
        self._ok("DELETE", "/sandbox/clock")
        now = self.clock()
        self.started_at = now.isoformat(timespec="seconds")
        self._ok(
            "PUT", "/sandbox/clock", now=f"{now.date().isoformat()}T{START_TIME}+09:00", frozen=True
        )
        self._ok(
            "PUT", "/sandbox/faults", congestion=False, system_error=False, service_suspended=False
        )

    def grants(self, active: bool = True) -> list[dict[str, Any]]:
        found = [
            g
            for g in self._ok("GET", "/admin/grants")["grants"]
            if g.get("client_id") == self.o.client_id and (g.get("active") or not active)
        ]
        return sorted(found, key=lambda g: str(g.get("granted_at")))

    def setup(self, s: Situation, run: SituationRun) -> dict[str, str]:
        """Make the situation's setup; answers the values its instructions name."""
        values: dict[str, str] = {}
        if s.setup is Setup.TAMPER_STATE:
            self.recorder.forge_next_state(True)
        elif s.setup is Setup.MAINTENANCE:
            now = self.clock()
            end = now + MAINTENANCE
            self._ok("POST", "/sandbox/maintenance", start=now.isoformat(), end=end.isoformat())
            run.facts["maintenance"] = {"start": now.isoformat(), "end": end.isoformat()}
            values["until"] = end.strftime("%H:%M JST")
        elif s.setup is Setup.CONGESTION:
            self._ok("PUT", "/sandbox/faults", congestion=True)
            run.facts["faults"] = {"congestion": True}
        elif s.setup is Setup.EXPIRE_ACCESS:
            lifetime = self.access_lifetime()
            self.advance(lifetime + MARGIN_SECONDS)
            run.facts["clock_advanced_seconds"] = lifetime + MARGIN_SECONDS
        elif s.setup is Setup.END_GRANT:
            self.end_grant(run)
        elif s.setup is Setup.REVOKE:
            revoked = [g["grant_id"] for g in self.grants()]
            for grant_id in revoked:
                self._ok("POST", f"/admin/grants/{grant_id}/revoke")
            run.facts["revoked_grants"] = len(revoked)
            if not revoked:
                run.problems.append("the app held no active grant to revoke")
        elif s.setup is Setup.MOVE:
            values["moved_to"] = self.move(s, run)
        return values

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

    def end_grant(self, run: SituationRun) -> None:
        """The clock past the end of the app's newest grant (R-AUTHZ-1: 30 days)."""
        now = self.clock()
        ends = [dt.datetime.fromisoformat(str(g["ends_at"])) for g in self.grants()]
        if ends:
            seconds = (max(ends) - now).total_seconds() + MARGIN_SECONDS
        else:
            run.problems.append("the app held no active grant; the clock moved 30 days")
            seconds = GRANT_DAYS_DEFAULT * 86400 + MARGIN_SECONDS
        self.advance(seconds)
        run.facts["clock_advanced_seconds"] = round(seconds)

    def move(self, s: Situation, run: SituationRun) -> str:
        """R-ACCT-3: the account of the app's newest grant to another branch, same number."""
        held = self.grants()
        if not held:
            run.problems.append("the app held no active grant: no account to move")
            return "(none)"
        old = str(held[-1]["account"])
        branch, kind, number = old.split("-")
        refusals = []
        for other in (b for b in self.o.branches if b != branch):
            new = {"branch_no": other, "account_type": kind, "account_no": number}
            r = self.sandbox.request(
                "POST",
                "/admin/accounts/move",
                **{"from": {"branch_no": branch, "account_type": kind, "account_no": number}},
                to=new,
            )
            if r.status_code == 200:
                moved = f"{other}-{kind}-{number}"
                run.facts["moved"] = {"from": old, "to": moved}
                for pid, account in self.accounts.items():
                    if account == old:
                        self.accounts[pid] = moved
                return moved
            refusals.append(f"{other}: {r.status_code}")
        run.problems.append(f"the bank refused every move of {old} ({', '.join(refusals)})")
        return "(none)"

    def lift(self, s: Situation, run: SituationRun) -> None:
        """End the situation's fault: the clock past the maintenance window, or congestion off."""
        if s.setup is Setup.MAINTENANCE and "maintenance" in run.facts:
            end = dt.datetime.fromisoformat(run.facts["maintenance"]["end"])
            left = (end - self.clock()).total_seconds()
            if left > -1:
                self.advance(left + 1)
        elif s.setup is Setup.CONGESTION:
            self._ok("PUT", "/sandbox/faults", congestion=False)

    # -- the tester ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def persona_line(self, pid: str) -> str:
        p = self.o.personas[pid]
        year, month, day = p.birth
        pin = f", PIN {p.pin}" if p.pin else ""
        return (
            f"persona {pid}: account {self.accounts[pid]}, {p.name_kana}, born "
            f"{year}-{month}-{day}, phone {p.phone}{pin}"
        )

    def show(self, run: SituationRun, phase: str, text: str) -> None:
        s = run.situation
        self.recorder.show(
            situation=s.id,
            index=run.index,
            total=len(PLAN),
            title=s.title,
            phase=phase,
            instructions=text,
            persona=s.persona,
            account=self.accounts[s.persona],
        )
        self.shown_at = self.recorder.now()
        self.say(f"        {phase}: {text}")

    def linked_since(self, since: float) -> bool:
        return any(
            e.role == "token"
            and e.status == 200
            and e.form.get("grant_type") == "authorization_code"
            and e.sent >= since
            and e.client_id in (self.o.client_id, None)
            for e in self.recorder.snapshot()
        )

    def refused_since(self, since: float, role: str) -> bool:
        return any(
            e.role == role and e.status == 503 and e.sent >= since for e in self.recorder.snapshot()
        )

    def wait(
        self, run: SituationRun, deadline: float, also: Callable[[], bool] | None = None
    ) -> bool:
        """Until done (or ``also``) or the deadline; False on the deadline."""
        sid = run.situation.id

        def ready() -> bool:
            return self.recorder.is_done(sid) or (also is not None and also())

        ok = self.recorder.wait_until(ready, max(0.0, deadline - self.recorder.now()))
        if not ok:
            run.timed_out = True
        return ok

    def situation(self, s: Situation, index: int) -> SituationRun:
        run = SituationRun(s, index, began=self.recorder.now())
        deadline = run.began + self.o.timeout
        self.say(f"[{index:2}/{len(PLAN)}] {s.id}: {s.title}")
        self.say(f"        {self.persona_line(s.persona)}")
        fill = {"persona": s.persona}
        try:
            if s.needs_link:
                self.show(
                    run,
                    "link",
                    f"First link the app as {s.persona} (account {self.accounts[s.persona]}): "
                    "walk ① to ⑥ and press 許可する; certify goes on by itself once the app "
                    "has its tokens.",
                )
                start = run.began
                self.wait(run, deadline, lambda: self.linked_since(start))
                if not self.linked_since(start):
                    run.problems.append("the app did not link at the start of the situation")
                    return self.finish(run)
            fill.update(self.setup(s, run))
            fill["account"] = self.accounts[s.persona]
            fill.setdefault("moved_to", self.accounts[s.persona])
            fill.setdefault("until", "")
            run.act_began = self.recorder.now()
            self.show(run, "act", s.instructions.format(**fill))
            if s.fault_role is not None:
                acted = run.act_began
                role = s.fault_role
                met = self.wait(run, deadline, lambda: self.refused_since(acted, role))
                if met and self.refused_since(acted, role):
                    self.say(
                        f"        the app met the refusal; certify keeps it {self.o.hold:g} s more"
                    )
                    self.recorder.wait_until(
                        lambda: self.recorder.is_done(s.id),
                        min(self.o.hold, deadline - self.recorder.now()),
                    )
                    self.lift(s, run)
                    run.cleared = self.recorder.now()
                    self.show(run, "reopened", s.reopened.format(**fill))
            self.wait(run, deadline)
        except SetupError as error:
            run.problems.append(str(error))
            self.say(f"        certify could not set this situation up: {error}")
        return self.finish(run)

    def finish(self, run: SituationRun) -> SituationRun:
        """End the situation: its fault lifted, the forged return disarmed."""
        self.recorder.forge_next_state(False)
        s = run.situation
        if s.setup in (Setup.MAINTENANCE, Setup.CONGESTION) and run.cleared is None:
            try:
                self.lift(s, run)
            except SetupError as error:
                run.problems.append(str(error))
        run.ended = self.recorder.now()
        if run.timed_out:
            self.say(f"        certify stopped waiting after {self.o.timeout:g} s")
        return run

    def keyboard(self) -> None:
        """Enter on the terminal means "done" for the situation in progress, unless
        it has only just been shown (a second Enter would skip the next one)."""

        def read() -> None:
            for _line in sys.stdin:
                if self.recorder.now() - self.shown_at < KEYBOARD_GRACE:
                    self.say("        (Enter ignored: this situation has only just started)")
                    continue
                self.recorder.signal_done()

        threading.Thread(target=read, daemon=True).start()

    def run(self, ready: Callable[[], None] | None = None) -> list[Judged]:
        """Every situation in order; answers them judged."""
        if self.o.keyboard:
            self.keyboard()
        if ready is not None:
            ready()
        judged: list[Judged] = []
        for index, s in enumerate(PLAN, start=1):
            run = self.situation(s, index)
            self.runs.append(run)
            one = judge_run(
                run,
                self.recorder.snapshot(),
                self.o.client_id,
                scopes=("situation",),
                redirect_uris=self.o.redirect_uris,
            )
            judged.append(one)
            requests = sum(1 for e in self.recorder.snapshot() if e.situation == s.id)
            self.say(f"        {requests} requests recorded in {run.ended - run.began:.1f} s")
            for check in s.checks:
                if check.id in one.outcomes:
                    outcome = one.outcomes[check.id]
                    self.say(f"        {MARKS[outcome.result]:>10}  {check.id} ({check.severity})")
                else:
                    self.say(
                        f"        {'later':>10}  {check.id} ({check.severity}; over the whole run)"
                    )
        # The run-wide checks see every situation's requests; the situation-wide
        # ones are judged again on the final record (nothing later changes them).
        exchanges = self.recorder.snapshot()
        return [
            judge_run(j.run, exchanges, self.o.client_id, redirect_uris=self.o.redirect_uris)
            for j in judged
        ]


def judge_run(
    run: SituationRun,
    exchanges: list[Exchange],
    client_id: str,
    scopes: tuple[str, ...] = ("situation", "run"),
    redirect_uris: tuple[str, ...] = (),
) -> Judged:
    ev = Evidence(client_id, exchanges, redirect_uris)
    one = Judged(run)
    for check in run.situation.checks:
        if check.scope not in scopes:
            continue
        if run.situation.needs_link and run.act_began is None and check.scope == "situation":
            one.outcomes[check.id] = Outcome(
                Result.NOT_JUDGED, "the app did not link at the start of the situation"
            )
        else:
            one.outcomes[check.id] = decide(check, run, ev)
    return one
