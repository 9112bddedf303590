"""Campaign: a flood of abandoned authorization requests against a real ``renkei serve``.
On demand only.

    .venv/bin/python benchmarks/campaign_congestion.py [--requests 400] [--threads 16]
        [--early 10] [--max-seconds 300] [--database-url URL] [--workers N]

Starts ``renkei serve`` on a free loopback port (``harness.embedded``: its own data
directory in a temporary directory, SQLite unless ``--database-url``, one process
unless ``--workers``) and, in two sandboxes of its own made from the default
scenario sent inline (``POST /sandboxes``: 200 slots, each partner app's early
flows at most 100 of them):

1. **fast** (``early_flow_seconds: --early``, the sandbox clock running): sends
   ``--requests`` anonymous ``GET /oauth/authorize`` of one app (creco) as fast as
   ``--threads`` connections go, following none; then a customer of the other app
   (kakeibo) and one of the same app ask for a slot: the first is admitted, the
   second refused ``congested`` with a Retry-After. The same app's customer asks
   again every ``--poll`` seconds until admitted, and once more at the time the
   Retry-After named (a retry then must be admitted);
2. **default** (``early_flow_seconds: 120``, the sandbox clock frozen so that no
   real minute is waited): the same flood, the same two customers, then the clock
   moved on (``POST /sandbox/clock/advance``) to one second before the Retry-After
   (still refused) and to it (admitted).

It prints a table of each figure and its bound and exits 1 when a bound is broken:
the flood holds at most the app's share of the slots; the other app's customer is
admitted; the same app's customer gets a slot at most ``early_flow_seconds`` after
the flood stops (with a second's rounding, the poll's interval and a second of
slack on the loopback's clock); the Retry-After is at most ``early_flow_seconds`` + 1
and no more than a second, a poll and half a second of the answer's way back later
than the slot came free; the retry at the Retry-After is admitted. The requests go
to 127.0.0.1 only; the whole run is bounded by ``--max-seconds``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.driver import PartnerApp, Platform, SandboxInfo  # noqa: E402
from harness.embedded import EmbeddedSandbox  # noqa: E402
from renkei.args import OneLineParser, non_negative, positive_int  # noqa: E402
from renkei.contract.controls import CLOCK_ADVANCE_PATH, CLOCK_PATH  # noqa: E402

#: A Tuesday morning inside service hours, for the frozen clock of the default run.
TUESDAY = "2026-11-24T10:15:00+09:00"
CAPACITY = 200
TIMEOUT = 10.0


class OutOfTime(Exception):
    """The campaign's ``--max-seconds`` ran out."""


@dataclass
class Row:
    """One figure, its bound, and whether it holds."""

    run: str
    figure: str
    value: str
    bound: str
    holds: bool


@dataclass
class Campaign:
    base: str
    admin_token: str
    threads: int
    deadline: float
    rows: list[Row] = field(default_factory=list)
    local: threading.local = field(default_factory=threading.local)

    def session(self) -> requests.Session:
        """This thread's connection, without cookies: the flood follows nothing."""
        s: requests.Session | None = getattr(self.local, "session", None)
        if s is None:
            s = self.local.session = requests.Session()
        s.cookies.clear()
        return s

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OutOfTime
        return left

    def note(self, run: str, figure: str, value: object, bound: str, holds: bool) -> None:
        self.rows.append(Row(run, figure, str(value), bound, holds))

    def control(self, sandbox: SandboxInfo, method: str, path: str, **json: object) -> None:
        r = requests.request(
            method,
            sandbox.base_url + path,
            json=json,
            headers={"Authorization": f"Bearer {sandbox.admin_token}"},
            timeout=TIMEOUT,
        )
        r.raise_for_status()


def app(base: str, client: str) -> PartnerApp:
    if client == "kakeibo":
        return PartnerApp(
            base, "kakeibo", "kakeibo-secret", "http://127.0.0.1:8766/callback", "accounts"
        )
    return PartnerApp(base)


def ask(c: Campaign, url: str) -> tuple[int, int | None]:
    """One GET /oauth/authorize: its status (303 admitted, 503 refused) and Retry-After."""
    c.left()
    r = c.session().get(url, allow_redirects=False, timeout=TIMEOUT)
    after = r.headers.get("Retry-After")
    return r.status_code, int(after) if after is not None else None


def flood(c: Campaign, url: str, n: int) -> tuple[Counter[int], float, float]:
    """``n`` requests on ``c.threads`` connections: the statuses, when it began, its end."""
    began = time.monotonic()
    with ThreadPoolExecutor(c.threads) as pool:
        statuses = Counter(status for status, _ in pool.map(lambda _: ask(c, url), range(n)))
    return statuses, began, time.monotonic()


def scenario(early: int) -> str:
    text = (ROOT / "scenarios/default.yaml").read_text("utf-8")
    setting = f"capacity_flows: {CAPACITY}\n  early_flow_seconds: {early}"
    return text.replace(f"capacity_flows: {CAPACITY}", setting, 1)


