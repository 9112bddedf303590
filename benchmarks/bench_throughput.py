"""Benchmark: the server's throughput on loopback (issue 7, item 7). On demand only.

    .venv/bin/python benchmarks/bench_throughput.py [--clients 32] [--seconds 20]
        [--workers 2] [--threads 16] [--database-url URL]

Starts ``renkei serve`` (a scenario with room for every client's flow) and, in
the same run:

1. **ceiling** — ``--clients`` threads ask a bare endpoint (the OAuth metadata,
   ``GET /.well-known/oauth-authorization-server``: no database, no flow) for
   ``--seconds``: requests per second of the server stack itself;
2. **flows** — the same threads each walk complete flows, each thread as its
   own customer of the scenario's bulk population (so each has its own phone,
   as real traffic does), from ``/oauth/authorize`` to the token exchange (every
   screen, the call, the PIN, the consent): complete flows per second, and
   p50/p99 of each step.

It prints the ratio of flows per second to the ceiling divided by the requests
a flow takes (issue 7's goal: at least 0.5, and p99 at most 50 ms per step).
The client threads share the machine with the server, as on any one-box test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.driver import Browser, PartnerApp, Phone, Sandbox  # noqa: E402
from harness.embedded import embedded_sandbox  # noqa: E402
from simulator.core.host import AccountStatus, PinVault  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

CustomerData = tuple[dict[str, str], dict[str, str], str]


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


OPEN = "2026-12-02T10:00:00+09:00"


class Timings:
    """Latency of every answer, by step (method and path), from a response hook."""

    def __init__(self) -> None:
        self.by_step: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()

    def hook(self, response: requests.Response, *_: Any, **__: Any) -> None:
        request = response.request
        step = f"{request.method} {urlsplit(request.url or '').path}"
        with self.lock:
            self.by_step[step].append(response.elapsed.total_seconds() * 1000)

    def session(self) -> requests.Session:
        s = requests.Session()
        s.hooks["response"].append(self.hook)
        return s


def run_threads(clients: int, seconds: float, work: Callable[[float], int]) -> tuple[int, float]:
    """``clients`` threads each calling ``work(deadline)``; answers the total and the wall."""
    counts: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client() -> None:
        start.wait()
        done = work(time.perf_counter() + seconds)
        with lock:
            counts.append(done)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return sum(counts), time.perf_counter() - began


def bare(url: str, deadline: float) -> int:
    session = requests.Session()
    done = 0
    while time.perf_counter() < deadline:
        r = session.get(url + "/.well-known/oauth-authorization-server", timeout=10)
        r.raise_for_status()
        done += 1
    session.close()
    return done


def one_flow(url: str, timings: Timings, customer: CustomerData) -> int:
    """One customer, end to end; answers the requests it took."""
    account, details, pin = customer
    session = timings.session()
    browser, app = Browser(url, session), PartnerApp(url)
    phone = Phone(url, details["phone"], session)
    requests_made = 0

    def follow(answer: Any) -> Any:
        nonlocal requests_made
        requests_made += 1
        if answer.status == 303 and answer.location and answer.location.startswith("/"):
            requests_made += 1
            return browser.get(answer.location)
        return answer

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    text = (ROOT / "scenarios" / "default.yaml").read_text(encoding="utf-8")
    scenario = ROOT / "reports" / "bench-throughput.yaml"
    scenario.parent.mkdir(exist_ok=True)
    # Every client's flows at once must not meet the 200-slot congestion answer.
    scenario.write_text(text.replace("capacity_flows: 200", "capacity_flows: 100000"), "utf-8")
    extra = ["--scenario", str(scenario), "--workers", str(args.workers)]
    extra += ["--threads", str(args.threads)]
    if args.database_url:
        extra += ["--database-url", args.database_url]
    with embedded_sandbox(tuple(extra), start_seconds=60) as target:
        sandbox = Sandbox(target.url, target.admin_token)
        # The population as on the benchmark's day, as customers() builds it.
        sandbox.request("POST", "/sandbox/reset", today=OPEN[:10]).raise_for_status()
        sandbox.set_clock(OPEN, frozen=False)
        ceiling, wall = run_threads(args.clients, args.seconds, lambda d: bare(target.url, d))
        rps = ceiling / wall
        timings = Timings()
        per_flow: list[int] = []
        people = iter(customers(dt.date.fromisoformat(OPEN[:10])))
        lock = threading.Lock()

        def flows(deadline: float) -> int:
            with lock:
                me = next(people)
            done = 0
            while time.perf_counter() < deadline:
                per_flow.append(one_flow(target.url, timings, me))
                done += 1
            return done

        completed, flow_wall = run_threads(args.clients, args.seconds, flows)
    fps = completed / flow_wall
    requests_per_flow = statistics.mean(per_flow)
    rows = []
    for step, values in sorted(timings.by_step.items()):
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        rows.append((step, len(values), f"{statistics.median(values):.1f}", f"{p99:.1f}"))
    print(f"renkei serve --workers {args.workers} --threads {args.threads}, {args.clients} clients")
    print(f"ceiling: {rps:,.0f} requests/s on the bare endpoint ({ceiling:,} in {wall:.1f} s)")
    print(
        f"flows: {fps:,.1f} complete flows/s ({completed:,} in {flow_wall:.1f} s), "
        f"{requests_per_flow:.0f} requests per flow"
    )
    ratio = fps / (rps / requests_per_flow)
    print(f"ratio to the ceiling per flow: {ratio:.2f} (goal >= 0.5)")
    print(tabulate(rows, headers=("step", "answers", "p50 ms", "p99 ms"), tablefmt="github"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
