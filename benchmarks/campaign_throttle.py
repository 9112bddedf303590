"""Campaign: wrong credentials as fast as they can be sent, against a real ``renkei
serve``, beside a legitimate client. On demand only.

    .venv/bin/python benchmarks/campaign_throttle.py [--seconds 6] [--attempts 20000]
        [--throttle 20/2] [--threads 4] [--min-ratio 0.7]

Starts ``renkei serve --auth-throttle BURST/RATE`` on a free loopback port (its own
data directory, SQLite; ``harness.embedded``), links the manual's customer, and
then for each kind of credential (the client secret at ``/oauth/introspect``, a
bearer token at ``/v1/accounts``, the admin token at ``GET /sandbox/faults``, the
gateway's secret at ``POST /telephony/calls``), with a legitimate client making
rounds from ``127.0.0.1`` all along (a refresh, an API call, a control and a
gateway call, each with the right credential):

1. **alone**: the legitimate client by itself for ``--seconds``;
2. **beside a flood**: for ``--seconds``, ``--threads`` connections from
   ``127.0.0.2`` (another source of the loopback) ask for the OAuth metadata as
   fast as it is answered: the load of a flood, no credential in it;
3. **under attack**: for ``--seconds``, the same connections send wrong credentials
   of the kind as fast as they are answered (``--attempts`` at most);
4. **Retry-After**: the attacker's source waits the last ``Retry-After`` it was
   told and sends the right credential, which must be judged.

It prints, per kind, the wrong credentials judged (401) and refused (429), the
judged ones a second during the burst and after it (the bound: the rate), the
legitimate rounds a second in each phase and the ratio under attack to beside the
flood (side by side, the same connections sending as fast as they can: what the
throttle costs the legitimate client beyond any flood's load), and exits 1 when a
bound is broken: more judged than ``BURST + RATE × t`` (t: the attack's seconds)
plus the attacker's connections (requests already past the check when the bucket
ran out); any legitimate request refused; the ratio below ``--min-ratio``; the
right credential refused after Retry-After; an answer that is not a clear one
(``harness.hostile.verdict``). Everything is bounded: three phases of
``--seconds`` a kind, ``--attempts`` at most. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import base64
import http.client
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.driver import PartnerApp, Sandbox, gateway_credential  # noqa: E402
from harness.embedded import EmbeddedSandbox, Target  # noqa: E402
from harness.hostile import Bench  # noqa: E402
from harness.hostile.verdict import Seen, faults_of, refused_for_now  # noqa: E402
from renkei.args import OneLineParser, non_negative, positive_int  # noqa: E402
from renkei.contract import controls, throttle  # noqa: E402
from renkei.contract.api import ACCOUNTS_PATH  # noqa: E402
from renkei.contract.oauth import INTROSPECT_PATH, METADATA_PATH  # noqa: E402
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER  # noqa: E402

#: The attacker's source: another address of the loopback, which Linux routes whole.
ATTACKER = "127.0.0.2"
#: A caller with no flow waiting on ④: the call is judged and verifies nothing.
CALL = {"from": "09000000000", "to": "0120000000", "caller_id": "shown"}
TIMEOUT = 30


@dataclass(frozen=True)
class Kind:
    """A kind of credential: its request, and the headers of attempt ``n``'s wrong one."""

    name: str
    method: str
    path: str
    wrong: Callable[[int], dict[str, str]]
    body: bytes | None = None
    content_type: str | None = None


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


KINDS = [
    Kind(
        "client secret",
        "POST",
        INTROSPECT_PATH,
        lambda n: {"Authorization": basic(f"creco:guess-{n}")},
        b"token=no-such-token",
        "application/x-www-form-urlencoded",
    ),
    Kind("bearer token", "GET", ACCOUNTS_PATH, lambda n: {"Authorization": f"Bearer guess-{n}"}),
    Kind(
        "admin token", "GET", controls.FAULTS_PATH, lambda n: {"Authorization": f"Bearer guess-{n}"}
    ),
    Kind(
        "gateway secret",
        "POST",
        CALLS_PATH,
        lambda n: {SECRET_HEADER: f"guess-{n}"},
        json.dumps(CALL).encode(),
        "application/json",
    ),
]

#: The flood beside which the legitimate client is measured: no credential in it.
FLOOD = Kind("metadata", "GET", METADATA_PATH, lambda n: {})


