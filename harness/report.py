"""What a conformance run showed, requirement by requirement.

The inputs are pytest-bdd's Cucumber JSON (scenarios with their steps), the
record of :mod:`harness.conform_plugin` (every collected scenario with its tags
and pytest's outcome, including those that errored before a step or were not
selected), the requirement list of :mod:`harness.requirements`, the expected
deviations, the browser run's screenshots and, with ``renkei conform
--browser``, its journeys (each one more scenario, of ``harness/browser.py``,
tagged with the requirements it shows). The output is a :class:`Report`:
a row per requirement of REQUIREMENTS.md — never fewer — with the scenarios
tagged with its ID, their results, and the requirement's verdict.

Verdicts, strongest first (a requirement takes the strongest of its scenarios):

* ``failed``: a scenario tagged with it failed and no deviation entry expects it;
* ``deviation``: its only failures are expected by the deviations file;
* ``passed``: every scenario of it that ran passed;
* ``not run``: the features have scenarios for it, but none ran (``--tags``, skips);
* ``not covered``: no scenario of the features is tagged with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from xml.etree import ElementTree

from harness.requirements import ID_SHAPE, Requirements

Outcome = Literal["passed", "failed", "skipped", "not run"]
Verdict = Literal["failed", "deviation", "passed", "not run", "not covered"]
#: Strongest first: a requirement's verdict is the first that any of its scenarios gives.
VERDICTS: Final[tuple[Verdict, ...]] = ("failed", "deviation", "passed", "not run", "not covered")

#: Exit statuses of ``renkei conform``.
OK: Final = 0
FAILED: Final = 1
NO_RUN: Final = 2

#: Screens of the manual and their requirement (R-FLOW-1..7); a screenshot named
#: ``SOA201.png`` or ``SOA201-required.png`` stands beside R-FLOW-1.
SCREEN_REQUIREMENT: Final = {
    "SOA201": "R-FLOW-1",
    "SOA202": "R-FLOW-2",
    "SOA208": "R-FLOW-3",
    "SOA209": "R-FLOW-4",
    "SOA211": "R-FLOW-5",
    "SOA206": "R-FLOW-6",
    "cancel": "R-FLOW-7",
    "cancelled": "R-FLOW-7",
}
#: Error codes of INTERFACE.md §3 (and ``out_of_order`` of R-FLOW-8): a screenshot
#: whose name has one (``SOA202-identity_mismatch.png``, ``B84.png``) also stands
#: beside that error's requirement.
CODE_REQUIREMENT: Final = {
    "required": "R-ERR-INPUT-1",
    "invalid": "R-ERR-INPUT-2",
    "account_unavailable": "R-ERR-HOST-1",
    "identity_mismatch": "R-ERR-HOST-2",
    "locked_now": "R-ERR-HOST-3",
    "B84": "R-ERR-HOST-4",
    "out_of_hours": "R-ERR-SYS-1",
    "congested": "R-ERR-SYS-2",
    "system_error": "R-ERR-SYS-3",
    "service_unavailable": "R-ERR-SYS-4",
    "call_pending": "R-ERR-CALL-1",
    "call_expired": "R-ERR-CALL-2",
    "out_of_order": "R-FLOW-8",
}


class DeviationError(ValueError):
    """The deviations file is not as docs/conformance.md describes."""


@dataclass(frozen=True)
class Deviation:
    """One expected deviation: the scenario named ``scenario`` (in ``feature``, if
    given; tagged ``requirement``, if given; for an outline, the rows whose examples
    have the values of ``example``, if given) is expected to fail, for ``comment``."""

    scenario: str
    comment: str
    requirement: str | None = None
    feature: str | None = None
    example: Mapping[str, str] | None = None
    expected: str = "failed"

    def matches(self, s: ScenarioResult) -> bool:
        if s.name != self.scenario:
            return False
        if self.example and any(s.example.get(k) != v for k, v in self.example.items()):
            return False
        if self.requirement is not None and self.requirement not in s.tags:
            return False
        if self.feature is not None:
            names = {s.feature, Path(s.feature).name, Path(s.feature).stem, s.feature_name}
            if self.feature not in names:
                return False
        return True

    def describe(self) -> str:
        where = f" [{self.requirement}]" if self.requirement else ""
        return f"{self.scenario}{where}"


FIELDS: Final = {"scenario", "requirement", "feature", "example", "expected", "comment"}


def _deviation(where: str, entry: object, known: set[str] | None) -> Deviation:
    """One entry of a deviations file, checked."""
    if not isinstance(entry, dict):
        raise DeviationError(f"{where}: expected an object")
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise DeviationError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key in ("scenario", "comment"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise DeviationError(f"{where}: {key!r} must be a non-empty string")
    for key in ("requirement", "feature"):
        if key in entry and not isinstance(entry[key], str):
            raise DeviationError(f"{where}: {key!r} must be a string")
    example = entry.get("example")
    if example is not None and not (
        isinstance(example, dict) and all(isinstance(v, str) for v in example.values())
    ):
        raise DeviationError(f"{where}: 'example' must map column names to strings")
    expected = entry.get("expected", "failed")
    if expected != "failed":
        raise DeviationError(f'{where}: "expected" can only be "failed", not {expected!r}')
    requirement = entry.get("requirement")
    if requirement is not None and known is not None and requirement not in known:
        raise DeviationError(f"{where}: {requirement} is not a requirement of REQUIREMENTS.md")
    return Deviation(
        scenario=entry["scenario"],
        comment=entry["comment"],
        requirement=requirement,
        feature=entry.get("feature"),
        example=example,
        expected=expected,
    )


def load_deviations(path: Path, requirements: Requirements | None = None) -> list[Deviation]:
    """Read a deviations file: a JSON list of ``{"scenario", "comment", "requirement"?,
    "feature"?, "example"?, "expected"?: "failed"}`` (docs/conformance.md); raises
    :class:`DeviationError` if it is malformed or names an unknown requirement."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as e:
        raise DeviationError(f"{path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise DeviationError(f"{path}: not JSON: {e}") from None
    if not isinstance(data, list):
        raise DeviationError(f"{path}: expected a JSON list of entries")
    known = set(requirements.ids()) if requirements is not None else None
    return [_deviation(f"{path}: entry {n}", entry, known) for n, entry in enumerate(data, 1)]


@dataclass(frozen=True)
class StepResult:
    keyword: str
    name: str
    status: str
    error: str = ""


@dataclass
class ScenarioResult:
    """One run (or not-run) scenario; an outline gives one per row of its examples."""

    id: str
    feature: str
    name: str
    tags: tuple[str, ...]
    outcome: Outcome
    line: int | None = None
    #: An outline row's values, by column of its examples.
    example: Mapping[str, str] = field(default_factory=dict)
    feature_name: str = ""
    message: str = ""
    detail: str = ""
    failed_step: str = ""
    steps: tuple[StepResult, ...] = ()
    #: The deviation entry that expects this scenario's failure.
    deviation: Deviation | None = None
    #: The name, with the example values that an outline's name does not show.
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or self.name

    @property
    def verdict(self) -> Verdict:
        """``deviation`` for an expected failure; ``not run`` for a skip; else the outcome."""
        if self.outcome == "failed":
            return "deviation" if self.deviation is not None else "failed"
        if self.outcome in ("skipped", "not run"):
            return "not run"
        return "passed"

    @property
    def ran(self) -> bool:
        return self.outcome in ("passed", "failed")

    def requirement_ids(self, known: Iterable[str]) -> list[str]:
        """The requirements this scenario is tagged with, in the order of ``known``."""
        return [r for r in known if r in self.tags]

    @property
    def where(self) -> str:
        return f"{self.feature}:{self.line}" if self.line else self.feature


@dataclass
class DeviationUse:
    """What became of one deviation entry in this run.

    ``expected``: it matched failing scenarios (reported as deviations);
    ``stale``: the scenarios it names ran and passed — the entry can go;
    ``not run``: they were not selected this time;
    ``unknown``: no scenario of the features has that name (renamed? a typo?).
    """

    deviation: Deviation
    state: Literal["expected", "stale", "not run", "unknown"]
    scenarios: list[ScenarioResult] = field(default_factory=list)


@dataclass
class RequirementRow:
    id: str
    area: str
    text: str
    scenarios: list[ScenarioResult]
    screenshots: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        if not self.scenarios:
            return "not covered"
        given = {s.verdict for s in self.scenarios}
        return next(v for v in VERDICTS if v in given)


@dataclass
class RunInfo:
    """How the run was made, for the report's header."""

    target: str = "the embedded sandbox"
    tags: str | None = None
    deviations: str | None = None
    pytest_exit: int | None = None
    started: str = ""
    seconds: float | None = None
    tests: int | None = None
    #: What the browser run did (``renkei conform --browser``), one line; None without it.
    browser: str | None = None


@dataclass
class Report:
    requirements: Requirements
    rows: list[RequirementRow]
    scenarios: list[ScenarioResult]
    deviations: list[DeviationUse]
    #: ``@R-…`` tags of the features that are not IDs of REQUIREMENTS.md → scenarios.
    unknown_tags: dict[str, list[str]]
    #: Screenshots whose name ties them to no requirement.
    other_screenshots: list[str]
    run: RunInfo

    def count(self, verdict: Verdict, area: str | None = None) -> int:
        return sum(1 for r in self.rows if r.verdict == verdict and area in (None, r.area))

    def by_verdict(self, verdict: Verdict) -> list[RequirementRow]:
        return [r for r in self.rows if r.verdict == verdict]

    def area_summary(self) -> list[dict[str, Any]]:
        """Per area of REQUIREMENTS.md, then the total: requirements, covered and each verdict."""
        out: list[dict[str, Any]] = []
        for area, _title in [*self.requirements.areas, ("total", "")]:
            rows = [r for r in self.rows if area in ("total", r.area)]
            if not rows:
                continue
            line: dict[str, Any] = {
                "area": area,
                "requirements": len(rows),
                "covered": sum(1 for r in rows if r.verdict != "not covered"),
            }
            for v in ("passed", "deviation", "failed", "not run", "not covered"):
                line[v] = sum(1 for r in rows if r.verdict == v)
            out.append(line)
        return out

    @property
    def ran(self) -> int:
        return sum(1 for s in self.scenarios if s.ran)

    def stale(self) -> list[DeviationUse]:
        return [d for d in self.deviations if d.state in ("stale", "unknown")]

    def exit_status(self, strict: bool = False) -> int:
        """1 if a requirement failed (with ``strict``, also if one is not covered or a
        deviation entry is stale or unknown); 2 if no scenario ran; else 0."""
        if self.by_verdict("failed"):
            return FAILED
        if self.ran == 0:
            return NO_RUN
        if strict and (self.by_verdict("not covered") or self.stale()):
            return FAILED
        return OK

    def verdict_line(self, strict: bool = False) -> str:
        failed = [r.id for r in self.by_verdict("failed")]
        status = self.exit_status(strict)
        if failed:
            return f"FAILED: {len(failed)} requirement(s) failed: {', '.join(failed)}"
        if status == NO_RUN:
            return "NOT RUN: no scenario ran"
        notes = []
        if n := self.count("deviation"):
            notes.append(f"{n} with expected deviations")
        if n := self.count("not run"):
            notes.append(f"{n} not run")
        if n := self.count("not covered"):
            notes.append(f"{n} not covered")
        if stale := self.stale():
            notes.append(f"{len(stale)} stale deviation entr{'y' if len(stale) == 1 else 'ies'}")
        head = "FAILED (--strict)" if status == FAILED else "PASSED"
        return head + (f" ({'; '.join(notes)})" if notes else "")


# -- reading the run ------------------------------------------------------------------------


def _steps(element: Mapping[str, Any]) -> tuple[StepResult, ...]:
    return tuple(
        StepResult(
            keyword=str(s.get("keyword", "")),
            name=str(s.get("name", "")),
            status=str(s.get("result", {}).get("status", "")),
            error=str(s.get("result", {}).get("error_message", "")),
        )
        for s in element.get("steps", [])
    )


def read_results(
    cucumber: Sequence[Mapping[str, Any]], record: Sequence[Mapping[str, Any]] | None = None
) -> list[ScenarioResult]:
    """Scenarios from the Cucumber JSON, completed by the record of
    :mod:`harness.conform_plugin` when there is one.

    The record decides each scenario's outcome (it sees errors outside steps and
    scenarios that never reached a step); the Cucumber JSON gives their steps. A
    Cucumber JSON alone (any pytest-bdd run) is read from its steps' statuses.
    """
    results: dict[str, ScenarioResult] = {}
    order: list[str] = []
    for entry in record or ():
        key = str(entry["id"]) if entry.get("selected", True) else f"\0{entry['nodeid']}"
        results[key] = ScenarioResult(
            id=str(entry["id"]),
            feature=str(entry["feature"]),
            name=str(entry["scenario"]),
            tags=tuple(entry.get("tags", ())),
            outcome=entry.get("outcome", "not run"),
            line=entry.get("line"),
            example=dict(entry.get("example") or {}),
            label=str(entry.get("label", "")),
            message=str(entry.get("message", "")),
            detail=str(entry.get("detail", "")),
            failed_step=str(entry.get("failed_step", "")),
        )
        order.append(key)
    for feature in cucumber:
        feature_tags = [t["name"] for t in feature.get("tags", [])]
        for element in feature.get("elements", []):
            steps = _steps(element)
            key = str(element.get("id", element.get("name", "")))
            found = results.get(key)
            if found is None:
                statuses = {s.status for s in steps}
                outcome: Outcome = (
                    "failed"
                    if "failed" in statuses
                    else "skipped"
                    if "skipped" in statuses
                    else "passed"
                )
                failing = next((s for s in steps if s.status == "failed"), None)
                found = ScenarioResult(
                    id=key,
                    feature=str(feature.get("uri", "")),
                    name=str(element.get("name", "")),
                    tags=tuple(
                        sorted({*feature_tags, *(t["name"] for t in element.get("tags", []))})
                    ),
                    outcome=outcome,
                    message=failing.error.strip().splitlines()[-1]
                    if failing and failing.error.strip()
                    else "",
                    detail=failing.error if failing else "",
                    failed_step=f"{failing.keyword} {failing.name}" if failing else "",
                )
                results[key] = found
                order.append(key)
            found.steps = steps
            found.line = found.line or element.get("line")
            found.feature_name = str(feature.get("name", ""))
    return [results[k] for k in order]


#: Where the browser run's journeys say they come from, in the report.
BROWSER_RUN: Final = "harness/browser.py"


class JourneyResult(Protocol):
    """What :class:`harness.browser.Journey` gives the report (without importing Playwright)."""

    name: str
    requirements: tuple[str, ...]
    checks: list[str]
    error: str
    detail: str


def browser_results(journeys: Sequence[JourneyResult]) -> list[ScenarioResult]:
    """The browser run's journeys as scenarios, tagged with the requirements they show:
    the checks that held are their steps; a failed journey fails its requirements."""
    results = []
    for j in journeys:
        steps = [StepResult("check", check, "passed") for check in j.checks]
        if j.error:
            steps.append(StepResult("check", j.error, "failed", j.detail or j.error))
        results.append(
            ScenarioResult(
                id=f"browser: {j.name}",
                feature=BROWSER_RUN,
                feature_name="browser run (Chromium)",
                name=f"browser: {j.name}",
                tags=tuple(j.requirements),
                outcome="failed" if j.error else "passed",
                message=j.error,
                detail=j.detail,
                steps=tuple(steps),
            )
        )
    return results


def browser_not_run(requirements: Iterable[str], why: str, detail: str = "") -> ScenarioResult:
    """The browser run as one failed scenario, when it could not run its journeys
    (Chromium did not start, the target did not answer)."""
    return ScenarioResult(
        id="browser: run",
        feature=BROWSER_RUN,
        feature_name="browser run (Chromium)",
        name="browser: the run",
        tags=tuple(requirements),
        outcome="failed",
        message=why,
        detail=detail or why,
    )


def apply_deviations(
    scenarios: Sequence[ScenarioResult], deviations: Iterable[Deviation]
) -> list[DeviationUse]:
    """Mark the failures each entry expects; say which entries are stale or unknown."""
    uses: list[DeviationUse] = []
    for d in deviations:
        matched = [s for s in scenarios if d.matches(s)]
        failing = [s for s in matched if s.outcome == "failed"]
        for s in failing:
            s.deviation = s.deviation or d
        if failing:
            uses.append(DeviationUse(d, "expected", failing))
        elif any(s.outcome == "passed" for s in matched):
            uses.append(DeviationUse(d, "stale", [s for s in matched if s.ran]))
        elif matched:
            uses.append(DeviationUse(d, "not run", matched))
        else:
            uses.append(DeviationUse(d, "unknown"))
    return uses


def screenshot_requirements(name: str) -> list[str]:
    """The requirements a screenshot stands beside, from its file name: the screen
    (``SOA201`` → R-FLOW-1, ``cancel…`` → R-FLOW-7), an error code among its
    ``-`` parts (``identity_mismatch`` → R-ERR-HOST-2), or a requirement ID itself."""
    stem = Path(name).stem
    if ID_SHAPE.match(stem):
        return [stem]
    parts = stem.split("-")
    found: list[str] = []
    first = parts[0]
    if first in SCREEN_REQUIREMENT:
        found.append(SCREEN_REQUIREMENT[first])
    elif first.startswith("cancel"):
        found.append("R-FLOW-7")
    found += [CODE_REQUIREMENT[p] for p in parts if p in CODE_REQUIREMENT]
    return list(dict.fromkeys(found))


def find_screenshots(folder: Path, known: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """PNG files of ``folder`` (paths relative to its parent, the report's folder) by
    requirement, and those tied to none."""
    ids = set(known)
    by_requirement: dict[str, list[str]] = {}
    other: list[str] = []
    if not folder.is_dir():
        return by_requirement, other
    for path in sorted(folder.glob("*.png")):
        rel = f"{folder.name}/{path.name}"
        reqs = [r for r in screenshot_requirements(path.name) if r in ids]
        for r in reqs:
            by_requirement.setdefault(r, []).append(rel)
        if not reqs:
            other.append(rel)
    return by_requirement, other


def read_junit(path: Path) -> tuple[str, float | None, int | None]:
    """When the run started, how long it took and how many tests, from pytest's JUnit XML."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return "", None, None
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return "", None, None
    seconds = suite.get("time")
    tests = suite.get("tests")
    return (
        suite.get("timestamp", ""),
        float(seconds) if seconds else None,
        int(tests) if tests else None,
    )


def build(
    requirements: Requirements,
    scenarios: list[ScenarioResult],
    deviations: Sequence[Deviation] = (),
    screenshots: Path | None = None,
    run: RunInfo | None = None,
) -> Report:
    """The report: a row for every requirement, in the order of REQUIREMENTS.md."""
    uses = apply_deviations(scenarios, deviations)
    known = requirements.by_id()
    shots, other = find_screenshots(screenshots, known) if screenshots else ({}, [])
    rows = [
        RequirementRow(
            id=r.id,
            area=r.area,
            text=r.text,
            scenarios=[s for s in scenarios if r.id in s.tags],
            screenshots=shots.get(r.id, []),
        )
        for r in requirements.items
    ]
    unknown: dict[str, list[str]] = {}
    for s in scenarios:
        for tag in s.tags:
            if ID_SHAPE.match(tag) and tag not in known:
                unknown.setdefault(tag, []).append(f"{s.where} {s.label}")
    return Report(requirements, rows, scenarios, uses, unknown, other, run or RunInfo())
