"""``renkei replay``: play a twin's trace against a live server and compare.

Each journey of the trace gets its own customer's browser (cookies), partner
app (PKCE and ``state``) and phone, from :mod:`harness.driver`, so the server
is spoken to only through the public interface (INTERFACE.md §1–§6) and any
implementation with the sandbox controls can be replayed against.

**Clock steering.** The server's sandbox clock is one for all customers, so the
steps are sent in the trace's order of simulated time, and before each step
the clock is set, frozen, to the step's instant (``PUT /sandbox/clock``): the
server then sees exactly the instants the twin saw, and the answers must be
the same for the same inputs (DESIGN.md "One core, two clocks"). ``--speed N``
paces the steps at N simulated seconds per wall second (0, the default: no
waiting). Steps at one instant go out together, up to ``--concurrency`` at a
time; steps at different instants cannot share a frozen clock, so a replay is
mostly sequential — concurrent load is the Locust file's job.

Before the first step the sandbox is reset to the scenario as on the trace's
``host_day`` (renkei's ``{"today": ...}`` extension of ``POST /sandbox/reset``).

**A platform's trace** (version 2, INTERFACE.md §10: the header lists the
banks, each step names its own) is played bank by bank on one sandbox of the
platform scenario: each step at ``BASE/banks/CODE/`` of its bank, each bank
reset as on the trace's day (``BASE/sandbox/reset`` puts back the platform's
settings and the first bank, ``BASE/banks/CODE/sandbox/reset`` each other
bank), the one clock steered at BASE. The server's congestion counts the flows
of every bank together (R-PLAT-3), as the twin's one capacity did, so the
answers compare code by code exactly as a one-bank replay's.

**A sandbox of its own.** Steering the clock and resetting would change the
world of everyone else on the server, so ``renkei replay`` plays in a new
sandbox (INTERFACE.md §9, ``POST /sandboxes`` with the operator's
``--admin-token``) made from the trace's scenario — the header names it: a
shipped one by its name, any other file sent inline — or from ``--scenario``,
prints where it is, and deletes it at the end unless ``--keep-sandbox``.
``--root`` plays on the server's root sandbox as before; a server without §9
needs it, and says so in one line otherwise.

**Comparison.** Every answer is the screen shown next, ``granted``,
``cancelled``, ``verified``/``not_verified`` or the machine code; the counts per
answer are printed beside the twin's, with the difference, then the first steps
that differ and a one-line verdict (:func:`verdict`) whose exit status it is: 0
when the server agrees, 1 when it does not, 2 when the run could not be made.
With ``--tolerance`` 0, the default, every step must agree; above 0, the count
of each answer may differ by that fraction of the twin's count.
``--max-seconds`` and ``--max-steps`` bound a run; an unfinished replay
compares only the steps it sent.

**The plot.** Each step's latency is measured as it is sent; beside the table,
a PNG shows the twin's and the server's answers per hour and code, and the
server's latency per step over the run (:mod:`harness.replay_plot`; ``--plot``,
``--no-plot``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

import requests
from tabulate import tabulate

from harness import replay_plot
from harness.driver import (
    Answer,
    Browser,
    NoSandboxes,
    PartnerApp,
    Phone,
    Platform,
    Sandbox,
    SandboxInfo,
    SandboxRefused,
    discard_sandbox,
    query,
)
from harness.replay_plot import Answered, timed
from renkei import resources
from renkei.args import non_negative, positive_int
from renkei.contract.banks import bank_base
from renkei.contract.controls import CLOCK_PATH, RESET_PATH
from renkei.contract.screens import CANCEL_PATH, SCREEN_PATHS
from renkei.contract.trace import BUTTONS, Step, Trace, TraceError, read

#: The path each button of the trace posts to (INTERFACE.md §2).
PATHS: Final = {
    **{do: SCREEN_PATHS[screen.value] for do, screen in BUTTONS.items()},
    "cancel": CANCEL_PATH,
}
SHOWN_MISMATCHES: Final = 10


class ReplayError(Exception):
    """The replay cannot go on (the target refused a control, or is not reachable)."""


def bank_url(base: str, code: str) -> str:
    """Where a step of bank ``code`` is played: ``BASE/banks/CODE`` (INTERFACE.md §10);
    BASE itself for a one-bank trace's step (``code`` "")."""
    return base + bank_base(code) if code else base


