"""Locust: the twin's journeys as load on a live server, from one or many machines.

Each simulated Locust user plays journeys of a trace written by ``renkei
simulate --trace`` — the same steps, with the same inputs, through the same
driver as ``renkei replay`` (:class:`harness.replay.Customer` on
:mod:`harness.driver`) — one after the other, waiting between steps the
trace's own gaps divided by ``RENKEI_SPEED``. Unlike the replayer it does not
steer the server's clock: this is load on the server's running clock, so the
answers are not compared with the twin's (``renkei replay`` does that).

**A sandbox of its own.** By default the load goes to a new sandbox of the
``--host`` server (INTERFACE.md §9), so that it floods, congests and moves the
clock of nobody else's world: the master (or the single process) creates it
when Locust starts, with ``POST /sandboxes`` and ``RENKEI_ADMIN_TOKEN`` (the
operator's token; none for a server with ``--open-sandboxes``), from the
scenario the trace's header names (:func:`harness.replay.trace_scenario`: a
shipped one by name, any other file inline) or ``RENKEI_SCENARIO``; prints its
base URL and admin token on stderr; resets it to the trace's host day and sets
its clock running from the trace's first instant at each test start; hands the
workers its base URL (Locust's host) and telephony secret with the spawn
message; and deletes it when Locust quits, unless ``RENKEI_KEEP_SANDBOX=1``. A
server without §9, or one that refuses to make the sandbox, is one line on
stderr and exit 2 before any user starts.

Settings (environment, as Locust's own options are taken by Locust):

* ``RENKEI_TRACE`` — the trace file (required; copy it to every worker);
* ``RENKEI_SPEED`` — simulated seconds per wall second for the pauses (default 10);
* ``RENKEI_ROOT`` — ``1`` to load the ``--host`` server's root sandbox instead, as
  before sandboxes; its gateway (INTERFACE.md §4) is given the telephony secret
  ``renkei serve`` printed, in ``RENKEI_TELEPHONY_SECRET``, or else the admin token
  ``RENKEI_ADMIN_TOKEN`` as a Bearer token;
* ``RENKEI_RESET`` — with ``RENKEI_ROOT=1``: ``1`` to reset the root (with
  ``RENKEI_ADMIN_TOKEN``) to the trace's host day once at the start, from the
  master or a single process, and set its clock running from the trace's first
  instant (a sandbox of its own always is);
* ``RENKEI_SCENARIO`` — the sandbox's scenario, a file or a shipped name, instead
  of the trace's;
* ``RENKEI_KEEP_SANDBOX`` — ``1`` to keep the sandbox when Locust quits.

A platform's trace (version 2, INTERFACE.md §10) plays each journey at its
bank, ``BASE/banks/CODE/``, and the reset at the start resets every bank of it
(:func:`harness.replay.reset_banks`); the statistics then name each bank's
paths (``/banks/9902/connect/customer [422]``).

A journey follows its trace while the server answers as the twin did; at the
first other answer (the server's own clock may say closed, its own state
congested) the customer stops, and the journey is counted as ``JOURNEY ended
early at <step> (<answer>)``; a journey played to its end counts as ``JOURNEY
completed as traced``. Each HTTP answer is reported to Locust as ``METHOD /path [status]``
(the path without a sandbox's ``/s/ID`` prefix), so the
statistics show how many ② answers were 422 or how many authorization requests
met 503 (congested); only an answer 500 or above other than 503 (the bank's
"try later" answers) and a failed connection count as failures. Run::

    RENKEI_TRACE=t.jsonl locust -f harness/locustfile.py --host http://127.0.0.1:8000

from a checkout; from an installed renkei (``pip install 'renkei[locust]'``) the
file is ``$(python -c 'import harness.locustfile as f; print(f.__file__)')``.

(README "Load from many machines" has the master/worker form). This file is
not collected by pytest (its name is not ``test_*``), and pytest runs with
``-p no:locust`` so that Locust's plugin and gevent's patching stay out of the
test process; ``tests/test_locust.py`` runs Locust headless in a child process.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import requests

try:  # the locust extra: not in the default install (pyproject.toml)
    import gevent
    from locust import User, between, events, task
    from locust.env import Environment
except ModuleNotFoundError:
    print(
        "renkei: the Locust file needs the locust extra: pip install 'renkei[locust]'",
        file=sys.stderr,
    )
    raise SystemExit(2) from None

from harness.driver import (
    Browser,
    NoSandboxes,
    PartnerApp,
    Platform,
    Sandbox,
    SandboxInfo,
    SandboxRefused,
    discard_sandbox,
)
from harness.replay import Customer, ReplayError, bank_url, reset_banks, trace_scenario
from renkei.contract.controls import CLOCK_PATH
from renkei.contract.trace import Step, Trace, read

#: Answers that are the bank's own "come back later" and not a server failure.
BANK_ANSWERS = (503,)


class Journeys:
    """The trace's journeys, handed out in turn to the users of this process."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self._cycle: Iterator[list[Step]] = itertools.cycle(list(trace.journeys().values()))
        self._lock = threading.Lock()

    def next(self) -> list[Step]:
        with self._lock:
            return next(self._cycle)


