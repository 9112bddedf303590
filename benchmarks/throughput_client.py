"""The clients of ``bench_throughput.py``: one process of client threads, as cheap per
request as Python allows, so that the benchmark measures the bank and not them.

Each thread keeps one keep-alive HTTP/1.1 connection (:mod:`http.client`, no
``requests`` session, no Authlib, no cookie jar: the three or four Python layers
a request of ``requests`` goes through cost more CPU than the bank's bare
answer). A customer's forms are encoded once; a flow adds only the screen's
CSRF token, the flow cookie, PKCE and ``state``. The steps are the ones
``harness.driver`` takes (INTERFACE.md §1–§4): ``/oauth/authorize``, each of
the six screens posted and the 303 followed, the phone's call to the telephony
gateway, the token exchange with ``client_secret_basic``.

Run by the benchmark, never by hand: ``python throughput_client.py`` reads one
JSON line (:class:`Spec`'s fields), prints ``ready``, waits for ``go`` on stdin,
then prints one JSON line of results. Standard library and ``renkei.contract``
only, so that a client process starts in a fraction of a second.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import random
import re
import secrets
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renkei.contract import oauth, telephony
from renkei.contract.screens import CSRF_FIELD, SCREEN_PATHS, Screen

TIMEOUT = 10
#: A sandbox's prefix in a path (INTERFACE.md §9), left out of the steps' names so
#: that the same screen of every sandbox is one step.
SANDBOX_PART = re.compile(r"^/s/[0-9a-f]{16}(?=/)")
FORM = "application/x-www-form-urlencoded"
#: What a closed connection looks like to the next request on it: the server ended
#: a keep-alive connection between two requests. Asked again once, on a new one.
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Unexpected(Exception):
    """An answer a complete flow does not get: the flow is counted as failed."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes

    def json(self) -> dict[str, Any]:
        parsed = json.loads(self.body) if self.body else {}
        return parsed if isinstance(parsed, dict) else {}


@dataclass
class Timings:
    """Latency of every answer, by step (method and path): as the client saw it
    (from sending the request to the last byte of the answer), and as the bank spent
    it (its ``Server-Timing: app;dur=…``)."""

    client: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, step: str, seen_ms: float, spent_ms: float | None) -> None:
        with self.lock:
            self.client[step].append(seen_ms)
            if spent_ms is not None:
                self.server[step].append(spent_ms)


def text(body: bytes) -> str:
    """The start of an answer's body, as a line of an error."""
    return body[:300].decode("utf-8", "replace").replace("\n", " ")


def server_ms(header: str) -> float | None:
    """The ``app`` duration of a ``Server-Timing`` header (``app;dur=12.3``)."""
    for metric in header.split(","):
        name, _, params = metric.strip().partition(";")
        if name == "app" and params.startswith("dur="):
            return float(params[4:])
    return None


class Wire:
    """One keep-alive connection to the bank, timing each answer into ``timings``."""

    def __init__(self, base: str, timings: Timings) -> None:
        self.base = base
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        self.timings = timings
        self.requests = 0

    def ask(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        """Send one request (``target``: the path and query) and read its whole answer."""
        for again in (False, True):
            began = time.perf_counter()
            try:
                self.connection.request(method, target, body, headers)
                response = self.connection.getresponse()
                data = response.read()
            except STALE:
                self.connection.close()
                if again:
                    raise
                continue
            seen = (time.perf_counter() - began) * 1000
            break
        self.requests += 1
        step = f"{method} {SANDBOX_PART.sub('', target.partition('?')[0])}"
        self.timings.add(step, seen, server_ms(response.getheader("Server-Timing") or ""))
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            [v for k, v in response.getheaders() if k.lower() == "set-cookie"],
            data,
        )

    def close(self) -> None:
        self.connection.close()


@dataclass(frozen=True)
class App:
    """The partner app the flows are for (the scenario's, as ``harness.driver.PartnerApp``)."""

    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str

    @property
    def basic(self) -> str:
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret, safe='')}"
        return "Basic " + base64.b64encode(pair.encode()).decode()