def reset_banks(base: str, admin_token: str, trace: Trace) -> None:
    """Reset the sandbox at ``base`` to the trace's scenario as on its ``host_day``:
    BASE (the platform's settings and its first bank), then each bank of a platform
    trace at its own path (the first again, whichever the sandbox's first is: a
    reset costs less than a doubt). :class:`ReplayError` when a reset is refused."""
    day = trace.header.get("host_day")
    body = {"today": day} if day else {}
    for code in ("", *trace.banks):
        sandbox = Sandbox(bank_url(base, code), admin_token)
        try:
            r = sandbox.request("POST", RESET_PATH, **body)
        finally:
            sandbox.close()
        if r.status_code != 200:
            shown = bank_url("", code) + RESET_PATH
            raise ReplayError(f"POST {shown}: {r.status_code} {r.text[:200]}")


@dataclass
class Customer:
    """One journey's parties on the live server: the browser (with the flow's
    cookie), the partner app of its latest authorization request, the phone."""

    browser: Browser
    app: PartnerApp
    base: str
    phones: dict[str, Phone] = field(default_factory=dict)
    call_to: str = ""
    #: What the gateway asks of every call (§4): its secret (a sandbox's own,
    #: §9) or, when that is not known (``--root``), the admin token.
    secret: str = ""
    admin_token: str = ""

    def phone(self, number: str) -> Phone:
        """The phone with ``number``; it shares the browser's connections (the
        gateway reads no cookie), so a journey holds one keep-alive connection."""
        found = self.phones.get(number)
        if found is None:
            found = self.phones[number] = Phone(
                self.base, number, self.browser.session, self.secret, self.admin_token
            )
        return found

    def close(self) -> None:
        self.app.close()
        self.browser.close()

    def read(self, answer: Answer) -> str:
        """What the twin would have recorded for this answer."""
        if answer.body.get("call_to"):
            self.call_to = str(answer.body["call_to"])
        if answer.codes:
            return answer.codes[0]
        location = answer.location or ""
        if answer.status in (302, 303) and urlsplit(location).netloc:  # back to the app
            back = query(location)
            if "code" in back:
                return "granted"
            if back.get("error") == "access_denied":
                return "cancelled"
            return back.get("error_description", back.get("error", "redirect"))
        if answer.screen_id:
            return answer.screen_id
        if answer.body.get("screen_id", "") is None and answer.body.get("message"):
            return "cancelled"  # the 中止 page (R-FLOW-7)
        return f"http_{answer.status}"

    def act(self, step: Step) -> str:
        if step.do == "authorize":
            return self.read(self.browser.follow(self.browser.open(self.app.authorize_url())))
        if step.do == "call":
            phone = self.phone(step.inputs.get("from", ""))
            answer = phone.call(step.inputs.get("prefix", "") + self.call_to)
            return "verified" if answer.get("verified") else "not_verified"
        return self.read(self.browser.follow(self.browser.post(PATHS[step.do], step.inputs)))


@dataclass
class Result:
    predicted: Counter[str] = field(default_factory=Counter)
    observed: Counter[str] = field(default_factory=Counter)
    mismatches: list[tuple[Step, str]] = field(default_factory=list)
    sent: int = 0
    #: The steps sent per bank of a platform trace (empty for one bank).
    banks: Counter[str] = field(default_factory=Counter)
    complete: bool = True
    wall: float = 0.0
    #: Every step sent, with the server's answer and its latency: the plot's data
    #: (:mod:`harness.replay_plot`).
    answered: list[Answered] = field(default_factory=list)

    def table(self) -> str:
        rows = []
        for code in sorted(set(self.predicted) | set(self.observed)):
            p, o = self.predicted[code], self.observed[code]
            rows.append((code, p, o, o - p))
        return tabulate(rows, headers=("answer", "twin", "server", "difference"), tablefmt="github")

    def beyond(self, tolerance: float) -> list[str]:
        """The answers whose count differs by more than ``tolerance`` of the twin's."""
        codes = set(self.predicted) | set(self.observed)
        return sorted(
            c
            for c in codes
            if abs(self.observed[c] - self.predicted[c]) > tolerance * self.predicted[c]
        )


