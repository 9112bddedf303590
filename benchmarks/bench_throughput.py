"""Benchmark: the server's throughput on loopback. On demand only.

    .venv/bin/python benchmarks/bench_throughput.py [--clients 32] [--seconds 20]
        [--client-processes 2] [--workers 2] [--threads 8] [--database-url URL]
        [--sandboxes 20 [--rounds 2]]

Starts ``renkei serve`` (a scenario with room for every client's flow) and, in
the same run:

1. **ceiling** — ``--clients`` clients ask a bare endpoint (the OAuth metadata,
   ``GET /.well-known/oauth-authorization-server``: no database, no flow) for
   ``--seconds``: requests per second of the server stack itself;
2. **flows** — the same clients each walk complete flows, each as its own
   customer of the scenario's bulk population (so each has its own phone, as
   real traffic does), from ``/oauth/authorize`` to the token exchange (every
   screen, the call, the PIN, the consent): complete flows per second, and
   p50/p99 of each step.

It prints the ratio of flows per second to the ceiling divided by the requests
a flow takes (the goal: at least 0.5, and p99 at most 50 ms per step).

The clients are threads in ``--client-processes`` processes: one Python process
of 32 threads cannot use more than one core (the GIL), and would measure itself
rather than the bank. They share the machine's cores with the server, as on any
one-box test, so the run also reports what the bank alone spent: the CPU time
of its processes per answer (from /proc), and its ``Server-Timing`` per step —
the time from a request reaching the application to its answer, without the
queueing in front of it. With every client always waiting on an answer (a
closed loop), the mean latency the clients see is fixed by Little's law at the
clients over the answers per second; the run prints that figure too.

With ``--sandboxes N`` the run asks instead what isolation costs (INTERFACE.md
§9): it creates N sandboxes of the same scenario (``POST /sandboxes`` with the
operator's token) and runs the flows phase ``--rounds`` times in each of two
ways, interleaved — **alone**, every client on the root sandbox, then
**spread**, the same clients dealt round-robin over the N sandboxes, each at
its ``base_url`` with its telephony secret — because this machine's speed
varies by a third from one run to the next and would otherwise be measured
instead. A short walk of each way first (:data:`WARM_UP`, not counted) has
every server process build its Service of each sandbox. It prints the flows
per second of each round and of each way, the bank's CPU per flow, and spread
over alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.driver import Browser, PartnerApp, Phone, Platform, Sandbox  # noqa: E402
from harness.embedded import EmbeddedSandbox  # noqa: E402
from simulator.core.host import AccountStatus, PinVault  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

CustomerData = tuple[dict[str, str], dict[str, str], str]
#: Where a client walks its flows: a sandbox's base URL and its telephony secret
#: ("" for the root, whose gateway is open).
Target = tuple[str, str]
OPEN = "2026-12-02T10:00:00+09:00"
#: A sandbox's prefix in a path (INTERFACE.md §9), left out of the steps' names so
#: that the same screen of every sandbox is one step.
SANDBOX_PART = re.compile(r"^/s/[0-9a-f]{16}(?=/)")
#: The most sandboxes a run creates: the server's --max-sandboxes default.
MOST_SANDBOXES = 100
#: With --sandboxes, the seconds of each way walked before the rounds, not counted.
WARM_UP = 3.0


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


class Timings:
    """Latency of every answer, by step (method and path), from a response hook:
    as the client saw it, and as the bank spent it (its ``Server-Timing``)."""

    def __init__(self) -> None:
        self.client: dict[str, list[float]] = defaultdict(list)
        self.server: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def hook(self, response: requests.Response, *_: Any, **__: Any) -> None:
        request = response.request
        path = SANDBOX_PART.sub("", urlsplit(request.url or "").path)
        step = f"{request.method} {path}"
        spent = server_ms(response.headers.get("Server-Timing", ""))
        with self.lock:
            self.client[step].append(response.elapsed.total_seconds() * 1000)
            if spent is not None:
                self.server[step].append(spent)

    def session(self) -> requests.Session:
        s = requests.Session()
        s.hooks["response"].append(self.hook)
        return s


def server_ms(header: str) -> float | None:
    """The ``app`` duration of a ``Server-Timing`` header (``app;dur=12.3``)."""
    for metric in header.split(","):
        name, _, params = metric.strip().partition(";")
        if name == "app" and params.startswith("dur="):
            return float(params[4:])
    return None


def percentiles(values: list[float]) -> tuple[str, str]:
    """p50 and p99 of ``values``, as printed."""
    if not values:
        return ("-", "-")
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return (f"{statistics.median(values):.1f}", f"{p99:.1f}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by ``pid`` and its live descendants
    (Linux /proc; 0.0 where there is none)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        proc = Path(f"/proc/{current}")
        try:
            # The fields after the command's closing parenthesis: utime, stime are 12, 13.
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in (proc / "task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


# -- one client process ----------------------------------------------------------------


def bare(url: str, timings: Timings, deadline: float) -> tuple[int, list[int]]:
    session = timings.session()
    done = 0
    while time.perf_counter() < deadline:
        r = session.get(url + "/.well-known/oauth-authorization-server", timeout=10)
        r.raise_for_status()
        done += 1
    session.close()
    return done, []


def one_flow(target: Target, timings: Timings, customer: CustomerData) -> int:
    """One customer, end to end; answers the requests it took."""
    url, secret = target
    account, details, pin = customer
    session = timings.session()
    browser, app = Browser(url, session), PartnerApp(url)
    phone = Phone(url, details["phone"], session, secret=secret)
    requests_made = 0

    def follow(answer: Any) -> Any:
        nonlocal requests_made
        after = browser.follow(answer)
        requests_made += 1 if after is answer else 2
        return after

    shown = follow(browser.open(app.authorize_url()))
    assert shown.screen_id == "SOA201", shown.body
    follow(browser.post("/connect/account", account))
    follow(browser.post("/connect/customer", details))
    on_call = follow(browser.post("/connect/phone"))
    assert on_call.screen_id == "SOA209", on_call.body
    assert phone.call(str(on_call.body["call_to"]))["verified"]
    requests_made += 1
    follow(browser.post("/connect/call"))
    follow(browser.post("/connect/pin", {"pin": pin}))
    done = browser.post("/connect/consent", {"decision": "allow", "agree": "1"})
    requests_made += 1
    assert done.location and "code=" in done.location, done.body
    app.http.hooks["response"].append(timings.hook)
    app.oauth.hooks["response"].append(timings.hook)
    app.exchange(done.location)
    requests_made += 1
    app.close()
    session.close()
    return requests_made


def flows(
    target: Target, timings: Timings, me: CustomerData, deadline: float
) -> tuple[int, list[int]]:
    per_flow = []
    while time.perf_counter() < deadline:
        per_flow.append(one_flow(target, timings, me))
    return len(per_flow), per_flow


def client_process(
    targets: list[Target], phase: str, first: int, threads: int, seconds: float
) -> int:
    """``threads`` clients of one phase, the clients ``first``… of the run: client
    ``k`` walks at ``targets[k % len(targets)]``. Waits for ``go`` on stdin, then
    prints one JSON line: what was done and the timings."""
    today = dt.date.fromisoformat(OPEN[:10])
    people = customers(today)[first : first + threads] if phase == "flows" else []
    timings = Timings()
    results: list[tuple[int, list[int]]] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        deadline = time.perf_counter() + seconds
        target = targets[(first + i) % len(targets)]
        if phase == "flows":
            done = flows(target, timings, people[i], deadline)
        else:
            done = bare(target[0], timings, deadline)
        with lock:
            results.append(done)

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - began
    print(
        json.dumps(
            {
                "done": sum(n for n, _ in results),
                "per_flow": [r for _, rs in results for r in rs],
                "wall": wall,
                "client": timings.client,
                "server": timings.server,
            }
        )
    )
    return 0


# -- the run -----------------------------------------------------------------------------


def phase(
    targets: list[Target],
    name: str,
    clients: int,
    processes: int,
    seconds: float,
    server_pid: int,
) -> dict[str, Any]:
    """Run one phase in ``processes`` client processes at once; merge their results."""
    share = [clients // processes + (i < clients % processes) for i in range(processes)]
    children, first = [], 0
    for threads in share:
        command = [sys.executable, __file__, "--client", json.dumps(targets), name]
        command += [str(first), str(threads)]
        command.append(str(seconds))
        children.append(
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
        first += threads
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    cpu = cpu_seconds(server_pid)
    began = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [json.loads(child.communicate(timeout=seconds + 120)[0]) for child in children]
    merged: dict[str, Any] = {
        "done": sum(o["done"] for o in outputs),
        "per_flow": [n for o in outputs for n in o["per_flow"]],
        "wall": max(o["wall"] for o in outputs),
        "elapsed": time.perf_counter() - began,
        "cpu": cpu_seconds(server_pid) - cpu,
        "client": defaultdict(list),
        "server": defaultdict(list),
    }
    for o in outputs:
        for part in ("client", "server"):
            for step, values in o[part].items():
                merged[part][step] += values
    return merged


def arguments() -> argparse.Namespace:
    """The run's options, each checked: a bad one is one line and exit 2."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url")
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
    if not 1 <= args.client_processes <= args.clients:
        parser.error("--client-processes must be between 1 and --clients")
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be more than 0 and at most 600")
    if not 0 <= args.sandboxes <= MOST_SANDBOXES:
        parser.error(f"--sandboxes must be between 0 and {MOST_SANDBOXES}")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be between 1 and 10")
    return args


