"""``renkei replay`` against a live server on loopback.

The twin's trace of the short, busy test profile is played against a real
``renkei serve`` process started on the same scenario; the server's answers
must equal the twin's for every code, step by step. A doctored trace must make
the command fail, and a bad trace file must be a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.embedded import Target, embedded_sandbox
from harness.replay import Replayer, Result, verdict
from renkei.cli import main
from renkei.contract import trace
from renkei.contract.trace import Step, Trace
from simulator.scenario import load_scenario
from simulator.twin.command import trace_header
from simulator.twin.journey import run
from simulator.twin.model import Twin
from simulator.twin.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def server() -> Iterator[Target]:
    with embedded_sandbox(("--scenario", str(DATA / "twin.yaml"))) as target:
        yield target


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    twin = Twin(
        load_scenario(DATA / "twin.yaml"),
        load_profile(DATA / "twin-profile.yaml"),
        seed=1,
        trace=True,
    )
    run(twin)
    path = tmp_path_factory.mktemp("replay") / "trace.jsonl"
    trace.write(path, trace_header(twin), twin.steps or [])
    return path


def test_the_server_answers_as_the_twin_predicted(server: Target, trace_file: Path) -> None:
    recorded = trace.read(trace_file)
    result = Replayer(recorded, server.url, server.admin_token).run()
    assert result.complete and result.sent == len(recorded.steps)
    assert result.mismatches == []
    assert result.observed == result.predicted
    # The trace is worth replaying: the host's answers of every kind are in it.
    for code in ("congested", "out_of_hours", "identity_mismatch", "locked_now", "B84"):
        assert result.observed[code] > 0, code
    assert result.observed["granted"] > 0 and result.observed["call_expired"] > 0


def test_a_difference_fails_the_command(
    server: Target, trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trace whose prediction is wrong for one step: exit 1, the step is shown."""
    lines = trace_file.read_text(encoding="utf-8").splitlines()
    steps = [json.loads(line) for line in lines[1:]]
    doctored = next(i for i, s in enumerate(steps) if s["out"] == "identity_mismatch")
    steps[doctored]["out"] = "SOA208"
    steps = steps[: doctored + 1]
    path = tmp_path / "doctored.jsonl"
    path.write_text(
        "\n".join([lines[0], *(json.dumps(s, ensure_ascii=False) for s in steps)]) + "\n",
        encoding="utf-8",
    )
    argv = ["replay", str(path), "--target", server.url, "--admin-token", server.admin_token]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "first steps that differ" in captured.out
    assert "identity_mismatch" in captured.err and "SOA208" in captured.err
    # The output ends with the verdict, naming the step (a 「次へ」 of ②).
    assert captured.out.splitlines()[-1] == (
        f"renkei replay: disagrees on 1 of {len(steps)} steps "
        f"(first: journey {steps[doctored]['j']}, SOA202: twin SOA208, live identity_mismatch)"
    )


def test_an_agreeing_replay_ends_with_its_verdict(
    server: Target, trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = len(trace.read(trace_file).steps)
    argv = ["replay", str(trace_file), "--target", server.url, "--admin-token", server.admin_token]
    assert main([*argv, "--max-steps", "40"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"renkei replay: agrees with the twin on 40 of 40 steps sent; "
        f"stopped early, the trace has {total:,}"
    )


def _step(journey: int, do: str, out: str) -> Step:
    return Step("2026-12-07T09:00:00+09:00", journey, do, {}, out)


def _result(*pairs: tuple[Step, str], complete: bool = True) -> Result:
    result = Result(complete=complete)
    for step, got in pairs:
        result.predicted[step.out] += 1
        result.observed[got] += 1
        if got != step.out:
            result.mismatches.append((step, got))
        result.sent += 1
    return result


def test_the_verdict_and_the_exit_status_say_the_same() -> None:
    a, b = _step(1, "customer", "SOA208"), _step(2, "customer", "identity_mismatch")
    same = _result((a, "SOA208"), (b, "identity_mismatch"))
    whole = Trace({}, [a, b])
    assert verdict(whole, same) == ("renkei replay: agrees with the twin on 2 of 2 steps", 0)
    # Two steps swapped: the counts are equal, the steps are not; with no tolerance
    # that is a disagreement.
    swapped = _result((a, "identity_mismatch"), (b, "SOA208"))
    assert swapped.observed == swapped.predicted
    assert verdict(whole, swapped) == (
        "renkei replay: disagrees on 2 of 2 steps "
        "(first: journey 1, SOA202: twin SOA208, live identity_mismatch)",
        1,
    )
    # Within a tolerance the counts agree; the line still says where a step differed.
    line, status = verdict(whole, swapped, tolerance=0.5)
    assert status == 0 and line.startswith("renkei replay: agrees with the twin within")
    assert "first difference: journey 1, SOA202" in line
    # Beyond it, they do not.
    beyond = _result((a, "SOA208"), (b, "SOA208"))
    line, status = verdict(whole, beyond, tolerance=0.5)
    assert status == 1 and "disagrees on 1 of 2 steps" in line
    # An action before any screen is named by itself.
    refused = _result((_step(3, "authorize", "SOA201"), "congested"), complete=False)
    assert verdict(Trace({}, [a, b, a]), refused) == (
        "renkei replay: disagrees on 1 of 1 steps sent "
        "(first: journey 3, authorize: twin SOA201, live congested); "
        "stopped early, the trace has 3",
        1,
    )


def test_max_steps_bounds_a_replay(server: Target, trace_file: Path) -> None:
    recorded = trace.read(trace_file)
    result = Replayer(recorded, server.url, server.admin_token, max_steps=25).run()
    assert result.sent == 25 and not result.complete
    assert result.observed == result.predicted


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty, not a renkei trace"),
        ('{"kind": "other"}\n', "not a renkei trace"),
        ('{"kind": "renkei-trace", "version": 9}\n', "trace version 9"),
        ('{"kind": "renkei-trace", "version": 1}\nnot json\n', ":2: not JSON"),
        (
            '{"kind": "renkei-trace", "version": 1}\n'
            '{"t": "x", "j": 1, "do": "fly", "in": {}, "out": ""}\n',
            "'do' must be one of",
        ),
    ],
)
def test_a_bad_trace_is_a_clear_error(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    argv = ["replay", str(path), "--target", "http://127.0.0.1:9", "--admin-token", "x"]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_target_is_a_clear_error(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    argv = ["replay", str(trace_file), "--target", "http://127.0.0.1:9", "--admin-token", "x"]
    assert main(argv) == 2
    assert "cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_a_wrong_admin_token_is_a_clear_error(
    server: Target, trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(trace_file), "--target", server.url, "--admin-token", "wrong"]
    assert main(argv) == 2
    assert "POST /sandbox/reset: 401" in capsys.readouterr().err
