"""The certificate: every situation and check with its result, severity,
requirement and evidence, and one verdict.

``certificate.json`` is for programs (a vendor's CI), ``certificate.html`` for
people; both hold the same content. Evidence is the recorded requests with
every secret masked (:func:`harness.certify.record.masked`).

The verdict:

* ``failed`` — a failure-severity check failed;
* ``incomplete`` — none failed, but a failure-severity check could not be judged
  (the app never got as far: e.g. it never linked);
* ``passed with warnings`` — every failure-severity check passed, a warning or
  review check did not;
* ``passed``.

Exit status 0 only for ``passed`` and ``passed with warnings``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from harness.certify.judge import Result
from harness.certify.plan import Severity
from harness.certify.record import Exchange, masked
from harness.certify.runner import Judged
from harness.render import page

PASSED: Final = "passed"
WARNINGS: Final = "passed with warnings"
INCOMPLETE: Final = "incomplete"
FAILED: Final = "failed"
JSON_NAME: Final = "certificate.json"
HTML_NAME: Final = "certificate.html"


@dataclass(frozen=True)
class RunInfo:
    client_id: str
    client_name: str
    target: str
    proxy: str
    started_at: str
    seconds: float
    played_by: str | None = None


def verdict(judged: list[Judged]) -> str:
    failures = unjudged = lesser = 0
    for one in judged:
        for check in one.run.situation.checks:
            outcome = one.outcomes.get(check.id)
            if outcome is None:
                continue
            if check.severity is Severity.FAILURE:
                failures += outcome.result is Result.FAILED
                unjudged += outcome.result is Result.NOT_JUDGED
            elif outcome.result is Result.FAILED:
                lesser += 1
    if failures:
        return FAILED
    if unjudged:
        return INCOMPLETE
    return WARNINGS if lesser else PASSED


def exit_status(verdict_text: str) -> int:
    return 0 if verdict_text in (PASSED, WARNINGS) else 1


def document(info: RunInfo, judged: list[Judged], exchanges: list[Exchange]) -> dict[str, Any]:
    """The certificate as JSON-ready data."""
    totals: Counter[str] = Counter()
    situations = []
    for one in judged:
        run, s = one.run, one.run.situation
        checks = []
        for check in s.checks:
            outcome = one.outcomes[check.id]
            totals[outcome.result.value] += 1
            checks.append(
                {
                    "id": check.id,
                    "title": check.title,
                    "severity": check.severity.value,
                    "requirements": list(check.requirements),
                    "rule": check.rule,
                    "scope": check.scope,
                    "result": outcome.result.value,
                    "detail": outcome.detail,
                    "evidence": list(outcome.evidence),
                }
            )
        situations.append(
            {
                "id": s.id,
                "index": run.index,
                "title": s.title,
                "persona": s.persona,
                "instructions": s.instructions,
                "setup": s.setup.value,
                "timed_out": run.timed_out,
                # seconds since the run began, as the requests' "sent" and "answered"
                "timeline": {
                    "began": round(run.began, 3),
                    "acted": None if run.act_began is None else round(run.act_began, 3),
                    "fault_lifted": None if run.cleared is None else round(run.cleared, 3),
                    "ended": round(run.ended, 3),
                },
                "facts": run.facts,
                "problems": run.problems,
                "checks": checks,
                "requests": [masked(e) for e in exchanges if e.situation == s.id],
            }
        )
    decided = verdict(judged)
    return {
        "certificate": "renkei certify",
        "client_id": info.client_id,
        "client_name": info.client_name,
        "target": info.target,
        "proxy": info.proxy,
        "started_at": info.started_at,
        "seconds": round(info.seconds, 1),
        "played_by": info.played_by,
        "verdict": decided,
        "exit_status": exit_status(decided),
        "totals": dict(totals),
        "situations": situations,
    }


#: How each verdict is shown: the banner's tone in renkei's stylesheet.
TONE: Final = {PASSED: "ok", WARNINGS: "warn", INCOMPLETE: "warn", FAILED: "bad"}


def html(data: dict[str, Any]) -> str:
    """``certificate.html`` from :func:`document`'s data (``harness/templates/certificate.html``),
    one file with the stylesheet inline."""
    return page("certificate.html", d=data, tone=TONE[data["verdict"]])


def write(folder: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / JSON_NAME
    as_html = folder / HTML_NAME
    as_json.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")
    as_html.write_text(html(data), "utf-8")
    return as_json, as_html