def main() -> int:
    if len(sys.argv) == 7 and sys.argv[1] == "--client":
        targets, name, first, threads, seconds = sys.argv[2:]
        given = [(str(url), str(secret)) for url, secret in json.loads(targets)]
        return client_process(given, name, int(first), int(threads), float(seconds))
    args = arguments()
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
    server = EmbeddedSandbox(tuple(extra))
    try:
        target = server.ready(start_seconds=60)
        sandbox = Sandbox(target.url, target.admin_token)
        # The population as on the benchmark's day, as customers() builds it.
        sandbox.request("POST", "/sandbox/reset", today=OPEN[:10]).raise_for_status()
        sandbox.set_clock(OPEN, frozen=False)
        root: list[Target] = [(target.url, "")]
        if args.sandboxes:
            spread = make_sandboxes(target.url, target.admin_token, roomy, args.sandboxes)
            runs: dict[str, list[dict[str, Any]]] = {"alone": [], "spread": []}
            # Not counted: each server process builds a sandbox's Service on its first
            # request there (the scenario, the app), a cost of start-up, not of throughput.
            for targets in (root, spread):
                phase(targets, "flows", args.clients, args.client_processes, WARM_UP, server.pid)
            for _ in range(args.rounds):
                for way, targets in (("alone", root), ("spread", spread)):
                    runs[way].append(
                        phase(
                            targets,
                            "flows",
                            args.clients,
                            args.client_processes,
                            args.seconds,
                            server.pid,
                        )
                    )
        else:
            ceiling, walked = (
                phase(root, name, args.clients, args.client_processes, args.seconds, server.pid)
                for name in ("bare", "flows")
            )
    finally:
        server.stop()
    if args.sandboxes:
        report_sandboxes(args, runs)
    else:
        report(args, ceiling, walked)
    return 0