def pkce() -> tuple[str, str]:
    """A fresh code verifier and its S256 challenge (RFC 7636 §4.1–4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Walker:
    """One customer walking complete flows over one connection, from
    ``/oauth/authorize`` to the tokens; its forms encoded once."""

    def __init__(
        self,
        wire: Wire,
        base: str,
        gateway: dict[str, str],
        customer: list[Any],
        app: App,
    ) -> None:
        account, details, pin = customer
        self.wire, self.app, self.phone = wire, app, str(details["phone"])
        #: The target's path (``/s/ID`` for a sandbox): the contract's paths are under it.
        self.prefix = urlsplit(base).path.rstrip("/")
        self.gateway = {"Content-Type": "application/json", **gateway}
        self.forms = {
            Screen.ACCOUNT: urlencode(account).encode(),
            Screen.CUSTOMER: urlencode(details).encode(),
            Screen.PHONE: b"",
            Screen.CALL: b"",
            Screen.PIN: urlencode({"pin": pin}).encode(),
            Screen.CONSENT: urlencode({"decision": "allow", "agree": "1"}).encode(),
        }
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def headers(self, form: bool = False) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if form:
            headers["Content-Type"] = FORM
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def keep(self, reply: Reply) -> Reply:
        """The cookies an answer sets (the flow cookie of §2), as a browser keeps them."""
        for line in reply.cookies:
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return reply

    def get(self, target: str) -> Reply:
        return self.keep(self.wire.ask("GET", target, None, self.headers()))

    def shown(self, reply: Reply, screen: Screen) -> dict[str, Any]:
        """The screen a 303 leads to (one GET), which must be ``screen``."""
        location = reply.headers.get("location", "")
        if reply.status != 303 or not location.startswith("/"):
            raise Unexpected(f"{screen.value}: {reply.status} {text(reply.body)}")
        model = self.get(location).json()
        if model.get("screen_id") != screen.value:
            raise Unexpected(f"{screen.value} expected, got {json.dumps(model)[:300]}")
        self.csrf = str(model.get(CSRF_FIELD, self.csrf))
        return model

    def press(self, screen: Screen) -> Reply:
        """The screen's form posted with its CSRF token."""
        body = f"{CSRF_FIELD}={quote(self.csrf, safe='')}".encode()
        if self.forms[screen]:
            body += b"&" + self.forms[screen]
        target = self.prefix + SCREEN_PATHS[screen.value]
        return self.keep(self.wire.ask("POST", target, body, self.headers(form=True)))

    def flow(self) -> None:
        """One complete flow: the code, then the tokens. Unexpected when any answer
        is not the one a complete flow gets."""
        self.cookies.clear()
        self.csrf = ""
        verifier, challenge = pkce()
        state = secrets.token_urlsafe(16)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.app.client_id,
                "redirect_uri": self.app.redirect_uri,
                "scope": self.app.scope,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": oauth.CODE_CHALLENGE_METHODS[0],
            }
        )
        self.shown(self.get(f"{self.prefix}{oauth.AUTHORIZE_PATH}?{query}"), Screen.ACCOUNT)
        self.shown(self.press(Screen.ACCOUNT), Screen.CUSTOMER)
        self.shown(self.press(Screen.CUSTOMER), Screen.PHONE)
        on_call = self.shown(self.press(Screen.PHONE), Screen.CALL)
        self.call(str(on_call.get("call_to", "")))
        self.shown(self.press(Screen.CALL), Screen.PIN)
        self.shown(self.press(Screen.PIN), Screen.CONSENT)
        done = self.press(Screen.CONSENT)
        back = done.headers.get("location", "")
        given = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        if done.status != 302 or given.get("state") != state or "code" not in given:
            raise Unexpected(f"consent: {done.status} {back or text(done.body)}")
        self.tokens(given["code"], verifier)

    def call(self, dialled: str) -> None:
        """The customer's phone calls the number ④ shows (§4)."""
        body = json.dumps({"from": self.phone, "to": dialled, "caller_id": telephony.SHOWN})
        reply = self.wire.ask(
            "POST", self.prefix + telephony.CALLS_PATH, body.encode(), self.gateway
        )
        if reply.status != 200 or not reply.json().get("verified"):
            raise Unexpected(f"call: {reply.status} {text(reply.body)}")

    def tokens(self, code: str, verifier: str) -> None:
        """The partner app's server exchanges the code (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.app.redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Content-Type": FORM, "Accept": "application/json"}
        headers["Authorization"] = self.app.basic
        target = self.prefix + oauth.TOKEN_PATH
        reply = self.wire.ask("POST", target, urlencode(form).encode(), headers)
        if reply.status != 200 or "access_token" not in reply.json():
            raise Unexpected(f"token: {reply.status} {text(reply.body)}")


@dataclass
class Spec:
    """What one client process does, as the benchmark sends it.

    ``phase``: ``bare`` (the metadata, as fast as answered), ``flows`` (complete
    flows, each thread its own customer, as fast as answered: a closed loop) or
    ``open`` (flows arriving at ``rate`` per second, Poisson, each taken by a
    free thread). A thread stops at ``seconds`` or, when ``count`` is given, after
    its share of the process's ``count`` flows, whichever comes first. ``targets``: (base URL,
    the gateway's credential header); client ``k`` of the run walks at
    ``targets[k % len(targets)]``."""

    phase: str
    targets: list[tuple[str, dict[str, str]]]
    first: int
    threads: int
    seconds: float
    customers: list[list[Any]]
    app: dict[str, str]
    count: int | None = None
    rate: float = 0.0
    seed: int = 1


@dataclass
class Outcome:
    """What the threads of one process did."""

    done: int = 0
    failed: int = 0
    error: str = ""
    #: Seconds each open-loop flow started after its arrival (no free thread).
    lag: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, error: Exception | None = None, lag: float | None = None) -> None:
        with self.lock:
            if error is None:
                self.done += 1
            else:
                self.failed += 1
                self.error = self.error or f"{type(error).__name__}: {error}"
            if lag is not None:
                self.lag.append(lag)


def arrivals(rate: float, seconds: float, rng: random.Random) -> list[float]:
    """The moments (seconds from the start) of Poisson arrivals at ``rate`` per
    second within ``seconds``."""
    moments, t = [], rng.expovariate(rate)
    while t < seconds:
        moments.append(t)
        t += rng.expovariate(rate)
    return moments


class Clients:
    """The threads of one client process, each with its connection, and what they did."""

    #: What a flow that did not end with tokens raises.
    FAILED = (Unexpected, OSError, http.client.HTTPException)

    def __init__(self, spec: Spec) -> None:
        self.spec, self.app = spec, App(**spec.app)
        self.timings, self.outcome = Timings(), Outcome()
        self.wires = [
            Wire(spec.targets[(spec.first + i) % len(spec.targets)][0], self.timings)
            for i in range(spec.threads)
        ]
        count = spec.count or 0
        #: Each thread's share of ``count``, as it is walked.
        self.quota = [
            count // spec.threads + (i < count % spec.threads) for i in range(spec.threads)
        ]
        self.schedule = (
            arrivals(spec.rate, spec.seconds, random.Random(spec.seed)) if spec.rate else []
        )
        self.taken = iter(range(len(self.schedule)))
        self.taking = threading.Lock()
        self.began = self.deadline = 0.0

    def walker(self, i: int) -> Walker:
        base, gateway = self.spec.targets[(self.spec.first + i) % len(self.spec.targets)]
        return Walker(self.wires[i], base, gateway, self.spec.customers[i], self.app)

    def bare(self, i: int) -> None:
        wire = self.wires[i]
        target = urlsplit(wire.base).path.rstrip("/") + oauth.METADATA_PATH
        headers = {"Accept": "application/json"}
        while time.perf_counter() < self.deadline:
            reply = wire.ask("GET", target, None, headers)
            self.outcome.count(None if reply.status == 200 else Unexpected(f"{reply.status}"))

    def closed(self, i: int) -> None:
        me, counted = self.walker(i), self.spec.count is not None
        while time.perf_counter() < self.deadline and not (counted and self.quota[i] <= 0):
            self.quota[i] -= 1
            try:
                me.flow()
                self.outcome.count()
            except self.FAILED as error:
                # Figures of failing flows measure nothing: this client stops, the
                # benchmark reports the error.
                self.outcome.count(error)
                return

    def opened(self, i: int) -> None:
        me = self.walker(i)
        while True:
            with self.taking:
                k = next(self.taken, None)
            if k is None:
                return
            arrival = self.began + self.schedule[k]
            if (wait := arrival - time.perf_counter()) > 0:
                time.sleep(wait)
            lag = max(0.0, time.perf_counter() - arrival)
            try:
                me.flow()
                self.outcome.count(lag=lag)
            except self.FAILED as error:
                self.outcome.count(error, lag)

    def run(self) -> dict[str, Any]:
        """The phase's threads, until each is done; the results, as printed."""
        work: dict[str, Callable[[int], None]] = {
            "bare": self.bare,
            "flows": self.closed,
            "open": self.opened,
        }
        threads = [
            threading.Thread(target=work[self.spec.phase], args=(i,))
            for i in range(self.spec.threads)
        ]
        cpu = time.process_time()
        self.began = time.perf_counter()
        self.deadline = self.began + self.spec.seconds
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - self.began
        for wire in self.wires:
            wire.close()
        return {
            "done": self.outcome.done,
            "failed": self.outcome.failed,
            "error": self.outcome.error,
            "requests": sum(w.requests for w in self.wires),
            "wall": wall,
            "cpu": time.process_time() - cpu,
            "lag": self.outcome.lag,
            "arrivals": len(self.schedule),
            "client": self.timings.client,
            "server": self.timings.server,
        }


def main() -> int:
    spec = Spec(**json.loads(sys.stdin.readline()))
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    print(json.dumps(Clients(spec).run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
