"""``renkei conform`` against real servers.

A deliberately broken target: ``renkei serve --scenario`` with a copy of
``scenarios/default.yaml`` whose bank gives 60 s for the call of screen ④
instead of the manual's 120 s (R-FLOW-4). No test hook in the server: only
its settings differ. Against it, ``renkei conform`` on a few scenarios of
flow.feature (``--tags``) must exit non-zero and mark R-FLOW-4 failed (screen ④
shows a deadline 60 s on, not 120 s), while R-FLOW-7 (cancelling) still
passes; against a normal server the same scenarios exit 0. The
expected-deviations file turns the same failures into deviations (exit 0);
against the normal server the same entries are stale.

And with features of its own (``--features``), no server at all: a scenario that
errors before its first step — absent from pytest-bdd's Cucumber JSON — still
fails its requirement rather than leaving it "not covered".
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import browser
from harness import conform as conform_command
from harness.browser import JOURNEYS, Journey
from harness.embedded import Target, embedded_sandbox
from harness.requirements import load
from renkei.cli import main
from renkei.contract.sandboxes import SANDBOXES_PATH

DEFAULT = Path(__file__).resolve().parents[1] / "scenarios" / "default.yaml"
#: flow.feature's walk through ① to ⑥ (R-FLOW-1..6, the call deadline of R-FLOW-4 among
#: them) and its cancellations (R-FLOW-7): six scenarios.
TAGS = "@flow and (@R-FLOW-4 or @R-FLOW-7)"


@pytest.fixture(scope="module")
def normal() -> Iterator[Target]:
    with embedded_sandbox() as target:
        yield target


@pytest.fixture(scope="module")
def broken_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = DEFAULT.read_text("utf-8")
    changed, n = re.subn(r"(?m)^(\s*call_window_seconds:)\s*120\b", r"\1 60", text)
    assert n == 1, "scenarios/default.yaml no longer sets call_window_seconds: 120"
    scenario = tmp_path_factory.mktemp("broken") / "call-window-60.yaml"
    scenario.write_text(changed, "utf-8")
    return scenario


@pytest.fixture(scope="module")
def broken(broken_scenario: Path) -> Iterator[Target]:
    """The broken server. Its scenario is also conform's --personas: the features'
    sandboxes on it (INTERFACE.md §9) are made from that scenario, as its root is."""
    with embedded_sandbox(extra=("--scenario", str(broken_scenario))) as target:
        yield target


@dataclass
class Run:
    status: int
    out: Path
    printed: str


def conform(target: Target, out: Path, *more: str) -> int:
    return main(
        [
            "conform",
            "--target",
            target.url,
            f"--admin-token={target.admin_token}",
            "--tags",
            TAGS,
            "--out",
            str(out),
            *more,
        ]
    )


def verdicts(out: Path) -> dict[str, str]:
    """Requirement → verdict, from the matrix of conformance.md."""
    found: dict[str, str] = {}
    for line in (out / "conformance.md").read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if len(cells) == 5 and cells[0].startswith("R-"):
            found[cells[0]] = cells[2].split(" ", 1)[1].removesuffix(" (expected)")
    return found


def failing_scenarios(out: Path) -> list[dict[str, str]]:
    """The scenarios the Cucumber JSON shows failing, as deviation entries."""
    entries = []
    for feature in json.loads((out / "cucumber.json").read_text("utf-8")):
        for element in feature["elements"]:
            if any(s["result"]["status"] == "failed" for s in element["steps"]):
                entries.append(
                    {
                        "scenario": element["name"],
                        "feature": Path(feature["uri"]).name,
                        "comment": "this bank gives 60 s for the call (test)",
                    }
                )
    return entries


@pytest.fixture(scope="module")
def broken_run(
    broken: Target, broken_scenario: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    out = tmp_path_factory.mktemp("broken-run")
    with redirect_stdout(io.StringIO()) as printed:
        status = conform(broken, out, "--personas", str(broken_scenario))
    return Run(status, out, printed.getvalue())


def test_a_broken_target_fails_the_run_and_its_requirement(broken_run: Run) -> None:
    assert broken_run.status == 1
    out, printed = broken_run.out, broken_run.printed
    assert re.search(r"\[ ?1/\d+\] (passed|failed)", printed), "a progress line per scenario"
    assert "FAILED:" in printed and "R-FLOW-4" in printed

    found = verdicts(out)
    assert len(found) == len(load().items), "every requirement of REQUIREMENTS.md is listed"
    assert found["R-FLOW-4"] == "failed"
    assert found["R-FLOW-7"] == "passed"  # the rest of the flow is unaffected
    assert found["R-FLOW-8"] == "not run"  # not selected
    assert found["R-HOURS-3"] in ("not run", "not covered")
    html = (out / "conformance.html").read_text("utf-8")
    assert '<tr class="r-failed" id="R-FLOW-4">' in html
    junit = (out / "junit.xml").read_text("utf-8")
    assert re.search(r'failures="[1-9]', junit)
    assert failing_scenarios(out)


def test_a_failing_step_shows_the_request_and_the_answer(broken_run: Run) -> None:
    """The failure's detail in the report: the step's frame and the HTTP exchanges
    that led to it (screen ④ answering a 60 s deadline), not library source."""
    report = (broken_run.out / "conformance.md").read_text("utf-8")
    assert "The last HTTP exchanges, oldest first:" in report
    assert re.search(r"harness/steps/\w+\.py:\d+: in \w+", report), "the step's own frame"
    # In the sandbox the worker ran in (INTERFACE.md §9), or in the root when sequential.
    sandbox = r"(/s/[0-9a-f]{16})?"
    assert re.search(rf"GET http://127\.0\.0\.1:\d+{sandbox}/connect/call\n→ 200 OK", report)
    assert '"call_window_seconds":60' in report
    for library in ("requests/", "urllib3/", "_pytest/", "pytest_bdd/"):
        assert library not in report, f"a frame of {library} in the report"


def test_the_same_scenarios_pass_against_a_normal_target(
    normal: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    assert conform(normal, out) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-3].startswith("PASSED")
    found = verdicts(out)
    assert found["R-FLOW-4"] == "passed" and found["R-FLOW-7"] == "passed"
    assert not failing_scenarios(out)


def test_expected_deviations_pass_the_broken_target_and_are_stale_on_a_normal_one(
    broken: Target,
    broken_scenario: Path,
    broken_run: Run,
    normal: Target,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deviations = tmp_path / "deviations.json"
    entries = failing_scenarios(broken_run.out)
    deviations.write_text(json.dumps(entries, ensure_ascii=False), "utf-8")

    expected = tmp_path / "expected"
    more = ("--personas", str(broken_scenario), "--deviations", str(deviations))
    assert conform(broken, expected, *more) == 0
    assert verdicts(expected)["R-FLOW-4"] == "deviation"
    assert "deviation (expected)" in (expected / "conformance.html").read_text("utf-8")

    stale = tmp_path / "stale"
    capsys.readouterr()
    assert conform(normal, stale, "--deviations", str(deviations), "--strict") == 1
    printed = capsys.readouterr().out
    assert "stale deviation:" in printed
    assert verdicts(stale)["R-FLOW-4"] == "passed"
    assert "| stale |" in (stale / "conformance.md").read_text("utf-8")


def _same_parts(out: Path) -> tuple[Any, Any, list[str]]:
    """What a run wrote, times left out: the Cucumber JSON without durations, the
    JUnit test cases in their order with what each holds, conformance.md."""
    cucumber = json.loads((out / "cucumber.json").read_text("utf-8"))
    for feature in cucumber:
        for element in feature["elements"]:
            for step in element["steps"]:
                step["result"].pop("duration", None)
    cases = [
        (case.get("classname"), case.get("name"), [child.tag for child in case])
        for case in ET.parse(out / "junit.xml").getroot().iter("testcase")
    ]
    report = [
        line
        for line in (out / "conformance.md").read_text("utf-8").splitlines()
        if not re.match(r"- (started|pytest ran)", line)
    ]
    return cucumber, cases, report


def test_parallel_workers_write_the_reports_of_a_sequential_run(
    normal: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-n 2 on a target that serves /sandboxes (INTERFACE.md §9): each worker in a
    sandbox of its own, the files merged into what one process writes."""
    assert conform(normal, tmp_path / "one", "-n", "1") == 0
    capsys.readouterr()
    assert conform(normal, tmp_path / "two", "-n", "2") == 0
    printed = capsys.readouterr().out
    assert "6 scenarios to run on 2 workers, a sandbox each" in printed
    assert printed.count(" passed  flow.feature:") == 6
    one, two = _same_parts(tmp_path / "one"), _same_parts(tmp_path / "two")
    assert one[0] and one[1] and one[2]
    assert one == two


