"""Throttling wrong credentials per source (issue 16; the rule is
:mod:`simulator.core.throttle`, the refusal :mod:`renkei.contract.throttle`).

Four kinds of credential are throttled, each apart:

* ``oauth``: client authentication at the token, revocation and introspection
  endpoints (a wrong ``client_id``/``client_secret`` is ``invalid_client``, 401);
* ``api``: the bearer token at the account API (``invalid_token``, 401);
* ``controls``: the admin token at ``/sandbox/*``, ``/admin/*`` and ``/sandboxes``
  (``unauthorized``, 401);
* ``telephony``: the gateway's credential at ``POST /telephony/calls`` (401).

Every 401 one of these endpoints answers is a failure of its kind, counted after
the answer (:func:`install`'s ``after_request``), whatever check made it: the
endpoints keep their own checks and know nothing of the throttle. Before a request
is routed to its view (``before_request``, before any blueprint's own check) a
source over its budget is refused: 429 with ``Retry-After`` and the error body of
the endpoint's family, no secret compared, nothing judged, so a refusal tells an
attacker nothing. A refused request is not a failure: it spends nothing.

That includes the right credential from that source while it is refused: it is
not compared, so a guesser cannot learn that a guess was right by being let
through. The source of a legitimate client that also sends wrong ones waits with
the rest; one that never fails is never counted, and so never refused.

A bucket is kept for each source, base and kind: the source is the address the
request came from (``REMOTE_ADDR``; an IPv6 address by its /64, which one host
usually holds whole). ``X-Forwarded-For`` is never read by default, since anyone
can send it (waitress drops it); behind N proxies (``--trusted-proxies N``) the
server takes the address the nearest of them saw, the Nth entry from the right
(:func:`proxy_options`, :func:`behind_proxies`). The base is where the request
was served (the root, ``/s/ID``, ``…/banks/CODE``): one tester's mistakes in its
sandbox do not block another's.

State lives in the process: each of ``renkei serve --workers N`` keeps its own, so
a source's bound is the budget's times N. It is bounded in memory: at most
:data:`SOURCES` buckets, the least recently used forgotten first (a forgotten
source starts again with its whole burst), and a bucket back to its whole burst is
dropped. A source that never fails has none.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Request, jsonify, request
from waitress.proxy_headers import proxy_headers_middleware
from werkzeug.wrappers import Response

from renkei.contract import throttle as contract
from renkei.contract.oauth import INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH
from simulator.core.throttle import Bucket, FailureBudget
from simulator.web.responses import api_error

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from simulator.web.service import ServiceConfig

#: The most buckets a process keeps.
SOURCES = 10_000
#: The endpoints of each kind: paths (client authentication), else blueprints.
OAUTH_PATHS = frozenset({TOKEN_PATH, REVOKE_PATH, INTROSPECT_PATH})
BLUEPRINT_KINDS = {
    "api": "api",
    "sandbox": "controls",
    "admin": "controls",
    "sandboxes": "controls",
    "telephony": "telephony",
}
#: A bucket's key: the source, the base and the kind.
Key = tuple[str, str, str]


class Throttle:
    """The buckets of one process, for ``budget``; ``now`` is a steady clock in
    seconds (the process's monotonic clock; a test's own)."""

    def __init__(
        self,
        budget: FailureBudget,
        *,
        now: Callable[[], float] = time.monotonic,
        sources: int = SOURCES,
    ) -> None:
        self.budget = budget
        self.now = now
        self.sources = sources
        self._buckets: OrderedDict[Key, Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, config: ServiceConfig) -> Throttle:
        """The buckets for ``config``'s budget (``--auth-throttle``)."""
        return cls(config.auth_throttle)

    def kept(self) -> int:
        """How many buckets are kept (not ``__len__``: an empty throttle is no less one)."""
        return len(self._buckets)

    def wait(self, key: Key) -> int | None:
        """None when a request of ``key`` may be judged now; else the whole seconds
        after which one is (the ``Retry-After``)."""
        if not self.budget.enabled:
            return None
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return None
            now = self.now()
            if self.budget.is_full(bucket, now):
                del self._buckets[key]
                return None
            seconds = self.budget.wait(bucket, now)
            if seconds is not None:
                self._buckets.move_to_end(key)
            return seconds

    def failed(self, key: Key) -> None:
        """One failure of ``key`` judged."""
        if not self.budget.enabled:
            return
        with self._lock:
            self._buckets[key] = self.budget.spent(self._buckets.get(key), self.now())
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.sources:
                self._buckets.popitem(last=False)