_journeys: Journeys | None = None


def journeys() -> Journeys:
    global _journeys  # noqa: PLW0603 - one trace per Locust process, read once
    if _journeys is None:
        path = os.environ.get("RENKEI_TRACE")
        if not path:
            raise RuntimeError("set RENKEI_TRACE to a trace from `renkei simulate --trace`")
        _journeys = Journeys(read_trace(path))
    return _journeys


def read_trace(path: str) -> Trace:
    trace = read(Path(path))
    if not trace.steps:
        raise RuntimeError(f"{path}: the trace has no steps")
    return trace


def speed() -> float:
    value = float(os.environ.get("RENKEI_SPEED", "10"))
    if value <= 0:
        raise RuntimeError("RENKEI_SPEED must be above 0")
    return value


#: The attribute of Locust's parsed options that carries the sandbox's telephony
#: secret from the master to its workers (the spawn message passes on every option
#: that is not one of Locust's own).
SECRET_OPTION = "renkei_telephony_secret"


class OwnSandbox:
    """The sandbox this Locust run made (on the master or single process), if any."""

    made: SandboxInfo | None = None
    #: Where it was made: the ``--host`` server's origin, and the operator's token.
    server: str = ""
    token: str = ""


def in_root() -> bool:
    return os.environ.get("RENKEI_ROOT") == "1"


def _is_worker(environment: Environment) -> bool:
    return environment.parsed_options is not None and bool(
        getattr(environment.parsed_options, "worker", False)
    )


def gateway_token() -> str:
    """The admin token the phones give the root's gateway when they have no secret
    (``RENKEI_ROOT=1`` without ``RENKEI_TELEPHONY_SECRET``); a sandbox's secret is
    always known."""
    return os.environ.get("RENKEI_ADMIN_TOKEN", "") if in_root() else ""


def telephony_secret(environment: Environment) -> str:
    """The secret the phones send: the sandbox's, from the master's options on a
    worker; ``RENKEI_TELEPHONY_SECRET`` on the root."""
    if in_root():
        return os.environ.get("RENKEI_TELEPHONY_SECRET", "")
    given = getattr(environment.parsed_options, SECRET_OPTION, "")
    if given:
        return str(given)
    return OwnSandbox.made.telephony_secret if OwnSandbox.made is not None else ""


def _refuse(line: str) -> NoReturn:
    print(f"renkei locust: {line}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _make_sandbox(environment: Environment, **_: Any) -> None:
    """Make the run's own sandbox when Locust starts (not on workers, nor with
    ``RENKEI_ROOT=1``) and make it Locust's host; any refusal is one line, exit 2."""
    if in_root() or _is_worker(environment):
        return
    if not environment.host:
        _refuse("give --host, the server the sandbox is made on")
    server = str(environment.host).rstrip("/")
    token = os.environ.get("RENKEI_ADMIN_TOKEN", "")
    try:
        trace = journeys().trace
        name, text, shown = trace_scenario(trace, os.environ.get("RENKEI_SCENARIO") or None)
    except (ReplayError, RuntimeError, OSError, ValueError) as error:
        _refuse(str(error))
    platform = Platform(server, token or None)
    try:
        label = "renkei locust"
        made = (
            platform.create(name, label=label)
            if name is not None
            else platform.create(yaml=text, label=label)
        )
    except NoSandboxes:
        _refuse(
            f"{server} does not serve POST /sandboxes (INTERFACE.md §9); set RENKEI_ROOT=1 to "
            "load its root sandbox"
        )
    except SandboxRefused as error:
        _refuse(f"the server made no sandbox: {' '.join(str(error).split())}")
    except requests.RequestException as error:
        _refuse(f"cannot reach {server}: {type(error).__name__}")
    finally:
        platform.close()
    OwnSandbox.made, OwnSandbox.server, OwnSandbox.token = made, server, token
    environment.host = made.base_url
    if environment.parsed_options is not None:
        setattr(environment.parsed_options, SECRET_OPTION, made.telephony_secret)
    keep = os.environ.get("RENKEI_KEEP_SANDBOX") == "1"
    print(
        f"renkei locust: in sandbox {made.id} of its own, {made.base_url} (scenario {shown}, "
        f"admin token {made.admin_token}), {'kept' if keep else 'deleted'} at the end",
        file=sys.stderr,
        flush=True,
    )


def _reset(environment: Environment, **_: Any) -> None:
    """Reset the sandbox to the trace's day at the start (not on workers): always the
    run's own, the root only with ``RENKEI_RESET=1``."""
    if environment.host is None or _is_worker(environment):
        return
    if in_root():
        if os.environ.get("RENKEI_RESET") != "1":
            return
        sandbox = Sandbox(environment.host, os.environ.get("RENKEI_ADMIN_TOKEN", ""))
    elif OwnSandbox.made is not None:
        sandbox = Sandbox(OwnSandbox.made.base_url, OwnSandbox.made.admin_token)
    else:
        return
    trace = journeys().trace
    # Every bank of a platform's trace, as the replayer does; a refusal is Locust's
    # error, as the reset's answer always was.
    try:
        reset_banks(sandbox.base, sandbox.token, trace)
    except ReplayError as error:
        sandbox.close()
        raise RuntimeError(str(error)) from None
    # The clock runs on from the first traced instant: the load meets the day's
    # calendar (closed windows) as the twin's customers did.
    sandbox.request("PUT", CLOCK_PATH, now=trace.steps[0].t, frozen=False).raise_for_status()
    sandbox.close()


def _delete_sandbox(environment: Environment, **_: Any) -> None:
    """Delete the run's sandbox when Locust quits, unless ``RENKEI_KEEP_SANDBOX=1``."""
    made = OwnSandbox.made
    if made is None or os.environ.get("RENKEI_KEEP_SANDBOX") == "1":
        return
    OwnSandbox.made = None
    if discard_sandbox(OwnSandbox.server, OwnSandbox.token or None, made, "locust"):
        print(f"renkei locust: sandbox {made.id} deleted", file=sys.stderr, flush=True)


events.init.add_listener(_make_sandbox)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_reset)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_delete_sandbox)  # type: ignore[no-untyped-call]