def _instants(steps: list[Step]) -> Iterator[list[Step]]:
    """The steps grouped by instant (consecutive, as the trace is in time order)."""
    group: list[Step] = []
    for step in steps:
        if group and step.t != group[0].t:
            yield group
            group = []
        group.append(step)
    if group:
        yield group


class Replayer:
    def __init__(
        self,
        trace: Trace,
        target: str,
        admin_token: str,
        speed: float = 0.0,
        max_seconds: float = 600.0,
        max_steps: int | None = None,
        concurrency: int = 4,
        telephony_secret: str = "",
    ) -> None:
        self.trace, self.target = trace, target.rstrip("/")
        self.telephony_secret = telephony_secret
        self.sandbox = Sandbox(self.target, admin_token)
        self.speed, self.max_seconds, self.max_steps = speed, max_seconds, max_steps
        self.concurrency = concurrency
        self.customers: dict[int, Customer] = {}
        self.result = Result()
        #: The index of the first step not yet answered.
        self.position = 0
        clients = trace.header.get("clients")
        self.clients: dict[str, Any] = clients if isinstance(clients, dict) else {}

    def customer(self, journey: int, step: Step) -> Customer:
        found = self.customers.get(journey)
        if found is None or step.do == "authorize":
            client_id = step.inputs.get("client_id", "creco")
            client = self.clients.get(client_id)
            if not isinstance(client, dict):
                raise ReplayError(f"the trace's header has no partner app {client_id!r}")
            # The journey's bank (a platform trace's step names it): its own issuer,
            # screens and gateway, at BASE/banks/CODE (INTERFACE.md §10).
            base = bank_url(self.target, step.bank)
            app = PartnerApp(
                base,
                client_id=client_id,
                client_secret=str(client.get("client_secret", "")),
                redirect_uri=str(client.get("redirect_uri", "")),
                scope=str(client.get("scope", "")),
            )
            # A retry after a refusal is a new authorization request in the same
            # browser, as a person's would be.
            if found is None:
                found = Customer(
                    Browser(base),
                    app,
                    base,
                    secret=self.telephony_secret,
                    admin_token=self.sandbox.token,
                )
            else:
                found.app.close()
                found.app = app
            self.customers[journey] = found
        return found

    def prepare(self) -> None:
        reset_banks(self.target, self.sandbox.token, self.trace)

    def set_clock(self, instant: str) -> None:
        r = self.sandbox.request("PUT", CLOCK_PATH, now=instant, frozen=True)
        if r.status_code != 200:
            raise ReplayError(f"PUT {CLOCK_PATH}: {r.status_code} {r.text[:200]}")

    def run(self, progress: TextIO | None = None, resume: bool = False) -> Result:
        """Send the steps; :attr:`result` grows as they are answered, so a run that
        stops on an error (the server went away) keeps what was acknowledged, and
        ``resume=True`` goes on from the first step not acknowledged, without a reset
        and with the same browsers (cookies)."""
        if not resume:
            self.result, self.position = Result(), 0
            self.prepare()
        result = self.result
        steps = self.trace.steps[: self.max_steps] if self.max_steps else self.trace.steps
        began = time.perf_counter()
        first = _seconds(steps[self.position].t) if self.position < len(steps) else 0.0
        last_step = {step.journey: step for step in steps}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for group in _instants(steps[self.position :]):
                elapsed = time.perf_counter() - began
                if elapsed > self.max_seconds:
                    break
                if self.speed > 0:
                    due = (_seconds(group[0].t) - first) / self.speed
                    if due > elapsed:
                        time.sleep(min(due - elapsed, self.max_seconds - elapsed))
                self.set_clock(group[0].t)
                outs = self.send(pool, group)
                self.position += len(group)
                for step in group:
                    if last_step[step.journey] is step:
                        # The journey is over: free its connection (a server has a
                        # limit on open ones, and a day has many journeys).
                        self.customers.pop(step.journey).close()
                for step, (out, sent, seconds) in zip(group, outs, strict=True):
                    result.answered.append(Answered(step, out, sent, seconds))
                    result.predicted[step.out] += 1
                    result.observed[out] += 1
                    if out != step.out:
                        result.mismatches.append((step, out))
                    result.sent += 1
                    if step.bank:
                        result.banks[step.bank] += 1
                if progress is not None and progress.isatty():
                    progress.write(f"\rreplayed {result.sent:,}/{len(steps):,} steps")
                    progress.flush()
        if progress is not None and progress.isatty():
            progress.write("\n")
        result.complete = self.position >= len(self.trace.steps)
        result.wall += time.perf_counter() - began
        return result

    def send(self, pool: ThreadPoolExecutor, group: list[Step]) -> list[tuple[str, float, float]]:
        """The steps of one instant: together when they are of different journeys
        (the steps of one journey stay in order); each answer with the instant it was
        sent and the seconds it took (:func:`~harness.replay_plot.timed`)."""
        customers = [self.customer(s.journey, s) for s in group]
        if len(group) > 1 and len({s.journey for s in group}) == len(group):
            return list(pool.map(timed, customers, group))
        return [timed(c, s) for c, s in zip(customers, group, strict=True)]