def flooded(c: Campaign, run: str, base: str, n: int) -> tuple[float, int | None, float]:
    """The flood, then the other app's customer and the same app's: notes the figures;
    answers when the flood ended, the same app's Retry-After and when it was given."""
    statuses, began, ended = flood(c, app(base, "creco").authorize_url(), n)
    share = CAPACITY // 2
    c.note(run, f"flood: {n} requests of one app", f"{ended - began:.1f} s", "-", True)
    c.note(run, "flood: slots it holds (303)", statuses[303], f"<= {share}", statuses[303] <= share)
    c.note(
        run,
        "flood: refused congested (503)",
        statuses[503],
        "-",
        statuses[303] + statuses[503] == n,
    )
    other, _ = ask(c, app(base, "kakeibo").authorize_url())
    c.note(run, "another app's customer", other, "303 (admitted)", other == 303)
    same, retry = ask(c, app(base, "creco").authorize_url())
    c.note(run, "the same app's customer", same, "503 (its share is full)", same == 503)
    return ended, retry, time.monotonic()


def fast(c: Campaign, sandbox: SandboxInfo, n: int, early: int, poll: float) -> None:
    run = f"fast (early_flow_seconds {early})"
    ended, retry, told = flooded(c, run, sandbox.base_url, n)
    c.note(
        run,
        "Retry-After answered",
        retry,
        f"1..{early + 1} s",
        retry is not None and 1 <= retry <= early + 1,
    )
    if retry is None:
        return
    url = app(sandbox.base_url, "creco").authorize_url()
    while ask(c, url)[0] != 303:
        time.sleep(min(poll, c.left()))
    freed = time.monotonic()
    bound = early + 1 + poll + 1
    c.note(
        run,
        "a slot again, after the flood stopped",
        f"{freed - ended:.1f} s",
        f"<= {bound:g} s",
        freed - ended <= bound,
    )
    # The header's whole second, a poll, and half a second of the answer's way back.
    late, most = told + retry - freed, 1 + poll + 0.5
    c.note(
        run, "Retry-After past the slot's freeing", f"{late:.1f} s", f"<= {most:g} s", late <= most
    )
    time.sleep(max(0.0, told + retry - time.monotonic()))
    again, _ = ask(c, url)
    c.note(run, "a retry at the Retry-After", again, "303 (admitted)", again == 303)


def default(c: Campaign, sandbox: SandboxInfo, n: int) -> None:
    run = "default (early_flow_seconds 120, frozen clock)"
    c.control(sandbox, "PUT", CLOCK_PATH, now=TUESDAY, frozen=True)
    _, retry, _ = flooded(c, run, sandbox.base_url, n)
    c.note(run, "Retry-After answered", retry, "121 s", retry == 121)
    if retry is None:
        return
    url = app(sandbox.base_url, "creco").authorize_url()
    c.control(sandbox, "POST", CLOCK_ADVANCE_PATH, seconds=retry - 1)
    before, _ = ask(c, url)
    c.note(
        run,
        f"a retry {retry - 1} s later (sandbox clock)",
        before,
        "503 (still held)",
        before == 503,
    )
    c.control(sandbox, "POST", CLOCK_ADVANCE_PATH, seconds=1)
    again, _ = ask(c, url)
    c.note(run, f"a retry at the Retry-After, {retry} s", again, "303 (admitted)", again == 303)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=positive_int, default=400, help="the flood (400)")
    parser.add_argument("--threads", type=positive_int, default=16, help="its connections (16)")
    parser.add_argument(
        "--early", type=positive_int, default=10, help="the fast run's early_flow_seconds (10)"
    )
    parser.add_argument(
        "--poll", type=non_negative, default=0.25, help="seconds between a customer's tries (0.25)"
    )
    parser.add_argument("--max-seconds", type=non_negative, default=300, help="the whole run (300)")
    parser.add_argument("--database-url", default=None, help="renkei serve --database-url")
    parser.add_argument("--workers", type=positive_int, default=1, help="renkei serve --workers")
    args = parser.parse_args(argv)
    if args.requests > 5000 or args.early > 600:
        parser.error("--requests is at most 5000 and --early at most 600: a bounded campaign")
    extra: tuple[str, ...] = ("--database-url", args.database_url) if args.database_url else ()
    if args.workers > 1:
        extra += ("--workers", str(args.workers))
    child = EmbeddedSandbox(extra)
    try:
        target = child.ready()
        print(f"renkei serve at {target.url}", flush=True)
        c = Campaign(
            target.url, target.admin_token, args.threads, time.monotonic() + args.max_seconds
        )
        platform = Platform(target.url, target.admin_token)
        runs: list[tuple[str, Callable[[SandboxInfo], None]]] = [
            (scenario(args.early), lambda s: fast(c, s, args.requests, args.early, args.poll)),
            (scenario(120), lambda s: default(c, s, args.requests)),
        ]
        try:
            for text, play in runs:
                sandbox = platform.create(yaml=text, label="campaign_congestion")
                try:
                    play(sandbox)
                finally:
                    platform.delete(sandbox.id)
        except OutOfTime:
            c.note(
                "-", "the run", f"over {args.max_seconds:g} s", f"<= {args.max_seconds:g} s", False
            )
        finally:
            platform.close()
    finally:
        child.stop()
    rows = [(r.run, r.figure, r.value, r.bound, "ok" if r.holds else "BROKEN") for r in c.rows]
    print(tabulate(rows, headers=("run", "figure", "value", "bound", "")), flush=True)
    broken = [r for r in c.rows if not r.holds]
    print(
        f"campaign_congestion: {len(broken)} bound(s) broken"
        if broken
        else "campaign_congestion: every bound holds"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