class JourneyUser(User):
    """A stream of customers, one journey of the trace after another."""

    wait_time = between(1, 3)
    #: The partner apps of the trace header, by client_id.
    clients: ClassVar[dict[str, Any]] = {}

    def on_start(self) -> None:
        self.session = requests.Session()
        self.session.hooks["response"].append(self._report)

    def on_stop(self) -> None:
        self.session.close()

    def _report(self, response: requests.Response, *_: Any, **__: Any) -> None:
        request = response.request
        path = urlsplit(request.url or "").path
        # The sandbox's prefix (/s/ID, §9) left out: the names are the same from run to run.
        prefix = urlsplit(self.host or "").path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        status = response.status_code
        failed = status >= 500 and status not in BANK_ANSWERS
        self.environment.events.request.fire(
            request_type=request.method or "GET",
            name=f"{path} [{status}]",
            response_time=response.elapsed.total_seconds() * 1000,
            response_length=len(response.content or b""),
            exception=RuntimeError(f"{status} {response.text[:120]}") if failed else None,
            context={},
        )

    def _journey(self, name: str, began: float, error: Exception | None = None) -> None:
        """A journey's end in the statistics (type JOURNEY)."""
        self.environment.events.request.fire(
            request_type="JOURNEY",
            name=name,
            response_time=(time.perf_counter() - began) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    def customer(self, step: Step, clear: bool = True) -> Customer:
        header = journeys().trace.header.get("clients") or {}
        client_id = step.inputs.get("client_id", "creco")
        client = header.get(client_id, {})
        # A platform trace's journey is its bank's, at BASE/banks/CODE (INTERFACE.md §10).
        base = bank_url(self.host or "", step.bank)
        app = PartnerApp(
            base,
            client_id=client_id,
            client_secret=str(client.get("client_secret", "")),
            redirect_uri=str(client.get("redirect_uri", "")),
            scope=str(client.get("scope", "")),
        )
        if clear:
            self.session.cookies.clear()  # a new customer: no flow cookie of the last one
        return Customer(
            Browser(base, self.session),
            app,
            base,
            secret=telephony_secret(self.environment),
            admin_token=gateway_token(),
        )

    @task
    def journey(self) -> None:
        steps = journeys().next()
        pace = speed()
        customer: Customer | None = None
        previous: float | None = None
        for step in steps:
            at = dt.datetime.fromisoformat(step.t).timestamp()
            if previous is not None and at > previous:
                gevent.sleep((at - previous) / pace)
            previous = at
            if customer is None:
                customer = self.customer(step)
            elif step.do == "authorize":  # a retry: the same browser, a new request
                customer.app.close()
                customer.app = self.customer(step, clear=False).app
            began = time.perf_counter()
            try:
                out = customer.act(step)
            except requests.RequestException as error:
                # The connection failed: a failure; the customer gives up.
                self._journey(f"failed at {step.do}", began, error)
                break
            if out != step.out:
                # The server's clock and state are its own, so it may answer
                # otherwise than the twin did (refused, closed, ...): the rest of
                # the trace's journey no longer applies, and the customer stops.
                self._journey(f"ended early at {step.do} ({out})", began)
                break
        else:
            self._journey("completed as traced", time.perf_counter())
        if customer is not None:
            customer.app.close()
