"""Benchmark: the bank's throughput and latency on loopback, the bank and its clients
each on cores of their own. On demand only.

    .venv/bin/python benchmarks/bench_throughput.py [--clients 32] [--seconds 20]
        [--client-processes 2] [--workers 2] [--threads 8] [--database-url URL]
        [--bank-cores 0] [--client-cores 1] [--open-load 0.5] [--open-clients 32]
        [--open-seconds S]
        [--sandboxes 20 [--rounds 2]] [--memory 10000 [--memory-rounds 5]]

Starts ``renkei serve`` (a scenario with room for every client's flow) with its
processes allowed on ``--bank-cores`` only, and runs its clients on
``--client-cores`` only (``sched_setaffinity``, which every child inherits), so
that the bank's figures are the bank's. In one run:

1. **bare** — ``--clients`` clients ask a bare endpoint (the OAuth metadata,
   ``GET /.well-known/oauth-authorization-server``: no database, no flow) for
   ``--seconds``: the requests per second of the server stack itself;
2. **flows** — the same clients each walk complete flows, each as its own
   customer of the scenario's bulk population (its own phone, as real traffic),
   from ``/oauth/authorize`` to the token exchange, each as soon as the last
   ended (a closed loop): the capacity, in complete flows per second;
3. **open** — flows arrive at ``--open-load`` of that capacity (Poisson, for
   ``--open-seconds``, by default ``--seconds``), each walked by a free one of
   ``--open-clients`` clients, each step sent as soon as the last is answered:
   the latency of each step at that load, as the client saw it and as the bank
   spent it (its ``Server-Timing: app;dur=…``, from the request reaching the
   application to its answer), against the goals: the bank's p99 at most 50 ms,
   the client's at most 100 ms.

For each phase it prints the bank's busy fraction of its cores (the CPU time of
the server's processes, from /proc/PID/stat, over the phase's wall time), what
else ran on those cores (/proc/stat), the clients' busy fraction of theirs, the
bank's CPU per answer and the clients' CPU per request. The clients are
:mod:`throughput_client` processes of plain :mod:`http.client` threads: a
``requests`` session costs more CPU per request than the bank's bare answer, and
one core of such clients could not keep one core of bank busy.

With ``--memory N`` the run walks N complete flows (closed loop, in
``--memory-rounds`` rounds, at most :data:`MEMORY_SECONDS` in all) and prints
each server process's resident memory (VmRSS) before the first and after each
round, and its peak (VmHWM) at the end.

With ``--sandboxes N`` the run asks instead what isolation costs (INTERFACE.md
§9): it creates N sandboxes of the same scenario (``POST /sandboxes`` with the
operator's token) and runs the flows phase ``--rounds`` times in each of two
ways, interleaved — **alone**, every client on the root sandbox, then
**spread**, the same clients dealt round-robin over the N sandboxes, each at
its ``base_url`` with its telephony secret — because this machine's speed
varies by a third from one run to the next and would otherwise be measured
instead. A short walk of each way first (:data:`WARM_UP`, not counted) has
every server process build its Service of each sandbox.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.driver import PartnerApp, Platform, Sandbox  # noqa: E402
from harness.embedded import EmbeddedSandbox  # noqa: E402
from renkei.contract import controls, telephony  # noqa: E402
from simulator.core.host import AccountStatus, PinVault  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

CLIENT = Path(__file__).with_name("throughput_client.py")
CustomerData = tuple[dict[str, str], dict[str, str], str]
#: Where a client walks its flows: a sandbox's base URL and the header that lets its
#: calls through the telephony gateway.
Target = tuple[str, dict[str, str]]
OPEN = "2026-12-02T10:00:00+09:00"
#: The most sandboxes a run creates: the server's --max-sandboxes default.
MOST_SANDBOXES = 100
#: Seconds of flows walked before the measured phases (and, with --sandboxes, of
#: each way before the rounds), not counted: each server process's first answers
#: build what it keeps (templates, a sandbox's Service).
WARM_UP = 3.0
#: The longest --memory run, in seconds: its rounds stop there, done or not.
MEMORY_SECONDS = 3600.0
#: The busy fraction of its cores below which the bank was not the bottleneck.
BUSY = 0.9
#: The open-loop goals (issue 17): the bank's own p99 of a step, the client's.
BANK_P99_MS, CLIENT_P99_MS = 50.0, 100.0


def customers(today: dt.date) -> list[CustomerData]:
    """The default scenario's bulk customers whose first account can be linked:
    (① form, ② form, PIN), as the server builds them for ``today``."""
    scenario = load_scenario(ROOT / "scenarios" / "default.yaml")
    _, people = scenario.build_with_population(PinVault(b"k" * 32), today)
    found = []
    for person in people:
        account = person.accounts[0]
        c = person.customer
        usable = account.status is AccountStatus.OPEN and account.pin is not None
        if not usable or account.card_issued_on is None or account.card_issued_on > today:
            continue
        key = account.key
        found.append(
            (
                {
                    "branch_no": key.branch_no,
                    "account_type": key.account_type,
                    "account_no": key.account_no,
                },
                {
                    "name_kana": c.name_kana,
                    "birth_year": str(c.birth_date.year),
                    "birth_month": str(c.birth_date.month),
                    "birth_day": str(c.birth_date.day),
                    "phone": c.phone,
                    "email": f"{c.customer_id.lower()}@example.jp",
                    "email_confirm": f"{c.customer_id.lower()}@example.jp",
                },
                str(account.pin),
            )
        )
    return found


def percentiles(values: list[float]) -> tuple[str, str]:
    """p50 and p99 of ``values``, as printed."""
    if not values:
        return ("-", "-")
    return (f"{statistics.median(values):.1f}", f"{p99(values):.1f}")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# -- the bank's processes, from /proc -----------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (Linux /proc; those that are gone are left out)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        found.append(current)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by ``pid`` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for current in tree(pid):
        try:
            # The fields after the command's closing parenthesis: utime, stime are 12, 13.
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def status(pid: int) -> dict[str, str]:
    """The lines of /proc/PID/status, by name (empty when the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def mib(value: str) -> float:
    """A /proc/PID/status size (``123456 kB``) in MiB; 0.0 when absent."""
    number = value.split(maxsplit=1)[0] if value else "0"
    return int(number) / 1024


def cores_busy() -> dict[int, tuple[int, int]]:
    """Each core's (busy, all) clock ticks since boot, from /proc/stat."""
    found = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, ticks[:8])
            busy = user + nice + system + irq + softirq + steal
            found[int(name[3:])] = (busy, busy + idle + iowait)
    return found