def test_a_target_without_sandboxes_runs_one_at_a_time_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with embedded_sandbox(extra=("--max-sandboxes", "0")) as full:
        assert conform(full, tmp_path, "-n", "2") == 0
    printed = capsys.readouterr().out
    said = [line for line in printed.splitlines() if "one at a time" in line]
    assert len(said) == 1 and "the target makes no sandbox" in said[0], printed
    assert "on 2 workers" not in printed


def test_r_plat_4_passes_on_parallel_workers_and_leaves_no_sandbox_behind(
    normal: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """features/platform.feature on -n 2: each worker's ``target`` is a sandbox of its
    own, whose token cannot create (INTERFACE.md §9), so the scenarios' sandboxes are
    made with the operator's; every one of them, and the workers', is deleted."""
    assert conform(normal, tmp_path, "-n", "2", "--tags", "@R-PLAT-4") == 0
    printed = capsys.readouterr().out
    assert "6 scenarios to run on 2 workers, a sandbox each" in printed
    assert printed.count(" passed  platform.feature:") == 6
    assert verdicts(tmp_path)["R-PLAT-4"] == "passed"
    listed = requests.get(
        normal.url + SANDBOXES_PATH,
        headers={"Authorization": f"Bearer {normal.admin_token}"},
        timeout=10,
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["sandboxes"] == []


def test_r_plat_4_fails_with_the_reason_on_a_target_that_makes_no_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each scenario fails at its first step, and the report says why under R-PLAT-4;
    the requirements that need no new sandbox still pass in the same run."""
    with embedded_sandbox(extra=("--max-sandboxes", "0")) as full:
        tags = "@R-PLAT-4 or (@flow and @R-FLOW-7)"
        assert conform(full, tmp_path, "--tags", tags) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    found = verdicts(tmp_path)
    assert (found["R-PLAT-4"], found["R-FLOW-7"]) == ("failed", "passed")
    report = (tmp_path / "conformance.md").read_text("utf-8")
    row = next(line for line in report.splitlines() if line.startswith("| R-PLAT-4 |"))
    assert row.count("❌") == 7, row  # the verdict and each of the six scenarios
    refused = "the target refused a sandbox for R-PLAT-4: POST /sandboxes answered 409"
    assert row.count(refused) == 6, row


SELF_FEATURES = {
    "conftest.py": """
import pytest
from pytest_bdd import given, then

TAGS = ("R-FLOW-1", "R-FLOW-2", "R-FLOW-3", "R-FLOW-5", "own")


def pytest_configure(config):
    for tag in TAGS:
        config.addinivalue_line("markers", f"{tag}: test")


@pytest.fixture(autouse=True)
def _broken_before_any_step(request):
    if request.node.get_closest_marker("R-FLOW-3"):
        raise ConnectionError("the target is down")


@given("何もしない")
def nothing():
    pass


@then("うまくいく")
def works():
    pass


@then("うまくいかない")
def fails():
    raise AssertionError("expected 1, got 2")


@then("足りないものがある")
def lacks(no_such_fixture):
    pass
""",
    "test_features.py": "from pytest_bdd import scenarios\n\nscenarios('.')\n",
    "own.feature": """# language: ja
@own
機能: 自前の機能

  @R-FLOW-1
  シナリオ: 通る
    前提 何もしない
    ならば うまくいく

  @R-FLOW-2
  シナリオ: 手順で落ちる
    前提 何もしない
    ならば うまくいかない

  @R-FLOW-3
  シナリオ: 手順の前に落ちる
    前提 何もしない
    ならば うまくいく

  @R-FLOW-5
  シナリオ: 手順に要るものがない
    前提 何もしない
    ならば 足りないものがある
""",
}


def test_a_scenario_failing_before_its_first_step_fails_its_requirement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = tmp_path / "features"
    features.mkdir()
    for name, text in SELF_FEATURES.items():
        (features / name).write_text(text.lstrip("\n"), "utf-8")
    out = tmp_path / "reports"
    assert main(["conform", "--features", str(features), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "手順の前に落ちる" in printed and "ConnectionError: the target is down" in printed
    assert "fixture 'no_such_fixture' not found" in printed

    cucumber = json.loads((out / "cucumber.json").read_text("utf-8"))
    in_cucumber = {e["name"] for f in cucumber for e in f["elements"]}
    assert "手順の前に落ちる" not in in_cucumber  # pytest-bdd leaves it out
    found = verdicts(out)
    assert (found["R-FLOW-1"], found["R-FLOW-2"], found["R-FLOW-3"]) == (
        "passed",
        "failed",
        "failed",
    )
    assert (found["R-FLOW-4"], found["R-FLOW-5"]) == ("not covered", "failed")
    md = (out / "conformance.md").read_text("utf-8")
    assert "failed at: ならば うまくいかない" in md


def own_features(tmp_path: Path) -> Path:
    features = tmp_path / "features"
    features.mkdir()
    for name, text in SELF_FEATURES.items():
        (features / name).write_text(text.lstrip("\n"), "utf-8")
    return features


def failing_b84(target: Target, out: Path, personas: object) -> list[Journey]:
    """A browser run (double) whose B84 journey fails; the others pass."""
    journeys = [Journey(name, reqs, checks=["shown"]) for name, reqs in JOURNEYS.items()]
    try:
        raise AssertionError("B84: B84 with its reason code")
    except AssertionError as error:
        journeys[3].fail(error)
    return journeys


def crashing(target: Target, out: Path, personas: object) -> list[Journey]:
    """A browser run (double) whose Chromium does not start."""
    raise RuntimeError("BrowserType.launch: Target page, context or browser has been closed")


@pytest.mark.parametrize(
    ("run", "failed", "why"),
    [
        (failing_b84, {"R-ERR-HOST-3", "R-ERR-HOST-4"}, "AssertionError: B84: B84 with its reason"),
        (
            crashing,
            {r for reqs in JOURNEYS.values() for r in reqs},
            "the browser run could not run: RuntimeError: BrowserType.launch",
        ),
    ],
)
def test_a_failing_browser_run_fails_its_requirements_without_a_traceback(
    run: Callable[[Target, Path, object], list[Journey]],
    failed: set[str],
    why: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--browser`` with the browser run doubled (no Chromium needed) and features
    of their own (no server): a failed journey, or a run that cannot start, fails
    the requirements it shows, in the summary, both reports and the exit status."""
    monkeypatch.setattr(conform_command, "browser_missing", lambda: None)
    # Nothing listens at the --target: the doubled run and the own features never
    # speak to it, so the probe made before any scenario is doubled too.
    monkeypatch.setattr(conform_command, "target_problem", lambda url, token: None)
    monkeypatch.setattr(browser, "browser_run", run)
    out = tmp_path / "reports"
    argv = ["conform", "--features", str(own_features(tmp_path)), "--tags", "@R-FLOW-1"]
    argv += ["--target", "http://127.0.0.1:9", "--admin-token=t", "--browser", "--out", str(out)]
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert why in printed.out
    found = verdicts(out)
    assert {r for r, v in found.items() if v == "failed"} == failed
    md = (out / "conformance.md").read_text("utf-8")
    assert "## Failures" in md and why in md
    assert "failed" in (out / "conformance.html").read_text("utf-8")