def _seconds(instant: str) -> float:
    return dt.datetime.fromisoformat(instant).timestamp()


# -- the command -------------------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "replay",
        help="play a twin's traffic trace against a live server and compare",
        description=(
            "Send the steps of a trace written by `renkei simulate --trace` to a live "
            "server, steering its sandbox clock to each step's instant, and print the "
            "twin's predicted answers beside the server's, then a one-line verdict: "
            "exit 0 when the server agrees, 1 when it does not (with --tolerance 0, the "
            "default, on any step), 2 when the replay could not run."
        ),
    )
    p.add_argument("trace", metavar="FILE", help="a trace from renkei simulate --trace")
    p.add_argument(
        "--target", required=True, metavar="URL", help="the server, e.g. http://127.0.0.1:8000"
    )
    p.add_argument(
        "--admin-token",
        required=True,
        metavar="T",
        help="its admin token: the operator's, which makes the replay's sandbox (§9)",
    )
    p.add_argument(
        "--root",
        action="store_true",
        help="play on the server's root sandbox (reset, its clock steered) instead of a new "
        "sandbox of its own; a server without POST /sandboxes needs it",
    )
    p.add_argument(
        "--scenario",
        metavar="FILE",
        help="the new sandbox's scenario, a file or a shipped name (default: the one the "
        "trace's header names)",
    )
    p.add_argument(
        "--keep-sandbox",
        action="store_true",
        help="keep the new sandbox at the end (it lives its TTL, 24 h)",
    )
    p.add_argument(
        "--speed",
        type=non_negative,
        default=0.0,
        metavar="N",
        help="simulated seconds per wall second (default 0: as fast as the server answers)",
    )
    p.add_argument(
        "--max-seconds",
        type=non_negative,
        default=600.0,
        metavar="S",
        help="stop after S wall seconds (default 600)",
    )
    p.add_argument("--max-steps", type=positive_int, metavar="N", help="send at most N steps")
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        metavar="N",
        help="requests in flight for steps at one instant (default 4)",
    )
    p.add_argument(
        "--tolerance",
        type=non_negative,
        default=0.0,
        metavar="F",
        help="allowed difference per answer, as a fraction of the twin's count (default 0)",
    )
    replay_plot.add_arguments(p)
    p.set_defaults(handler=run)


