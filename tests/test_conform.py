"""``renkei conform``'s report without running the features.

The requirement list and its packaged copy, the translation of ``--tags``, the
deviations file, how the Cucumber JSON and the plugin's record become
scenario results, every requirement of REQUIREMENTS.md in the matrix (R-… not
covered included), verdicts and exit statuses, screenshots beside their screen's
requirement (R-FLOW-1..7) and the rendering; what stops a run before any
scenario (a target that is not a URL, does not answer or refuses the token, a
broken personas file, a missing extra), the pytest child's isolation, and a
failure's detail with its HTTP exchanges. The runs against real servers are in
``test_conform_run.py``.
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import serving

from harness import conform, conform_plugin
from harness import requirements as reqmod
from harness.conform import marker_expression
from harness.driver import Platform, Sandbox, SandboxInfo
from harness.embedded import Target
from harness.render import html_report, markdown, summary
from harness.report import (
    FAILED,
    NO_RUN,
    OK,
    Deviation,
    DeviationError,
    RunInfo,
    build,
    load_deviations,
    read_results,
    screenshot_requirements,
)
from harness.requirements import Requirements, load, parse
from harness.steps.platform import World, delete_worlds, make_world
from harness.tags import feature_tags
from renkei import resources
from renkei.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "features" / "deviations.example.json"
SPEC_IDS = 44

SMALL = """\
# Title

## R-FLOW: screens

| ID | screen | what |
|---|---|---|
| R-FLOW-1 | ① (SOA201) | account |
| R-FLOW-2 | ② (SOA202) | customer |

## R-ERR: errors

