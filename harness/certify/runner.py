"""Stepping through the plan: the sandbox set up for each situation, the tester
told what to do, the app waited for.

For each situation of :data:`~harness.certify.plan.PLAN` the runner

1. if the situation needs a link, asks for one and waits until the app has
   exchanged a new code (so that each situation starts from a live link of its
   own);
2. makes the situation's setup (:mod:`harness.certify.setups`: the sandbox's
   controls of INTERFACE.md §6, or the proxy's forged return) and tells the
   tester what to do;
3. for a fault, waits until the app has met it (a 503 where the setup says it
   is met), keeps it on for ``hold`` seconds to see whether the app storms, then
   lifts it and says so;
4. waits for "done" — Enter on a terminal, or ``POST /_certify/done`` — at most
   ``timeout`` seconds for the whole situation, then judges its checks
   (:func:`~harness.certify.judge.decide`).

Before the first situation the sandbox — the embedded one, the one certify made
of a ``--target`` (INTERFACE.md §9), or with ``--root`` the target's root — is
reset to its scenario (``POST /sandbox/reset``) and its clock frozen at 10:15
JST of the bank's own today: open by every rule of R-HOURS, and the day the
scenario's relative dates (histories) were built for. The clock only moves when certify moves it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TextIO

from harness.certify.judge import Evidence, Outcome, Result, SituationRun, decide
from harness.certify.plan import PLAN, Phase, Situation
from harness.certify.proxy import Recorder
from harness.certify.record import Exchange
from harness.certify.setups import Made, SandboxControls, SetupError
from harness.driver import Sandbox
from harness.personas import Persona
from renkei.contract import controls

__all__ = ["MARKS", "START_TIME", "Judged", "Options", "Runner", "SetupError", "judge_run"]

#: The time of day the run starts at: open by every rule of R-HOURS.
START_TIME: Final = "10:15:00"
#: An Enter this soon after a situation is shown belongs to the one before.
KEYBOARD_GRACE: Final = 1.0
MARKS: Final = {
    Result.PASSED: "passed",
    Result.FAILED: "FAILED",
    Result.NOT_JUDGED: "not judged",
    Result.NOT_APPLICABLE: "n/a",
}


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
        self.controls = SandboxControls(
            sandbox, recorder, options.client_id, options.branches, self.accounts
        )
        self.runs: list[SituationRun] = []
        self.started_at = ""
        #: when the tester was last told something (for the keyboard's grace)
        self.shown_at = 0.0

    # -- the sandbox ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Reset the sandbox and freeze its clock at 10:15 JST of its today."""
        self.controls.ok("POST", controls.RESET_PATH)
        self.controls.ok("DELETE", controls.CLOCK_PATH)
        now = self.controls.clock()
        self.started_at = now.isoformat(timespec="seconds")
        self.controls.ok(
            "PUT",
            controls.CLOCK_PATH,
            now=f"{now.date().isoformat()}T{START_TIME}+09:00",
            frozen=True,
        )
        self.controls.ok(
            "PUT", controls.FAULTS_PATH, **dict.fromkeys(controls.FAULT_SWITCHES, False)
        )

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

    def show(self, run: SituationRun, phase: Phase, values: dict[str, str]) -> None:
        """Tell the tester (and ``/_certify/status``) what to do in ``phase``."""
        s = run.situation
        text = s.prompt(phase, **values)
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
        made = Made()
        try:
            if s.needs_link:
                self.show(run, "link", {"persona": s.persona, "account": self.accounts[s.persona]})
                start = run.began
                self.wait(run, deadline, lambda: self.linked_since(start))
                if not self.linked_since(start):
                    run.problems.append("the app did not link at the start of the situation")
                    return self.finish(run, made)
            made = s.setup.make(self.controls, run)
            fill = {"persona": s.persona, **made.values, "account": self.accounts[s.persona]}
            fill.setdefault("moved_to", self.accounts[s.persona])
            fill.setdefault("until", "")
            run.act_began = self.recorder.now()
            self.show(run, "act", fill)
            fault = s.fault
            if fault is not None:
                acted = run.act_began
                role = fault.met_on.role
                met = self.wait(run, deadline, lambda: self.refused_since(acted, role))
                if met and self.refused_since(acted, role):
                    self.say(
                        f"        the app met the refusal; certify keeps it {self.o.hold:g} s more"
                    )
                    self.recorder.wait_until(
                        lambda: self.recorder.is_done(s.id),
                        min(self.o.hold, deadline - self.recorder.now()),
                    )
                    run.lifting = self.recorder.now()
                    if made.lift is not None:
                        made.lift()
                    run.cleared = self.recorder.now()
                    self.show(run, "reopened", fill)
            self.wait(run, deadline)
        except SetupError as error:
            run.problems.append(str(error))
            self.say(f"        certify could not set this situation up: {error}")
        return self.finish(run, made)

    def finish(self, run: SituationRun, made: Made) -> SituationRun:
        """End the situation: its fault lifted, the forged return disarmed."""
        self.recorder.forge_next_state(False)
        if made.lift is not None and run.cleared is None:
            try:
                made.lift()
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
    """The situation's checks of the given scopes, judged on ``exchanges``."""
    ev = Evidence(client_id, exchanges, redirect_uris)
    one = Judged(run)
    for check in run.situation.checks:
        if check.scope in scopes:
            one.outcomes[check.id] = decide(check, run, ev)
    return one