@dataclass
class Attack:
    """What the attacker's connections were answered, with the time of each answer."""

    answers: list[tuple[float, int]] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    retry_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def judged(self) -> list[float]:
        return [t for t, status in self.answers if status == 401]

    def refused(self) -> list[float]:
        return [t for t, status in self.answers if status == throttle.STATUS]


def send(
    connection: http.client.HTTPConnection, kind: Kind, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    sent = dict(headers)
    if kind.content_type:
        sent["Content-Type"] = kind.content_type
    connection.request(kind.method, kind.path, body=kind.body, headers=sent)
    response = connection.getresponse()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def attacker(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(
        "127.0.0.1", port, timeout=TIMEOUT, source_address=(ATTACKER, 0)
    )


def attack(port: int, kind: Kind, attempts: int, seconds: float, threads: int, url: str) -> Attack:
    """Wrong credentials of ``kind`` (or the metadata, :data:`FLOOD`) from
    :data:`ATTACKER` on ``threads`` connections, for ``seconds``, ``attempts`` at most."""
    seen = Attack()
    numbers = iter(range(attempts))
    start = time.monotonic()

    def run() -> None:
        connection = attacker(port)
        try:
            while time.monotonic() - start < seconds:
                with seen.lock:
                    n = next(numbers, None)
                if n is None:
                    return
                status, headers, body = send(connection, kind, kind.wrong(n))
                faults = faults_of(Seen(status, headers, body), url)
                with seen.lock:
                    seen.answers.append((time.monotonic() - start, status))
                    seen.faults.extend(faults)
                    if kind is not FLOOD and status not in (401, throttle.STATUS):
                        seen.faults.append(f"a wrong credential answered {status}")
                    if refused_for_now(Seen(status, headers, body)):
                        seen.retry_after = int(headers["retry-after"])
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return seen


@dataclass
class Legitimate:
    """The partner app, the tester's controls and the carrier, with right credentials."""

    target: Target
    refresh_token: str
    app: PartnerApp
    sandbox: Sandbox
    statuses: list[int] = field(default_factory=list)

    def round(self) -> None:
        r = self.app.refresh(self.refresh_token)
        self.statuses.append(r.status_code)
        if r.status_code != 200:
            return
        tokens: dict[str, Any] = r.json()
        self.refresh_token = tokens["refresh_token"]
        self.statuses.append(self.app.api(tokens["access_token"], ACCOUNTS_PATH).status_code)
        self.statuses.append(self.sandbox.request("GET", controls.FAULTS_PATH).status_code)
        call = self.app.http.post(
            self.target.url + CALLS_PATH,
            json=CALL,
            headers=gateway_credential(self.target.telephony_secret),
            timeout=TIMEOUT,
        )
        self.statuses.append(call.status_code)

    def for_seconds(self, seconds: float, stop: Callable[[], bool] = lambda: False) -> float:
        """Rounds for ``seconds`` (or until ``stop``); answers the rounds a second."""
        start, rounds = time.monotonic(), 0
        while time.monotonic() - start < seconds and not stop():
            self.round()
            rounds += 1
        return rounds / (time.monotonic() - start)


def rate(times: list[float], start: float, end: float) -> float:
    inside = [t for t in times if start <= t <= end]
    return len(inside) / (end - start) if end > start else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=positive_int, default=20_000, help="at most, a kind")
    parser.add_argument("--seconds", type=non_negative, default=6.0, help="each phase, a kind")
    parser.add_argument("--throttle", default="20/2", help="renkei serve --auth-throttle")
    parser.add_argument("--threads", type=positive_int, default=4, help="attacker connections")
    parser.add_argument(
        "--min-ratio", type=non_negative, default=0.7, help="legit under attack / beside flood"
    )
    args = parser.parse_args(argv)
    burst, _, per_second = args.throttle.partition("/")
    budget = (int(burst), float(per_second))
    sandbox = EmbeddedSandbox(("--auth-throttle", args.throttle))
    try:
        target = sandbox.ready()
        return campaign(target, budget, args)
    finally:
        sandbox.stop()


HEADERS = [
    "kind",
    "attempts",
    "judged",
    "refused",
    "judged/s burst",
    "judged/s after",
    "rate",
    "bound",
    "legit/s alone",
    "legit/s flood",
    "legit/s attacked",
    "ratio",
    "legit 429",
    "Retry-After",
]


def campaign(target: Target, budget: tuple[int, float], args: Any) -> int:
    port = int(target.url.rsplit(":", 1)[1])
    bench = Bench(target.url, target.admin_token, telephony_secret=target.telephony_secret)
    bench.restore()  # a Tuesday in service hours, the scenario's data
    tokens = bench.tokens()
    app, sandbox = PartnerApp(target.url), Sandbox(target.url, target.admin_token)
    legit = Legitimate(target, tokens["refresh_token"], app, sandbox)
    print(f"renkei serve --auth-throttle {args.throttle} at {target.url}", flush=True)
    rows, broken = [], []
    for kind in KINDS:
        row, wrong = one_kind(kind, legit, port, budget, args)
        rows.append(row)
        broken.extend(wrong)
        print(f"  {kind.name}: done", flush=True)
    other = [s for s in legit.statuses if s != 200]
    if other:
        broken.append(f"legitimate requests answered {sorted(set(other))}")
    app.close()
    sandbox.close()
    bench.close()
    print()
    print(tabulate(rows, headers=HEADERS))
    print()
    for line in broken:
        print(f"BROKEN: {line}")
    print("OK: every bound kept" if not broken else f"{len(broken)} bounds broken")
    return 1 if broken else 0


def one_kind(
    kind: Kind, legit: Legitimate, port: int, budget: tuple[int, float], args: Any
) -> tuple[list[Any], list[str]]:
    """The three phases for ``kind``: its row of the table and the bounds it broke."""
    burst, per_second = budget
    alone = legit.for_seconds(args.seconds)
    flooded, flood = beside(FLOOD, legit, port, args)
    before = len(legit.statuses)
    alongside, seen = beside(kind, legit, port, args)
    refused_legit = legit.statuses[before:].count(throttle.STATUS)
    judged, refused = seen.judged(), seen.refused()
    spent = max((t for t, _ in seen.answers), default=0.0)
    first_refusal = min(refused, default=spent)
    bound = burst + per_second * spent + args.threads
    # Retry-After, truthful: the right credential from the attacker's source is judged.
    time.sleep(seen.retry_after)
    connection = attacker(port)
    after_wait, _, _ = send(connection, kind, right(kind, legit))
    connection.close()
    ratio = alongside / flooded if flooded else 0.0
    row = [
        kind.name,
        len(seen.answers),
        len(judged),
        len(refused),
        f"{rate(judged, 0, first_refusal):,.0f}",
        f"{rate(judged, first_refusal, spent):.2f}",
        f"{per_second:g}",
        f"{len(judged)} ≤ {bound:.0f}",
        f"{alone:.1f}",
        f"{flooded:.1f}",
        f"{alongside:.1f}",
        f"{ratio:.2f}",
        refused_legit,
        f"{seen.retry_after} s → {after_wait}",
    ]
    broken = []
    if len(judged) > bound:
        broken.append(f"{kind.name}: {len(judged)} judged, more than {bound:.0f}")
    if refused_legit:
        broken.append(f"{kind.name}: {refused_legit} legitimate requests refused")
    if ratio < args.min_ratio:
        broken.append(f"{kind.name}: legitimate rounds at {ratio:.2f} of beside the flood")
    if not refused:
        broken.append(f"{kind.name}: never refused in {len(seen.answers)} attempts")
    elif after_wait == throttle.STATUS:
        broken.append(f"{kind.name}: refused after the Retry-After of {seen.retry_after} s")
    broken.extend(f"{kind.name}: {fault}" for fault in sorted(set(seen.faults + flood.faults)))
    return row, broken


def beside(kind: Kind, legit: Legitimate, port: int, args: Any) -> tuple[float, Attack]:
    """The legitimate client's rounds a second while ``kind`` floods from the
    attacker's source for ``--seconds``, and what the flood was answered."""
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            attack, port, kind, args.attempts, args.seconds, args.threads, legit.target.url
        )
        per_second = legit.for_seconds(args.seconds, running.done)
        return per_second, running.result()


def right(kind: Kind, legit: Legitimate) -> dict[str, str]:
    """The right credential of ``kind`` (for the API, a fresh access token)."""
    if kind.path == INTROSPECT_PATH:
        return {"Authorization": basic(f"{legit.app.client_id}:{legit.app.client_secret}")}
    if kind.path == CALLS_PATH:
        return gateway_credential(legit.target.telephony_secret)
    if kind.path == ACCOUNTS_PATH:
        r = legit.app.refresh(legit.refresh_token)
        tokens: dict[str, Any] = r.json()
        legit.refresh_token = tokens["refresh_token"]
        return {"Authorization": f"Bearer {tokens['access_token']}"}
    return {"Authorization": f"Bearer {legit.target.admin_token}"}


if __name__ == "__main__":
    sys.exit(main())