def make_sandboxes(url: str, operator: str, scenario: str, count: int) -> list[Target]:
    """``count`` sandboxes of ``scenario`` (sent inline: the one the root serves),
    each reset to the benchmark's day and its clock set as the root's is."""
    platform = Platform(url, operator)
    made = []
    try:
        for i in range(count):
            info = platform.create(yaml=scenario, label=f"bench-throughput {i}", ttl_seconds=3600)
            own = Sandbox(info.base_url, info.admin_token)
            own.request("POST", "/sandbox/reset", today=OPEN[:10]).raise_for_status()
            own.set_clock(OPEN, frozen=False)
            own.close()
            made.append((info.base_url, info.telephony_secret))
    finally:
        platform.close()
    return made


def report_sandboxes(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]]) -> None:
    """Flows per second of each round, alone and spread, and of each way overall."""
    busy = min(args.clients, args.sandboxes)
    print(
        f"renkei serve --workers {args.workers} --threads {args.threads}; "
        f"{args.clients} clients in {args.client_processes} processes; "
        f"alone: all on the root sandbox; spread: over {args.sandboxes} sandboxes "
        f"({busy} of them walked)"
    )
    rows = []
    for i, (alone, spread) in enumerate(zip(runs["alone"], runs["spread"], strict=True), 1):
        a, s = (r["done"] / r["wall"] for r in (alone, spread))
        rows.append((i, f"{a:.1f}", f"{s:.1f}", f"{s / a:.2f}"))
    print(tabulate(rows, headers=("round", "alone flows/s", "spread flows/s", "spread/alone")))
    totals = {}
    for way, done in runs.items():
        flows_done = sum(r["done"] for r in done)
        wall = sum(r["wall"] for r in done)
        cpu = sum(r["cpu"] for r in done)
        answers = [v for r in done for values in r["client"].values() for v in values]
        p50, p99 = percentiles(answers)
        totals[way] = flows_done / wall
        cpu_text = f", bank CPU {1000 * cpu / flows_done:.0f} ms per flow" if cpu else ""
        print(
            f"{way}: {totals[way]:.1f} flows/s ({flows_done:,} in {wall:.1f} s), "
            f"answers p50 {p50} ms p99 {p99} ms{cpu_text}"
        )
    print(f"spread / alone: {totals['spread'] / totals['alone']:.2f} (isolation's cost: 1 - that)")