def cpu_set(text: str) -> frozenset[int]:
    """``0``, ``0-1`` or ``0,2-3`` as a set of cores; ValueError when it is none."""
    found: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        found.update(range(int(low), int(high or low) + 1))
    if not found:
        raise ValueError(text)
    return frozenset(found)


def named(cores: frozenset[int]) -> str:
    word = "core" if len(cores) == 1 else "cores"
    return f"{word} {','.join(map(str, sorted(cores)))}"


@dataclass(frozen=True)
class Pinning:
    """The cores the bank's processes may run on, and the clients'."""

    bank: frozenset[int]
    clients: frozenset[int]

    @property
    def separate(self) -> bool:
        return not self.bank & self.clients


# -- one phase -----------------------------------------------------------------------


@dataclass
class Phase:
    """What one phase did, merged over its client processes."""

    name: str
    done: int
    failed: int
    error: str
    requests: int
    wall: float
    elapsed: float
    bank_cpu: float
    client_cpu: float
    #: The fraction of the bank's cores' time that anything at all ran on them.
    cores_busy: float
    arrivals: int = 0
    lag: list[float] = field(default_factory=list)
    client: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def bank_busy(self, pins: Pinning) -> float:
        return self.bank_cpu / (self.elapsed * len(pins.bank))

    def clients_busy(self, pins: Pinning) -> float:
        return self.client_cpu / (self.elapsed * len(pins.clients))


