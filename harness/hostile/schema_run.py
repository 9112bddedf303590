"""The Schemathesis half of the campaign: every operation of the target's
``/openapi.json``, positive and negative cases, each answer judged by
:func:`.verdict.faults_of` and checked against the document (status, content
type, schema)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from renkei.contract.docs import OPENAPI_PATH
from renkei.contract.screens import CSRF_FIELD, FLOW_COOKIE, SCREENS, Screen
from renkei.contract.telephony import SECRET_HEADER

from .baseline import CLIENT_BASIC, FLOW_FOR, SCREENS_UNDER
from .bench import TIMEOUT, Bench, describe, keeps_flow
from .sampling import run_seeded, run_settings
from .verdict import Seen, faults_of

#: What the document promises of every answer, beside the campaign's own rule.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: The flow a case for any other path under the screens' folder (「連携元画面へ」)
#: is sent with: one standing on ①.
_FIRST_SCREEN = SCREENS[Screen.ACCOUNT].path


def fuzz_openapi(
    bench: Bench, examples: int, seed: int | None = None, until: float | None = None
) -> None:
    """Schemathesis over every operation of the target's ``/openapi.json``:
    ``examples`` positive and ``examples`` negative cases each, with the right
    credentials or none (and, for the screens, a valid flow cookie and CSRF token
    or none)."""
    schema = schemathesis.openapi.from_url(bench.url + OPENAPI_PATH)
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    for operation in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if _negatable(operation.definition.raw):
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode)
            run_seeded(_openapi_runner(bench, strategy, examples, seed, until), seed)


def _negatable(operation: dict[str, Any]) -> bool:
    """Whether the document forbids anything Schemathesis could send to ``operation``:
    a body, credentials, or a parameter with a constraint. (An operation with only
    free strings has no negative case; Hypothesis would look for one for a second.)"""
    if operation.get("requestBody") or operation.get("security"):
        return True
    return any(p.get("schema") != {"type": "string"} for p in operation.get("parameters", []))


def _openapi_runner(
    bench: Bench,
    strategy: st.SearchStrategy[Any],
    examples: int,
    seed: int | None,
    until: float | None,
) -> Callable[[], None]:
    @run_settings(examples, seed)
    @given(case=strategy, credentials=st.sampled_from(["valid", "valid", "none"]))
    def run(case: Any, credentials: str) -> None:
        if until is not None and time.monotonic() > until:
            return
        _call(bench, case, credentials, str(case.operation.label))

    runner: Callable[[], None] = run
    return runner


def _call(bench: Bench, case: Any, credentials: str, label: str) -> None:
    """One Schemathesis case: sent, judged by :func:`.verdict.faults_of` and by the
    document. The security schemes are the document's own names (``telephonySecret``,
    ``adminToken``, ``bearer``, ``clientBasic``)."""
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    path = case.operation.path
    security = [
        name for entry in case.operation.definition.raw.get("security", []) for name in entry
    ]
    flow_path = FLOW_FOR.get(path, _FIRST_SCREEN if path.startswith(SCREENS_UNDER) else None)
    if credentials == "valid":
        if "telephonySecret" in security and bench.telephony_secret:
            headers[SECRET_HEADER] = bench.telephony_secret
        elif "adminToken" in security:
            headers["Authorization"] = f"Bearer {bench.admin_token}"
        elif "bearer" in security:
            headers["Authorization"] = "Bearer " + str(bench.tokens()["access_token"])
        elif "clientBasic" in security:
            headers["Authorization"] = CLIENT_BASIC
        if flow_path is not None:
            flow = bench.flow_at(flow_path)
            if flow is not None:
                cookies[FLOW_COOKIE] = flow.cookie
                if isinstance(case.body, dict):
                    case.body[CSRF_FIELD] = flow.csrf
    try:
        response = case.call(
            base_url=bench.url,
            session=bench.http,
            headers=headers,
            cookies=cookies,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        bench.unanswered(f"{label} (openapi)", f"{label}: {case.as_curl_command()}", error)
        return
    seen = Seen.of_schemathesis(response)
    faults = faults_of(seen, bench.url)
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        faults += [f"{f.title}: {f.message}".replace("\n", " ")[:300] for f in group.exceptions]
    except AssertionError as failure:
        faults.append(str(failure).replace("\n", " ")[:300])
    example = describe(response.request)
    bench.census.record(f"{label} (openapi)", response.status_code, faults, example)
    bench.after(case.method.upper(), case.formatted_path, seen.status)
    if flow_path is not None and cookies and not keeps_flow(seen):
        bench.forget_flow(flow_path)