| ID | message | when |
|---|---|---|
| R-ERR-HOST-2 | 本人認証情報が誤っています。 | wrong |
| R-ERR-SYS-3 | 調整のため | system error |
"""


@pytest.fixture
def small() -> Requirements:
    return parse(SMALL, "small")


def record(
    name: str,
    tags: list[str],
    outcome: str = "passed",
    *,
    selected: bool = True,
    message: str = "",
    **more: Any,
) -> dict[str, Any]:
    """An entry as harness.conform_plugin writes it."""
    return {
        "id": f"test_{name}",
        "nodeid": f"features/test_features.py::test_{name}",
        "feature": "features/x.feature",
        "scenario": name,
        "label": name,
        "example": {},
        "line": 3 if selected else None,
        "tags": tags,
        "selected": selected,
        "outcome": outcome,
        "phase": "call",
        "message": message,
        "detail": message,
        "failed_step": "",
        **more,
    }


# -- the requirement list -------------------------------------------------------------------


def test_the_packaged_copy_is_the_specification() -> None:
    """Installs without shared/ report against the same requirements."""
    if not reqmod.SPEC.exists():
        pytest.skip("shared/spec/REQUIREMENTS.md is not beside this checkout")
    from harness.requirements_md import TEXT

    assert reqmod.SPEC.read_text("utf-8") == TEXT, "run: python -m harness.requirements --write"
    assert reqmod.copy_module(TEXT) == reqmod.COPY_MODULE.read_text("utf-8")


def test_every_requirement_is_parsed_with_its_area() -> None:
    reqs = load()
    ids = reqs.ids()
    assert len(ids) == SPEC_IDS
    assert ids[0] == "R-FLOW-1" and ids[-1] == "R-PLAT-4"
    assert [a for a, _ in reqs.areas] == [
        "R-FLOW",
        "R-ACCT",
        "R-ERR",
        "R-HOURS",
        "R-AUTHZ",
        "R-PLAT",
    ]
    by_id = reqs.by_id()
    assert by_id["R-ERR-HOST-4"].area == "R-ERR"
    assert by_id["R-ERR-HOST-4"].what.endswith("理由コードはB84です。")
    assert by_id["R-FLOW-1"].what == "① ご利用口座情報入力 (SOA201)"
    assert by_id["R-ERR-SYS-3"].detail == "system error"


def test_without_the_specification_the_copy_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reqmod, "SPEC", Path("/nonexistent/REQUIREMENTS.md"))
    reqs = load()
    assert "harness/requirements_md.py" in reqs.source
    assert len(reqs.ids()) == SPEC_IDS


def test_a_requirements_file_must_have_rows_and_no_id_twice() -> None:
    with pytest.raises(ValueError, match="no requirement rows"):
        parse("# nothing\n")
    with pytest.raises(ValueError, match="R-FLOW-1"):
        parse(SMALL + "| R-FLOW-1 | again | x |\n")


# -- --tags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expression"),
    [
        ("@R-FLOW-7", "R-FLOW-7"),
        ("@R-FLOW-7 and not @slow", "R-FLOW-7 and not slow"),
        (
            "(@R-ERR-SYS-1 or @R-ERR-SYS-2) and not @hours",
            "(R-ERR-SYS-1 or R-ERR-SYS-2) and not hours",
        ),
        ("not(@call)", "not(call)"),
        ("flow", "flow"),
    ],
)
def test_gherkin_tag_expressions_become_marker_expressions(tags: str, expression: str) -> None:
    assert marker_expression(tags) == expression


@pytest.mark.parametrize("tags", ["", "  ", "@", "@@x", "a @ b"])
def test_a_broken_tag_expression_is_refused(tags: str) -> None:
    with pytest.raises(ValueError):
        marker_expression(tags)


def test_a_tag_no_feature_has_is_refused() -> None:
    known = {"flow", "R-FLOW-7"}
    assert marker_expression("@R-FLOW-7 and not @flow", known) == "R-FLOW-7 and not flow"
    with pytest.raises(ValueError, match="@R-FLOW-99"):
        marker_expression("@R-FLOW-7 or (@R-FLOW-99)", known)


# -- the deviations file --------------------------------------------------------------------


def test_the_documented_example_file_loads() -> None:
    deviations = load_deviations(EXAMPLE, load())
    assert [d.requirement for d in deviations] == ["R-FLOW-4", "R-FLOW-8"]
    assert deviations[0].feature == "call.feature"
    assert deviations[1].example == {"いる画面": "SOA211", "開く画面": "SOA202"}
    assert all(d.expected == "failed" and d.comment for d in deviations)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "not JSON"),
        ('{"scenario": "x"}', "JSON list"),
        ("[1]", "expected an object"),
        ('[{"scenario": "x"}]', "'comment' must be a non-empty string"),
        ('[{"scenario": "", "comment": "c"}]', "'scenario' must be a non-empty string"),
        ('[{"scenario": "x", "comment": "c", "why": 1}]', "unknown field"),
        ('[{"scenario": "x", "comment": "c", "requirement": "R-FLOW-99"}]', "R-FLOW-99"),
        ('[{"scenario": "x", "comment": "c", "expected": "passed"}]', "can only be"),
        ('[{"scenario": "x", "comment": "c", "example": ["a"]}]', "'example'"),
        ('[{"scenario": "x", "comment": "c", "feature": 3}]', "'feature' must be a string"),
    ],
)
def test_a_malformed_deviations_file_is_refused(
    tmp_path: Path, small: Requirements, content: str, problem: str
) -> None:
    path = tmp_path / "deviations.json"
    path.write_text(content, "utf-8")
    with pytest.raises(DeviationError, match=re.escape(problem)):
        load_deviations(path, small)


def test_a_missing_deviations_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeviationError, match=r"missing\.json"):
        load_deviations(tmp_path / "missing.json")


# -- reading the run ------------------------------------------------------------------------

CUCUMBER = [
    {
        "uri": "features/x.feature",
        "name": "機能X",
        "tags": [{"name": "x", "line": 1}],
        "elements": [
            {
                "id": "test_ok",
                "name": "ok",
                "line": 7,
                "tags": [{"name": "R-FLOW-1", "line": 6}],
                "steps": [
                    {"keyword": "前提", "name": "a", "result": {"status": "passed"}},
                ],
            },
            {
                "id": "test_bad",
                "name": "bad",
                "line": 12,
                "tags": [{"name": "R-ERR-HOST-2", "line": 11}],
                "steps": [
                    {"keyword": "前提", "name": "a", "result": {"status": "passed"}},
                    {
                        "keyword": "ならば",
                        "name": "本人認証情報が誤っています。と表示される",
                        "result": {"status": "failed", "error_message": "E   AssertionError: text"},
                    },
                ],
            },
        ],
    }
]


def test_a_cucumber_json_alone_is_read_from_its_steps() -> None:
    ok, bad = read_results(CUCUMBER)
    assert (ok.outcome, ok.tags, ok.line, ok.feature_name) == (
        "passed",
        ("R-FLOW-1", "x"),
        7,
        "機能X",
    )
    assert bad.outcome == "failed"
    assert bad.failed_step == "ならば 本人認証情報が誤っています。と表示される"
    assert bad.message == "E   AssertionError: text"
    assert [s.status for s in bad.steps] == ["passed", "failed"]


def test_the_record_decides_and_adds_what_the_cucumber_json_leaves_out() -> None:
    """A setup error never reaches Cucumber JSON: the record keeps it failed, not uncovered."""
    rec = [
        record("ok", ["R-FLOW-1", "x"]),
        record("bad", ["R-ERR-HOST-2", "x"], "failed", message="AssertionError: text", line=None),
        record("setup", ["R-ERR-SYS-3"], "failed", message="ConnectionError", phase="setup"),
        record("skipped", ["R-FLOW-2"], "skipped"),
        record("deselected", ["R-FLOW-2"], "not run", selected=False),
    ]
    results = {s.id: s for s in read_results(CUCUMBER, rec)}
    assert set(results) == {"test_ok", "test_bad", "test_setup", "test_skipped", "test_deselected"}
    assert len(results["test_bad"].steps) == 2 and results["test_bad"].line == 12
    assert results["test_setup"].verdict == "failed" and not results["test_setup"].steps
    assert results["test_skipped"].verdict == "not run"
    assert results["test_deselected"].verdict == "not run"


# -- the matrix, verdicts and exit statuses -------------------------------------------------


def test_every_requirement_has_a_row_even_with_no_scenario() -> None:
    reqs = load()
    report = build(reqs, read_results(CUCUMBER))
    assert [r.id for r in report.rows] == reqs.ids()
    verdicts = {r.id: r.verdict for r in report.rows}
    assert verdicts["R-FLOW-1"] == "passed"
    assert verdicts["R-ERR-HOST-2"] == "failed"
    assert verdicts["R-HOURS-3"] == "not covered"
    md = markdown(report)
    html = html_report(report)
    for rid in reqs.ids():
        assert f"| {rid} |" in md
        assert f'id="{rid}"' in html
    assert md.count("⬜ not covered") == SPEC_IDS - 2


def test_the_strongest_verdict_of_a_requirements_scenarios_wins(small: Requirements) -> None:
    rec = [
        record("a", ["R-FLOW-1"]),
        record("b", ["R-FLOW-1"], "failed"),
        record("c", ["R-FLOW-2"]),
        record("d", ["R-FLOW-2"], "not run", selected=False),
        record("e", ["R-ERR-HOST-2"], "skipped"),
    ]
    report = build(small, read_results([], rec))
    assert [r.verdict for r in report.rows] == ["failed", "passed", "not run", "not covered"]
    totals = report.area_summary()
    assert [t["area"] for t in totals] == ["R-FLOW", "R-ERR", "total"]
    assert totals[-1] == {
        "area": "total",
        "requirements": 4,
        "covered": 3,
        "passed": 1,
        "deviation": 0,
        "failed": 1,
        "not run": 1,
        "not covered": 1,
    }
    assert report.exit_status() == FAILED
    assert report.verdict_line().startswith("FAILED: 1 requirement(s) failed: R-FLOW-1")


def test_not_covered_fails_the_run_only_with_strict(small: Requirements) -> None:
    report = build(small, read_results([], [record("a", ["R-FLOW-1"])]))
    assert report.exit_status() == OK
    assert report.exit_status(strict=True) == FAILED
    assert report.verdict_line() == "PASSED (3 not covered)"


def test_a_run_with_no_scenario_is_no_run(small: Requirements) -> None:
    report = build(small, read_results([], [record("a", ["R-FLOW-1"], "not run", selected=False)]))
    assert report.exit_status() == NO_RUN
    assert report.verdict_line() == "NOT RUN: no scenario ran"


def test_an_expected_failure_is_a_deviation_and_does_not_fail(small: Requirements) -> None:
    rec = [
        record("slow call", ["R-FLOW-1"], "failed", message="AssertionError: 90 s"),
        record("other", ["R-FLOW-2"], "failed", message="AssertionError"),
    ]
    deviation = Deviation("slow call", "vendor gives 90 s", requirement="R-FLOW-1")
    report = build(small, read_results([], rec), [deviation])
    rows = {r.id: r for r in report.rows}
    assert rows["R-FLOW-1"].verdict == "deviation"
    assert rows["R-FLOW-2"].verdict == "failed"  # a failure with no entry still fails
    assert report.exit_status() == FAILED
    assert report.deviations[0].state == "expected"
    md = markdown(report)
    assert "⚠️ deviation (expected)" in md and "vendor gives 90 s" in md

    only_expected = build(small, read_results([], rec[:1]), [deviation])
    assert only_expected.exit_status() == OK
    assert only_expected.verdict_line() == "PASSED (1 with expected deviations; 3 not covered)"


def test_a_deviation_must_match_name_requirement_feature_and_example(small: Requirements) -> None:
    rec = [
        record("row", ["R-FLOW-1"], "failed", example={"画面": "SOA201"}),
        record("row", ["R-FLOW-1"], "failed", example={"画面": "SOA202"}),
    ]
    rec[1]["id"] = "test_row_2"
    deviations = [
        Deviation("row", "one row", example={"画面": "SOA202"}),
        Deviation("row", "wrong requirement", requirement="R-FLOW-2"),
        Deviation("row", "wrong feature", feature="y.feature"),
    ]
    report = build(small, read_results([], rec), deviations)
    assert [s.verdict for s in report.scenarios] == ["failed", "deviation"]
    assert [u.state for u in report.deviations] == ["expected", "unknown", "unknown"]
    matching = Deviation("row", "by file", feature="x.feature")
    assert matching.matches(report.scenarios[0])


def test_stale_and_unknown_deviation_entries_are_reported(small: Requirements) -> None:
    rec = [record("fixed", ["R-FLOW-1"]), record("later", ["R-FLOW-2"], "not run", selected=False)]
    deviations = [
        Deviation("fixed", "was broken"),
        Deviation("later", "not selected"),
        Deviation("renamed", "gone"),
    ]
    report = build(small, read_results([], rec), deviations)
    assert [u.state for u in report.deviations] == ["stale", "not run", "unknown"]
    assert report.exit_status() == OK
    assert report.exit_status(strict=True) == FAILED
    text = summary(report)
    assert "stale deviation: fixed passed" in text
    assert "deviation entry names no scenario: renamed" in text


def test_tags_that_name_no_requirement_are_listed(small: Requirements) -> None:
    report = build(small, read_results([], [record("typo", ["R-FLOW-10", "flow"])]))
    assert list(report.unknown_tags) == ["R-FLOW-10"]
    assert "@R-FLOW-10 is not a requirement" in summary(report)
    assert "`@R-FLOW-10`" in markdown(report)


# -- screenshots ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "requirements"),
    [
        ("SOA201.png", ["R-FLOW-1"]),
        ("SOA201-required.png", ["R-FLOW-1", "R-ERR-INPUT-1"]),
        ("SOA202-identity_mismatch.png", ["R-FLOW-2", "R-ERR-HOST-2"]),
        ("SOA208.png", ["R-FLOW-3"]),
        ("SOA209.png", ["R-FLOW-4"]),
        ("SOA211.png", ["R-FLOW-5"]),
        ("SOA206.png", ["R-FLOW-6"]),
        ("cancelled.png", ["R-FLOW-7"]),
        ("cancel.png", ["R-FLOW-7"]),
        ("B84.png", ["R-ERR-HOST-4"]),
        ("locked_now.png", ["R-ERR-HOST-3"]),
        ("R-ACCT-5.png", ["R-ACCT-5"]),
        ("home.png", []),
    ],
)
def test_a_screenshot_stands_beside_its_screens_requirement(
    name: str, requirements: list[str]
) -> None:
    assert screenshot_requirements(name) == requirements


def test_the_html_report_shows_screenshots_beside_their_requirement(tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for name in ("SOA201.png", "SOA209.png", "cancelled.png", "home.png"):
        (shots / name).write_bytes(b"\x89PNG")
    report = build(load(), read_results(CUCUMBER), screenshots=shots)
    rows = {r.id: r for r in report.rows}
    assert rows["R-FLOW-1"].screenshots == ["screenshots/SOA201.png"]
    assert rows["R-FLOW-4"].screenshots == ["screenshots/SOA209.png"]
    assert rows["R-FLOW-7"].screenshots == ["screenshots/cancelled.png"]
    assert report.other_screenshots == ["screenshots/home.png"]
    html = html_report(report)
    row = re.search(r'<tr class="[^"]*" id="R-FLOW-1">.*?</tr>', html)
    assert row is not None and 'src="screenshots/SOA201.png"' in row.group(0)
    assert "[SOA209.png](screenshots/SOA209.png)" in markdown(report)


def test_names_are_escaped_in_html_and_markdown(small: Requirements) -> None:
    rec = [record("<script>x</script> | a", ["R-FLOW-1"], "failed", message="<b>")]
    report = build(small, read_results([], rec), run=RunInfo(target="http://x/?a=<1>"))
    html = html_report(report)
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "&lt;b&gt;" in html and "?a=&lt;1&gt;" in html
    assert "\\| a" in markdown(report)


# -- the command ----------------------------------------------------------------------------


def test_conform_is_a_renkei_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--help"]) == 0
    out = capsys.readouterr().out
    for option in (
        "--target",
        "--admin-token",
        "--tags",
        "--deviations",
        "--out",
        "--strict",
        "--browser",
    ):
        assert option in out


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--target", "http://127.0.0.1:9"], "--target needs --admin-token"),
        (["--tags", "@"], "not a tag expression"),
        (["--tags", "@R-FLOW-99 or @flow"], "no feature has the tag(s) @R-FLOW-99"),
        (["--deviations", "missing.json"], "missing.json"),
        (["--features", "."], "no feature files"),
    ],
)
def test_bad_options_stop_before_running(
    argv: list[str],
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RENKEI_ADMIN_TOKEN", raising=False)
    assert main(["conform", "--out", str(tmp_path / "out"), *argv]) == NO_RUN
    assert problem in capsys.readouterr().err
    assert not (tmp_path / "out" / "pytest.log").exists()


def test_browser_without_chromium_stops_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--browser`` on a machine without Debian's chromium: exit 2, saying what to
    install, before any feature runs."""
    from harness import browser

    missing = tmp_path / "no-chromium"
    monkeypatch.setattr(browser, "CHROMIUM", str(missing))
    assert main(["conform", "--browser", "--out", str(tmp_path / "out")]) == NO_RUN
    err = capsys.readouterr().err
    assert f"--browser needs Debian's chromium at {missing}" in err
    assert "apt-get install chromium" in err
    assert not (tmp_path / "out" / "pytest.log").exists()