def source(asked: Request) -> str:
    """Where ``asked`` came from, as its buckets are keyed."""
    return network(asked.remote_addr or "")


def network(address: str) -> str:
    """``address`` as a source: an IPv6 address by its /64 (bracketed or not, as a
    proxy header gives it), anything else as given."""
    try:
        ip = ipaddress.ip_address(address.removeprefix("[").removesuffix("]"))
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # an IPv4 client of a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def kind_of(asked: Request) -> str | None:
    """Which kind of credential ``asked`` carries, if any is throttled."""
    if asked.path in OAUTH_PATHS:
        return "oauth"
    return BLUEPRINT_KINDS.get(asked.blueprint or "")


def refusal(kind: str, seconds: int) -> Response:
    """The 429 of ``kind``'s family, unjudged, with ``Retry-After``."""
    message = (
        f"too many failed authentications from this address; try again in {seconds} s "
        f"({contract.RETRY_AFTER})"
    )
    headers = {contract.RETRY_AFTER: str(seconds)}
    if kind == "oauth":  # RFC 6749 §5.2
        response = jsonify({"error": contract.OAUTH_ERROR, "error_description": message})
        response.status_code = contract.STATUS
        response.headers.update(headers)
        return response
    return api_error(contract.ERROR_CODE, message, contract.STATUS, headers)


def served_base() -> str:
    """Where the request was served: the root (""), ``/s/ID``, ``…/banks/CODE``."""
    return request.script_root


def install(app: Flask, throttle: Throttle, base: Callable[[], str] = served_base) -> None:
    """Throttle the credentials ``app`` checks; ``base``: where a request's bucket
    is kept (by default where it was served)."""

    def key(kind: str) -> Key:
        return (source(request), base(), kind)

    @app.before_request
    def refuse_over_budget() -> Response | None:
        kind = kind_of(request)
        if kind is None:
            return None
        seconds = throttle.wait(key(kind))
        return None if seconds is None else refusal(kind, seconds)

    @app.after_request
    def count_failure(response: Response) -> Response:
        if response.status_code == 401:
            kind = kind_of(request)
            if kind is not None:
                throttle.failed(key(kind))
        return response


def parse_budget(text: str) -> FailureBudget:
    """``--auth-throttle``: ``BURST/RATE`` (``20/2``: 20 failures at once, then 2 a
    second), or ``off``; ValueError naming what is wrong."""
    if text.strip().lower() in ("off", "0"):
        return FailureBudget(burst=0, rate=0.0)
    burst, slash, rate = text.partition("/")
    try:
        numbers: tuple[int, float] | None = (int(burst), float(rate))
    except ValueError:
        numbers = None
    if not slash or numbers is None or not math.isfinite(numbers[1]):
        raise ValueError(
            f"wants BURST/RATE such as 20/2 (failures at once, then a second), or off; not {text!r}"
        )
    return FailureBudget(*numbers)  # ValueError for a burst below 0 or a rate of 0


def proxy_options(trusted_proxies: int) -> dict[str, Any]:
    """waitress's settings for ``trusted_proxies`` proxies in front (0: none, and
    waitress drops any ``X-Forwarded-For``): ``REMOTE_ADDR`` becomes the address the
    nearest one saw. Only ``X-Forwarded-For``; the issuer is never read from a
    request (``--issuer``)."""
    if trusted_proxies <= 0:
        return {}
    return {
        "trusted_proxy": "*",
        "trusted_proxy_count": trusted_proxies,
        "trusted_proxy_headers": {"x-forwarded-for"},
    }


def behind_proxies(app: WSGIApplication, trusted_proxies: int) -> WSGIApplication:
    """``app`` reading ``X-Forwarded-For`` as :func:`proxy_options` has waitress read
    it, for a server other than waitress (cheroot, which serves HTTPS)."""
    if trusted_proxies <= 0:
        return app
    wrapped: WSGIApplication = proxy_headers_middleware(app, **proxy_options(trusted_proxies))
    return wrapped