def trace_scenario(trace: Trace, given: str | None = None) -> tuple[str | None, str | None, str]:
    """What the replay's sandbox is made from: ``(name, None, shown)`` for a shipped
    scenario, ``(None, yaml, shown)`` for any other file; ``given`` (``--scenario``)
    before the scenario the trace's header names (``scenarios/load.yaml`` for a
    shipped one, else the file as ``renkei simulate`` was given it).
    :class:`ReplayError` when it is neither a shipped one nor a file here."""
    named = given or trace.header.get("scenario")
    if not isinstance(named, str) or not named:
        raise ReplayError("the trace's header names no scenario; give --scenario FILE, or --root")
    shipped = resources.scenarios().resolve()
    if given:
        try:
            path = resources.find_scenario(given)
        except resources.NotFound as error:
            raise ReplayError(f"--scenario {error}") from None
    else:
        path = Path(named)
        prefix, _, name = named.partition("/")
        if (
            not path.is_file()
            and prefix == "scenarios"
            and name.removesuffix(".yaml") in (resources.scenario_names())
        ):
            path = shipped / name  # a shipped scenario, as the header shows one
    if path.is_file() and path.resolve().parent == shipped:
        return path.stem, None, named
    try:
        return None, path.read_text("utf-8"), named
    except OSError as error:
        where = "--scenario" if given else "the trace's scenario"
        raise ReplayError(
            f"{where} {named}: {error.strerror}; give --scenario FILE, or --root"
        ) from None


def make_sandbox(args: argparse.Namespace, trace: Trace, out: TextIO) -> SandboxInfo:
    """The replay's own sandbox on ``--target`` (INTERFACE.md §9), said in one line."""
    name, text, shown = trace_scenario(trace, args.scenario)
    platform = Platform(args.target.rstrip("/"), args.admin_token)
    label = f"renkei replay {Path(args.trace).name}"
    try:
        made = (
            platform.create(name, label=label)
            if name is not None
            else platform.create(yaml=text, label=label)
        )
    except NoSandboxes:
        raise ReplayError(
            f"{args.target} does not serve POST /sandboxes (INTERFACE.md §9); add --root to "
            "replay on its root sandbox, whose clock the replay steers"
        ) from None
    except SandboxRefused as error:
        raise ReplayError(f"the target made no sandbox: {' '.join(str(error).split())}") from None
    finally:
        platform.close()
    fate = "kept at the end" if args.keep_sandbox else "deleted at the end"
    print(
        f"renkei replay: in sandbox {made.id} of its own, {made.base_url} (scenario {shown}, "
        f"admin token {made.admin_token}), {fate}",
        file=out,
        flush=True,
    )
    return made


def end_sandbox(args: argparse.Namespace, made: SandboxInfo) -> None:
    """Delete the replay's sandbox, unless ``--keep-sandbox``."""
    if args.keep_sandbox:
        return
    discard_sandbox(args.target.rstrip("/"), args.admin_token, made, "replay")


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        trace = read(Path(args.trace))
    except TraceError as e:
        print(f"renkei replay: {e}", file=sys.stderr)
        return 2
    if args.root and (args.scenario or args.keep_sandbox):
        flag = "--scenario" if args.scenario else "--keep-sandbox"
        print(
            f"renkei replay: {flag} is for a sandbox of its own; --root makes none", file=sys.stderr
        )
        return 2
    made: SandboxInfo | None = None
    try:
        if not args.root:
            made = make_sandbox(args, trace, out)
        where = made.base_url if made is not None else args.target
        replayer = Replayer(
            trace,
            where,
            made.admin_token if made is not None else args.admin_token,
            speed=args.speed,
            max_seconds=args.max_seconds,
            max_steps=args.max_steps,
            concurrency=args.concurrency,
            telephony_secret=made.telephony_secret if made is not None else "",
        )
        result = replayer.run(progress=sys.stderr)
    except ReplayError as e:
        print(f"renkei replay: {e}", file=sys.stderr)
        return 2
    except requests.RequestException as e:
        print(f"renkei replay: cannot reach {args.target}: {e}", file=sys.stderr)
        return 2
    finally:
        if made is not None:
            end_sandbox(args, made)
    print(report(trace, result, where), file=out)
    said, written = replay_plot.write_for(args, trace, result.answered)
    if said:
        print(said, file=out if written else sys.stderr)
    beyond = result.beyond(args.tolerance)
    if beyond:
        print(
            f"renkei replay: {len(beyond)} answer(s) beyond the tolerance of "
            f"{args.tolerance:g}: {', '.join(beyond)}",
            file=sys.stderr,
        )
    line, status = verdict(trace, result, args.tolerance)
    print(line, file=out)
    return status


