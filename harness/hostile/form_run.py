"""The Hypothesis half of the campaign: the generated requests of
:mod:`.endpoints`, sent through the bench, and 5 MB bodies to every endpoint
that takes a body."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import requests
from hypothesis import given
from hypothesis import strategies as st

from renkei.contract import controls, telephony
from renkei.contract.oauth import INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH
from renkei.contract.screens import CSRF_FIELD, FLOW_COOKIE, SCREENS, Screen

from .baseline import SCREEN_FIELDS
from .bench import Bench, keeps_flow
from .endpoints import GROUPS, Generated
from .sampling import run_seeded, run_settings
from .verdict import Seen

FIVE_MB = 5 * 1024 * 1024


def fuzz_forms(
    bench: Bench,
    examples: int,
    seed: int | None = None,
    until: float | None = None,
    groups: tuple[str, ...] = tuple(GROUPS),
) -> None:
    """``examples`` generated requests per group of :data:`~.endpoints.GROUPS`
    (Hypothesis; ``seed`` None: the same sample every run), stopping early at
    ``until`` (``time.monotonic()``)."""
    for name in groups:
        run_seeded(_form_runner(bench, GROUPS[name](bench), examples, seed, until), seed)


def _form_runner(
    bench: Bench,
    strategy: st.SearchStrategy[Generated],
    examples: int,
    seed: int | None,
    until: float | None,
) -> Callable[[], None]:
    @run_settings(examples, seed)
    @given(item=strategy)
    def run(item: Generated) -> None:
        if until is not None and time.monotonic() > until:
            return
        endpoint, request, flow = item
        response = bench.send(endpoint, request)
        if response is None:
            bench.forget_flow(flow or "")
            return
        if flow is not None and not keeps_flow(Seen.of(response)):
            bench.forget_flow(flow)

    runner: Callable[[], None] = run
    return runner


#: Every endpoint that takes a body.
BODY_TARGETS = (
    *(f"POST {p}" for p in SCREEN_FIELDS),
    f"POST {TOKEN_PATH}",
    f"POST {REVOKE_PATH}",
    f"POST {INTROSPECT_PATH}",
    f"POST {telephony.CALLS_PATH}",
    f"PUT {controls.CLOCK_PATH}",
    f"POST {controls.MAINTENANCE_PATH}",
    f"POST {controls.MOVE_PATH}",
)


def huge_bodies(bench: Bench, targets: tuple[str, ...] = BODY_TARGETS) -> None:
    """A 5 MB body to each of ``targets`` (``"METHOD /path"``), form and JSON with a
    Content-Length, and a form chunked (no length given up front); with a held
    flow's cookie and CSRF token, so that a screen reads the body at all."""
    flow = bench.flow_at(SCREENS[Screen.ACCOUNT].path)
    for target in targets:
        method, path = target.split(" ")
        for kind, chunked in (
            ("application/x-www-form-urlencoded", False),
            ("application/json", False),
            ("application/x-www-form-urlencoded", True),
        ):
            csrf = flow.csrf.encode() if flow else b""
            payload = CSRF_FIELD.encode() + b"=" + csrf + b"&a=" + b"x" * FIVE_MB
            headers = {"Content-Type": kind, "Authorization": f"Bearer {bench.admin_token}"}
            if flow is not None:
                headers["Cookie"] = f"{FLOW_COOKIE}={flow.cookie}"
            data: bytes | Iterator[bytes] = _chunks(payload) if chunked else payload
            request = requests.Request(method, bench.url + path, headers=headers, data=data)
            bench.send(f"{target} (5 MB)", request)


def _chunks(payload: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]