def test_the_record_matches_what_the_report_reads() -> None:
    """The fields harness.conform_plugin writes are those read_results reads."""
    plugin = (ROOT / "harness" / "conform_plugin.py").read_text("utf-8")
    for key in record("x", []):
        assert f'"{key}"' in plugin, key
    json.dumps(record("x", []))  # plain JSON


# -- what cannot be tested stops before any scenario: one line, exit 2 ---------------------


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A target that answers every request 401, as to a wrong admin token."""

    def do_GET(self) -> None:
        body = b'{"error": "unauthorized"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing() -> Iterator[str]:
    with serving(_Refusing) as url:
        yield url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line_before_running(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    out = tmp_path / "out"
    assert main(["conform", "--out", str(out), *argv]) == NO_RUN
    captured = capsys.readouterr()
    assert captured.out == "", "nothing ran"
    assert captured.err.count("\n") == 1 and captured.err.startswith("renkei conform: ")
    assert not out.exists()
    return captured.err.removeprefix("renkei conform: ").rstrip("\n")


def test_a_target_that_does_not_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    argv = ["--target", url, "--admin-token", "t"]
    assert _one_line_before_running(argv, tmp_path, capsys) == (
        f"cannot reach --target {url}: Connection refused"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not-a-url", "--target 'not-a-url' is not an http:// or https:// URL"),
        ("ftp://bank.example/", "--target 'ftp://bank.example/' is not an http:// or https:// URL"),
        ("http://", "--target 'http://' is not an http:// or https:// URL"),
        ("http://127.0.0.1:x", "--target 'http://127.0.0.1:x' is not a URL ("),
        ("http://bank.example/?a=1", "a base URL has no query or fragment"),
    ],
)
def test_a_target_that_is_not_a_url(
    url: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert problem in _one_line_before_running(
        ["--target", url, "--admin-token", "t"], tmp_path, capsys
    )


def test_a_target_that_refuses_the_admin_token(
    refusing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_line_before_running(["--target", refusing, "--admin-token", "t"], tmp_path, capsys)
    assert line == (
        f"--target {refusing} refused the admin token (GET /sandbox/clock answered 401); "
        "give its token with --admin-token or RENKEI_ADMIN_TOKEN"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "No such file or directory"),
        ("personas: [\n  {id: x\n", "not YAML ("),
        ("bank: {}\n", "no personas list"),
        ("personas:\n  - id: x\n", "personas[0]: no accounts"),
        ("personas:\n  - just a string\n", "personas[0]: not a persona"),
    ],
    ids=["missing", "not YAML", "no personas", "no accounts", "not a mapping"],
)
def test_a_personas_file_that_cannot_be_read(
    text: str | None, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "personas.yaml"
    if text is not None:
        path.write_text(text, "utf-8")
    line = _one_line_before_running(["--personas", str(path)], tmp_path, capsys)
    assert line.startswith(f"--personas {path}: ") and problem in line, line


def test_browser_without_the_browser_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def without_playwright(name: str, *more: Any) -> Any:
        return None if name == "playwright" else real(name, *more)

    monkeypatch.setattr(importlib.util, "find_spec", without_playwright)
    assert _one_line_before_running(["--browser"], tmp_path, capsys) == (
        "--browser needs the browser extra: pip install 'renkei[browser]'"
    )


def test_the_pytest_child_writes_nothing_outside_out(tmp_path: Path) -> None:
    """Its own empty configuration, the features' parent as rootdir (a feature is
    ``features/<file>`` wherever renkei is installed), no cache, no bytecode, no
    Locust plugin."""
    args = argparse.Namespace(features=str(resources.features()), personas=None)
    ini = tmp_path / "pytest.ini"
    cmd = conform.pytest_command(args, tmp_path, tmp_path / "record.json", None, ini)
    assert cmd[cmd.index("-c") + 1] == str(ini)
    assert f"--rootdir={resources.features().parent}" in cmd
    for plugin in ("no:cacheprovider", "no:locust"):
        assert cmd[cmd.index(plugin) - 1] == "-p"
    assert conform._env(None)["PYTHONDONTWRITEBYTECODE"] == "1"
    assert conform.PYTEST_INI.strip() == "[pytest]"


# -- a failure's detail: the harness's frames and the last HTTP exchanges ------------------


def _fails_over_http(url: str) -> None:
    import requests

    requests.get(url + "/sandbox/clock", timeout=5)
    requests.get(url + "/nowhere", timeout=5)
    requests.get(f"http://127.0.0.1:{_closed_port()}/", timeout=5)


def test_a_failure_shows_the_exchanges_not_the_http_librarys_source(
    refusing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This file stands for the harness: its frames are the ones kept.
    monkeypatch.setattr(conform_plugin, "HARNESS", Path(__file__).resolve().parent)
    exchanges = conform_plugin.Exchanges(kept=2)
    exchanges.install()
    try:
        with pytest.raises(Exception) as caught:
            _fails_over_http(refusing)
    finally:
        exchanges.uninstall()
    detail = conform_plugin.failure_detail(caught, exchanges.shown())
    assert "in _fails_over_http" in detail  # the frame of "the harness"
    trace, _, shown = detail.partition("The last HTTP exchanges, oldest first:\n")
    for library in ("requests", "urllib3"):
        assert f"{library}/" not in trace, f"no frame of {library}"
    assert "During handling" not in detail, "no chained exceptions"
    assert "Connection refused" in trace  # the exception itself is shown
    first, second = shown.split("\n\n")
    assert first.splitlines() == [
        f"GET {refusing}/nowhere",
        "→ 401 Unauthorized (application/json)",
        '  {"error": "unauthorized"}',
    ]
    assert second.startswith("GET http://127.0.0.1:") and "→ no answer: ConnectionError" in second
    assert f"{refusing}/sandbox/clock" not in shown, "only the last two are kept"


def test_the_exchanges_are_watched_only_while_installed(refusing: str) -> None:
    import requests

    exchanges = conform_plugin.Exchanges()
    exchanges.install()
    requests.get(refusing, timeout=5)
    exchanges.uninstall()
    requests.get(refusing, timeout=5)
    assert len(exchanges.shown()) == 1


# -- R-PLAT-4's sandboxes: a target without §9, and every sandbox deleted -------------------


class _PlatformStub(http.server.ThreadingHTTPServer):
    """A target's ``/sandboxes`` (INTERFACE.md §9): ``create`` is the status of every
    POST; a DELETE is 204 unless its id is ``broken``; ``calls`` what was asked."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Platform)
        self.calls: list[str] = []
        self.create = 404
        self.broken = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Platform(http.server.BaseHTTPRequestHandler):
    server: _PlatformStub

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.server.calls.append(f"{self.command} {self.path}")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(self.server.create, b'{"errorCode": "sandbox_limit", "errorMessage": "full"}')

    def do_DELETE(self) -> None:
        broken = bool(self.server.broken) and self.path.endswith("/" + self.server.broken)
        self._answer(500 if broken else 204, b'{"errorCode": "x"}' if broken else b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def platform_stub() -> Iterator[_PlatformStub]:
    server = _PlatformStub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "start"),
    [
        (404, "the target does not conform to R-PLAT-4: it serves no sandboxes (INTERFACE.md §9)"),
        (405, "the target does not conform to R-PLAT-4: it serves no sandboxes (INTERFACE.md §9)"),
        (409, "the target refused a sandbox for R-PLAT-4: POST /sandboxes answered 409"),
    ],
)
def test_a_target_without_sandboxes_fails_r_plat_4_with_the_reason(
    platform_stub: _PlatformStub, status: int, start: str
) -> None:
    """The first step of every scenario of features/platform.feature: a failed
    assertion saying why, which the report shows under R-PLAT-4, not an error."""
    platform_stub.create = status
    made: dict[str, World] = {}
    with pytest.raises(AssertionError) as failed:
        make_world(Platform(platform_stub.url, "operator"), None, made, "A")
    assert str(failed.value).startswith(start), failed.value
    assert f"answered {status}" in str(failed.value) or f"({status})" in str(failed.value)
    assert made == {}, "nothing was made, so nothing is left to delete"
    assert platform_stub.calls == ["POST /sandboxes"]