def _where(step: Step) -> str:
    """Where a step happened: the screen whose button it pressed, else the action (and
    on a platform, at which bank)."""
    screen = BUTTONS.get(step.do)
    where = screen.value if screen is not None else step.do
    return f"bank {step.bank} {where}" if step.bank else where


def verdict(trace: Trace, result: Result, tolerance: float = 0.0) -> tuple[str, int]:
    """The replay's conclusion in one line, and the exit status that says the same.

    The server disagrees when a step answered otherwise than the twin predicted
    (with ``tolerance`` 0) or when the count of an answer differs by more than
    ``tolerance`` of the twin's count; a replay cut short by ``--max-steps`` or
    ``--max-seconds`` is judged on the steps it sent, and says so.
    """
    scope = f"of {result.sent:,} steps" + ("" if result.complete else " sent")
    early = "" if result.complete else f"; stopped early, the trace has {len(trace.steps):,}"
    differ = len(result.mismatches)
    first = ""
    if result.mismatches:
        step, got = result.mismatches[0]
        first = f"journey {step.journey}, {_where(step)}: twin {step.out}, live {got}"
    if result.beyond(tolerance) or (differ and tolerance == 0):
        return f"renkei replay: disagrees on {differ:,} {scope} (first: {first}){early}", 1
    if differ:
        return (
            f"renkei replay: agrees with the twin within the tolerance of {tolerance:g} on "
            f"{result.sent - differ:,} {scope} (first difference: {first}){early}",
            0,
        )
    return f"renkei replay: agrees with the twin on {result.sent:,} {scope}{early}", 0


def _name(bank: object) -> str:
    """A bank's name from a platform trace's header (its entry in ``banks``)."""
    return str(bank.get("name", "")) if isinstance(bank, dict) else ""


def report(trace: Trace, result: Result, target: str) -> str:
    h = trace.header
    lines = [
        f"renkei replay — trace of profile {h.get('profile')!r} (seed {h.get('seed')}) "
        f"against {target}",
        f"{result.sent:,} of {len(trace.steps):,} steps in {result.wall:.1f} s"
        + ("" if result.complete else " (stopped early: only the steps sent are compared)"),
        "",
        result.table(),
    ]
    if result.banks:
        differ = Counter(step.bank for step, _ in result.mismatches)
        named = h.get("banks") or {}
        per_bank = [
            (code, _name(named.get(code)), result.banks[code], differ[code]) for code in trace.banks
        ]
        lines += [
            "",
            # The code is text: a 金融機関コード may start with 0.
            tabulate(
                per_bank,
                headers=("bank", "name", "steps", "differ"),
                tablefmt="github",
                disable_numparse=[0],
            ),
        ]
    if result.mismatches:
        lines += ["", f"first steps that differ ({len(result.mismatches)} in all):"]
        shown = result.mismatches[:SHOWN_MISMATCHES]
        # A platform's trace says at which bank each step was (its code is text).
        bank = bool(trace.banks)
        rows = [[s.t, s.journey, *([s.bank] if bank else []), s.do, s.out, got] for s, got in shown]
        headers = ("instant", "journey", *(["bank"] if bank else []), "step", "twin", "server")
        numbers: bool | list[int] = [2] if bank else False
        lines.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=numbers))
    return "\n".join(lines)