@dataclass
class Runner:
    """Runs phases against one server: its process, the customers, the cores."""

    args: argparse.Namespace
    server_pid: int
    people: list[CustomerData]
    pins: Pinning
    app: dict[str, str]

    def phase(
        self,
        targets: list[Target],
        name: str,
        seconds: float,
        *,
        clients: int | None = None,
        count: int | None = None,
        rate: float = 0.0,
    ) -> Phase:
        """Run one phase in the client processes at once; merge their results.
        ``count``: the flows to walk in all, each process its share (else as many as
        ``seconds`` allow); ``rate``: the open loop's arrivals per second in all."""
        clients = clients or self.args.clients
        processes = min(self.args.client_processes, clients)
        share = [clients // processes + (i < clients % processes) for i in range(processes)]
        children, first = [], 0
        for i, threads in enumerate(share):
            quota = None
            if count is not None:
                quota = count * (first + threads) // clients - count * first // clients
            spec = {
                "phase": name,
                "targets": targets,
                "first": first,
                "threads": threads,
                "seconds": seconds,
                "customers": self.people[first : first + threads] if name != "bare" else [],
                "app": self.app,
                "count": quota,
                "rate": rate * threads / clients,
                "seed": i + 1,
            }
            child = subprocess.Popen(
                [sys.executable, str(CLIENT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdin is not None
            child.stdin.write(json.dumps(spec) + "\n")
            child.stdin.flush()
            children.append(child)
            first += threads
        for child in children:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a client process of the {name} phase did not start")
        cpu, ticks = cpu_seconds(self.server_pid), cores_busy()
        began = time.perf_counter()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [
            json.loads(child.communicate(timeout=seconds + 120)[0] or "{}") for child in children
        ]
        elapsed = time.perf_counter() - began
        bank_cpu, after = cpu_seconds(self.server_pid) - cpu, cores_busy()
        if not all(outputs):
            raise RuntimeError(f"a client process of the {name} phase ended without its results")
        busy = sum(after[c][0] - ticks[c][0] for c in self.pins.bank)
        every = sum(after[c][1] - ticks[c][1] for c in self.pins.bank)
        merged = Phase(
            name=name,
            done=sum(o["done"] for o in outputs),
            failed=sum(o["failed"] for o in outputs),
            error=next((o["error"] for o in outputs if o["error"]), ""),
            requests=sum(o["requests"] for o in outputs),
            wall=max(o["wall"] for o in outputs),
            elapsed=elapsed,
            bank_cpu=bank_cpu,
            client_cpu=sum(o["cpu"] for o in outputs),
            cores_busy=busy / every if every else 0.0,
            arrivals=sum(o["arrivals"] for o in outputs),
            lag=[v for o in outputs for v in o["lag"]],
        )
        for o in outputs:
            for step, values in o["client"].items():
                merged.client[step] += values
            for step, values in o["server"].items():
                merged.server[step] += values
        return merged


# -- the run -------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    """The run's options, each checked: a bad one is one line and exit 2."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="closed-loop clients")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0, help="of each phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument("--bank-cores", default="0", help="the server's cores (0, 0-1, 0,2)")
    parser.add_argument("--client-cores", default="1", help="the clients' cores")
    parser.add_argument(
        "--open-load",
        type=float,
        default=0.5,
        help="the open-loop arrival rate, as a fraction of the measured capacity (0: no phase)",
    )
    parser.add_argument("--open-clients", type=int, default=32, help="open-loop clients")
    parser.add_argument(
        "--open-seconds", type=float, help="of arrivals in the open loop (default: --seconds)"
    )
    parser.add_argument(
        "--memory", type=int, default=0, help="walk this many flows; print the workers' RSS"
    )
    parser.add_argument("--memory-rounds", type=int, default=5)
    parser.add_argument(
        "--sandboxes",
        type=int,
        default=0,
        help="compare the root sandbox alone with the clients spread over this many",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="with --sandboxes: rounds of alone, then spread"
    )
    args = parser.parse_args()
    people = 80  # the default scenario's bulk customers who can link (89) and a margin
    if not 1 <= args.clients <= people or not 1 <= args.open_clients <= people:
        parser.error(f"--clients and --open-clients must be between 1 and {people}")
    if not 1 <= args.client_processes <= args.clients:
        parser.error("--client-processes must be between 1 and --clients")
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be more than 0 and at most 600")
    if args.open_seconds is None:
        args.open_seconds = args.seconds
    if not 0 < args.open_seconds <= 3600:
        parser.error("--open-seconds must be more than 0 and at most 3600")
    if not 0 <= args.open_load < 1:
        parser.error("--open-load must be at least 0 and less than 1")
    if not 0 <= args.sandboxes <= MOST_SANDBOXES:
        parser.error(f"--sandboxes must be between 0 and {MOST_SANDBOXES}")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be between 1 and 10")
    if not 0 <= args.memory <= 1_000_000 or not 1 <= args.memory_rounds <= 100:
        parser.error("--memory must be 0 to 1000000 flows, --memory-rounds 1 to 100")
    if args.memory and args.sandboxes:
        parser.error("--memory and --sandboxes are separate runs")
    try:
        args.pins = pinning(args.bank_cores, args.client_cores)
    except ValueError as error:
        parser.error(str(error))
    return args


def pinning(bank: str, clients: str) -> Pinning:
    """The cores asked for, checked against those this process may use; on one core,
    that core for both (ValueError for a list that is not one of cores)."""
    mine = frozenset(os.sched_getaffinity(0))
    if len(mine) == 1:
        return Pinning(mine, mine)
    try:
        pins = Pinning(cpu_set(bank), cpu_set(clients))
    except ValueError:
        raise ValueError(
            f"--bank-cores and --client-cores are lists of cores: {bank!r}, {clients!r}"
        ) from None
    outside = (pins.bank | pins.clients) - mine
    if outside:
        raise ValueError(
            f"no such core here: {named(frozenset(outside))} (this run may use {named(mine)})"
        )
    return pins


def main() -> int:
    args = arguments()
    pins: Pinning = args.pins
    text = (ROOT / "scenarios" / "default.yaml").read_text(encoding="utf-8")
    scenario = ROOT / "reports" / "bench-throughput.yaml"
    scenario.parent.mkdir(exist_ok=True)
    # Every client's flows at once must not meet the 200-slot congestion answer.
    roomy = text.replace("capacity_flows: 200", "capacity_flows: 100000")
    scenario.write_text(roomy, "utf-8")
    extra = ["--scenario", str(scenario), "--workers", str(args.workers)]
    extra += ["--threads", str(args.threads)]
    if args.database_url:
        extra += ["--database-url", args.database_url]
    # The server and every process it forks inherit this process's cores; the clients,
    # started later, inherit the clients' cores.
    os.sched_setaffinity(0, pins.bank)
    try:
        server = EmbeddedSandbox(tuple(extra))
    finally:
        os.sched_setaffinity(0, pins.clients)
    try:
        target = server.ready(start_seconds=60)
        sandbox = Sandbox(target.url, target.admin_token)
        # The population as on the benchmark's day, as customers() builds it.
        sandbox.request("POST", controls.RESET_PATH, today=OPEN[:10]).raise_for_status()
        sandbox.set_clock(OPEN, frozen=False)
        sandbox.close()
        app = {f.name: str(f.default) for f in dataclasses.fields(PartnerApp)}
        del app["base"]
        runner = Runner(args, server.pid, customers(dt.date.fromisoformat(OPEN[:10])), pins, app)
        # The root's gateway takes its admin token as a Bearer token (§4), with or
        # without a secret of its own.
        root: list[Target] = [(target.url, {"Authorization": f"Bearer {target.admin_token}"})]
        print(setting(args, server.pid), flush=True)
        if args.memory:
            return memory(runner, root, server.pid)
        if args.sandboxes:
            spread = make_sandboxes(target.url, target.admin_token, roomy, args.sandboxes)
            runs: dict[str, list[Phase]] = {"alone": [], "spread": []}
            for targets in (root, spread):
                runner.phase(targets, "flows", WARM_UP)
            for _ in range(args.rounds):
                for way, targets in (("alone", root), ("spread", spread)):
                    runs[way].append(runner.phase(targets, "flows", args.seconds))
            report_sandboxes(args, runs)
            return failed(*runs["alone"], *runs["spread"])
        runner.phase(root, "flows", WARM_UP)
        ceiling = runner.phase(root, "bare", args.seconds)
        walked = runner.phase(root, "flows", args.seconds)
        phases = [ceiling, walked]
        if args.open_load:
            rate = args.open_load * walked.done / walked.wall
            phases.append(
                runner.phase(root, "open", args.open_seconds, clients=args.open_clients, rate=rate)
            )
    finally:
        server.stop()
    report(args, phases)
    return failed(*phases)


def setting(args: argparse.Namespace, server_pid: int) -> str:
    """What runs where: the server's options, its processes' allowed cores, the clients'."""
    pins: Pinning = args.pins
    allowed = sorted({status(pid).get("Cpus_allowed_list", "?") for pid in tree(server_pid)})
    lines = [
        f"renkei serve --workers {args.workers} --threads {args.threads} on {named(pins.bank)} "
        f"(its {len(tree(server_pid))} processes allowed on {' / '.join(allowed)}); clients "
        f"in {args.client_processes} processes on {named(pins.clients)}"
    ]
    if len(os.sched_getaffinity(0) | pins.bank) == 1:
        lines.append("one core: the bank and its clients cannot be separated; both run on it")
    elif not pins.separate:
        lines.append(f"the bank and its clients share {named(pins.bank & pins.clients)}")
    if args.database_url:
        lines.append("the database's own processes are neither pinned nor counted as the bank's")
    return "\n".join(lines)


def failed(*phases: Phase) -> int:
    """1, with the first error, when any flow of ``phases`` failed; else 0."""
    bad = [p for p in phases if p.failed]
    for p in bad:
        print(f"{p.name}: {p.failed} failed ({p.error})", file=sys.stderr)
    return 1 if bad else 0


def memory(runner: Runner, root: list[Target], server_pid: int) -> int:
    """``--memory N``: N flows in rounds; each server process's VmRSS after each."""
    args = runner.args
    processes = [server_pid, *sorted(set(tree(server_pid)) - {server_pid})]
    names = ["parent" if pid == server_pid else f"worker {pid}" for pid in processes]
    rows: list[list[Any]] = [["before", 0, *(mib(status(p).get("VmRSS", "")) for p in processes)]]
    walked, began, phases = 0, time.perf_counter(), []
    for i in range(args.memory_rounds):
        left = MEMORY_SECONDS - (time.perf_counter() - began)
        share = args.memory * (i + 1) // args.memory_rounds - args.memory * i // args.memory_rounds
        if left <= 0:
            break
        done = runner.phase(root, "flows", left, count=share)
        phases.append(done)
        walked += done.done
        rows.append([i + 1, walked, *(mib(status(p).get("VmRSS", "")) for p in processes)])
    peaks = [mib(status(p).get("VmHWM", "")) for p in processes]
    rows.append(["peak (VmHWM)", walked, *peaks])
    headers = ["round", "flows", *(f"{n} MiB" for n in names)]
    print(tabulate(rows, headers=headers, tablefmt="github", floatfmt=".1f"))
    wall = time.perf_counter() - began
    print(f"{walked:,} complete flows in {wall:.0f} s ({walked / wall:.1f} flows/s)")
    if walked < args.memory:
        print(f"stopped at {MEMORY_SECONDS:.0f} s before {args.memory:,} flows")
    return failed(*phases)


def make_sandboxes(url: str, operator: str, scenario: str, count: int) -> list[Target]:
    """``count`` sandboxes of ``scenario`` (sent inline: the one the root serves),
    each reset to the benchmark's day and its clock set as the root's is."""
    platform = Platform(url, operator)
    made: list[Target] = []
    try:
        for i in range(count):
            info = platform.create(yaml=scenario, label=f"bench-throughput {i}", ttl_seconds=3600)
            own = Sandbox(info.base_url, info.admin_token)
            own.request("POST", controls.RESET_PATH, today=OPEN[:10]).raise_for_status()
            own.set_clock(OPEN, frozen=False)
            own.close()
            made.append((info.base_url, {telephony.SECRET_HEADER: info.telephony_secret}))
    finally:
        platform.close()
    return made


def report_sandboxes(args: argparse.Namespace, runs: dict[str, list[Phase]]) -> None:
    """Flows per second of each round, alone and spread, and of each way overall."""
    busy = min(args.clients, args.sandboxes)
    print(
        f"{args.clients} clients; alone: all on the root sandbox; spread: over "
        f"{args.sandboxes} sandboxes ({busy} of them walked)"
    )
    rows = []
    for i, (alone, spread) in enumerate(zip(runs["alone"], runs["spread"], strict=True), 1):
        a, s = (r.done / r.wall for r in (alone, spread))
        rows.append((i, f"{a:.1f}", f"{s:.1f}", f"{s / a:.2f}"))
    print(tabulate(rows, headers=("round", "alone flows/s", "spread flows/s", "spread/alone")))
    totals = {}
    for way, done in runs.items():
        flows_done = sum(r.done for r in done)
        wall = sum(r.wall for r in done)
        cpu = sum(r.bank_cpu for r in done)
        answers = [v for r in done for values in r.client.values() for v in values]
        p50, p99_ = percentiles(answers)
        totals[way] = flows_done / wall
        print(
            f"{way}: {totals[way]:.1f} flows/s ({flows_done:,} in {wall:.1f} s), "
            f"answers p50 {p50} ms p99 {p99_} ms, bank CPU {1000 * cpu / flows_done:.0f} ms "
            f"per flow, bank busy {statistics.mean(r.bank_busy(args.pins) for r in done):.2f}"
        )
    print(f"spread / alone: {totals['spread'] / totals['alone']:.2f} (isolation's cost: 1 - that)")


def report(args: argparse.Namespace, phases: list[Phase]) -> None:
    """The figures of a run of the bare, flows and (with --open-load) open phases."""
    pins: Pinning = args.pins
    ceiling, walked, *rest = phases
    rows = [
        (
            p.name,
            f"{p.wall:.1f}",
            f"{p.requests:,}",
            f"{p.requests / p.wall:,.0f}",
            f"{p.bank_busy(pins):.2f}",
            f"{max(0.0, p.cores_busy - p.bank_busy(pins)):.2f}",
            f"{p.clients_busy(pins):.2f}",
            f"{1000 * p.bank_cpu / p.requests:.2f}",
            f"{1000 * p.client_cpu / p.requests:.2f}",
        )
        for p in phases
    ]
    headers = (
        "phase",
        "s",
        "answers",
        "answers/s",
        f"bank busy (of {len(pins.bank)})",
        "others there",
        f"clients busy (of {len(pins.clients)})",
        "bank CPU ms/answer",
        "client CPU ms/request",
    )
    print(tabulate(rows, headers=headers, tablefmt="github"))
    rps = ceiling.done / ceiling.wall
    fps = walked.done / walked.wall
    per_flow = walked.requests / walked.done if walked.done else 0.0
    print(f"ceiling: {rps:,.0f} requests/s on the bare endpoint")
    print(
        f"capacity: {fps:.1f} complete flows/s ({walked.done:,} in {walked.wall:.1f} s), "
        f"{fps / len(pins.bank):.1f} per bank core, {per_flow:.0f} requests per flow"
    )
    print(f"ratio to the ceiling per flow: {fps / (rps / per_flow):.2f} (goal >= 0.5)")
    bare_ms = 1000 * ceiling.bank_cpu / ceiling.requests
    flow_ms = 1000 * walked.bank_cpu / walked.requests
    print(
        f"bank CPU per answer: {bare_ms:.2f} ms bare, {flow_ms:.2f} ms in flows "
        f"({flow_ms / bare_ms:.1f}x, goal <= 2); {1000 * walked.bank_cpu / walked.done:.0f} ms "
        "per flow"
    )
    print(
        f"closed loop: {args.clients} clients / {walked.requests / walked.wall:,.0f} answers/s = "
        f"{1000 * args.clients * walked.wall / walked.requests:.0f} ms mean latency (Little's law)"
    )
    for p in (ceiling, walked):
        if p.bank_busy(pins) < BUSY:
            if p.cores_busy >= BUSY:
                why = f"other processes took {p.cores_busy - p.bank_busy(pins):.2f} of them"
            elif p.clients_busy(pins) >= BUSY:
                why = "the clients' cores were full"
            else:
                why = "the bank waited on its own locks or on the database"
            print(f"{p.name}: the bank was busy {p.bank_busy(pins):.2f} of its cores: {why}")
    if rest:
        report_open(rest[0], fps, pins)


def report_open(opened: Phase, capacity: float, pins: Pinning) -> None:
    """The open-loop phase: its arrivals, each step's p50/p99, and the goals."""
    lag_ms = [1000 * v for v in opened.lag]
    rate = opened.arrivals / opened.wall
    late_p50, late_p99 = percentiles(lag_ms)
    print(
        f"open loop: {opened.arrivals:,} Poisson arrivals in {opened.wall:.1f} s "
        f"({rate:.1f} flows/s, {rate / capacity:.2f} of the capacity); {opened.done:,} "
        f"complete; a flow's start after its arrival: p50 {late_p50} ms, p99 {late_p99} ms"
    )
    others = opened.cores_busy - opened.bank_busy(pins)
    if others >= 1 - BUSY:
        # Below its capacity the bank leaves its cores idle part of the time, and the
        # machine gives that time to whatever else runs: each answer may then wait
        # for another process's time slice, which lengthens the tail.
        print(f"open loop: other processes ran {others:.2f} of the bank's cores' time")
    rows = [
        (step, len(values), *percentiles(values), *percentiles(opened.server[step]))
        for step, values in sorted(opened.client.items())
    ]
    headers = ("step (open loop)", "answers", "p50 ms", "p99 ms", "bank p50 ms", "bank p99 ms")
    print(tabulate(rows, headers=headers, tablefmt="github"))
    for who, values, goal in (
        ("the bank's", opened.server, BANK_P99_MS),
        ("the client's", opened.client, CLIENT_P99_MS),
    ):
        worst = max((p99(v), step) for step, v in values.items() if v)
        verdict = "met" if worst[0] <= goal else "NOT met"
        print(
            f"goal: {who} p99 of every step <= {goal:.0f} ms: {verdict} (worst: {worst[1]}, "
            f"{worst[0]:.1f} ms)"
        )


if __name__ == "__main__":
    sys.exit(main())