def test_every_sandbox_a_scenario_made_is_deleted_even_when_one_delete_fails(
    platform_stub: _PlatformStub,
) -> None:
    def world(name: str, sandbox_id: str, *, deleted: bool = False) -> World:
        info = SandboxInfo(sandbox_id, f"http://x/s/{sandbox_id}", "", "t", "s", "", "default")
        return World(
            name, info, Target(info.base_url, "t"), Sandbox(info.base_url, "t"), [], deleted
        )

    platform_stub.broken = "b" * 16
    made = {
        "A": world("A", "a" * 16),
        "B": world("B", "b" * 16),
        "C": world("C", "c" * 16),
        "gone": world("gone", "d" * 16, deleted=True),
    }
    problems = delete_worlds(Platform(platform_stub.url, "operator"), made)
    assert platform_stub.calls == [
        f"DELETE /sandboxes/{'a' * 16}",
        f"DELETE /sandboxes/{'b' * 16}",
        f"DELETE /sandboxes/{'c' * 16}",
    ]
    assert len(problems) == 1 and problems[0].startswith(f"sandbox 'B' ({'b' * 16}): DELETE")
    assert [w.deleted for w in made.values()] == [True, False, True, True]


def test_every_requirement_is_tagged_in_the_features() -> None:
    """Every requirement has a scenario of the shipped features, the platform's among
    them (R-PLAT-1..3: features/pages.feature and features/banks.feature; R-PLAT-4:
    features/platform.feature)."""
    untagged = [rid for rid in load().ids() if rid not in feature_tags()]
    assert untagged == []