def report(args: argparse.Namespace, ceiling: dict[str, Any], walked: dict[str, Any]) -> None:
    rps = ceiling["done"] / ceiling["wall"]
    fps = walked["done"] / walked["wall"]
    answers = sum(len(v) for v in walked["client"].values())
    requests_per_flow = statistics.mean(walked["per_flow"])
    print(
        f"renkei serve --workers {args.workers} --threads {args.threads}; "
        f"{args.clients} clients in {args.client_processes} processes"
    )
    print(
        f"ceiling: {rps:,.0f} requests/s on the bare endpoint ({ceiling['done']:,} in "
        f"{ceiling['wall']:.1f} s)"
    )
    print(
        f"flows: {fps:,.1f} complete flows/s ({walked['done']:,} in {walked['wall']:.1f} s), "
        f"{requests_per_flow:.0f} requests per flow"
    )
    ((bare_p50, bare_p99),) = (percentiles(v) for v in ceiling["client"].values())
    print(f"bare endpoint at {args.clients} clients: p50 {bare_p50} ms, p99 {bare_p99} ms")
    print(f"ratio to the ceiling per flow: {fps / (rps / requests_per_flow):.2f} (goal >= 0.5)")
    print(
        f"closed loop: {args.clients} clients / {answers / walked['wall']:,.0f} answers/s = "
        f"{1000 * args.clients * walked['wall'] / answers:.0f} ms mean latency (Little's law)"
    )
    if ceiling["cpu"] and walked["cpu"]:
        bare_ms = 1000 * ceiling["cpu"] / ceiling["done"]
        flow_ms = 1000 * walked["cpu"] / answers
        print(
            f"bank CPU: {bare_ms:.2f} ms per bare answer, {flow_ms:.2f} ms per answer of a "
            f"flow ({flow_ms / bare_ms:.1f}x), {1000 * walked['cpu'] / walked['done']:.0f} ms "
            f"per flow; busy {walked['cpu'] / walked['elapsed']:.2f} of "
            f"{os.cpu_count()} cores during the flows"
        )
    rows = [
        (step, len(values), *percentiles(values), *percentiles(walked["server"][step]))
        for step, values in sorted(walked["client"].items())
    ]
    headers = ("step", "answers", "p50 ms", "p99 ms", "bank p50 ms", "bank p99 ms")
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    sys.exit(main())
