"""``renkei replay`` against a live server on loopback.

The twin's trace of the short, busy test profile is played against a real
``renkei serve`` process started on the same scenario; the server's answers
must equal the twin's for every code, step by step. A doctored trace must make
the command fail, and a bad trace file must be a clear error. The command plays
in a sandbox of its own (INTERFACE.md §9), made from the trace's scenario and
deleted at the end, and leaves the root's clock alone; ``--root`` plays on the
root, which a server without §9 needs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from servers import bank_without_sandboxes

from harness import replay_plot
from harness.driver import Platform
from harness.embedded import Target, embedded_sandbox
from harness.replay import Replayer, ReplayError, Result, trace_scenario, verdict
from renkei.cli import main
from renkei.contract import trace
from renkei.contract.trace import ACTIONS, Step, Trace
from simulator.scenario import load_platform, load_scenario
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
    """The whole trace, in a sandbox of the server (INTERFACE.md §9) made from the
    trace's scenario, as ``renkei replay`` plays it: its clock, its congestion."""
    recorded = trace.read(trace_file)
    platform = Platform(server.url, server.admin_token)
    made = platform.create(yaml=(DATA / "twin.yaml").read_text("utf-8"), label="replay test")
    try:
        result = Replayer(
            recorded, made.base_url, made.admin_token, telephony_secret=made.telephony_secret
        ).run()
    finally:
        assert platform.delete(made.id)
    assert result.complete and result.sent == len(recorded.steps)
    assert result.mismatches == []
    assert result.observed == result.predicted
    # The trace is worth replaying: the host's answers of every kind are in it.
    for code in (
        "congested",
        "out_of_hours",
        "identity_mismatch",
        "locked_now",
        "B84",
        "flow_lost",
    ):
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


def _controls(target: Target) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.admin_token}"}


def _sandboxes(target: Target) -> list[dict[str, Any]]:
    r = requests.get(target.url + "/sandboxes", headers=_controls(target), timeout=10)
    r.raise_for_status()
    found: list[dict[str, Any]] = r.json()["sandboxes"]
    return found


def _root_frozen(target: Target) -> bool:
    r = requests.get(target.url + "/sandbox/clock", headers=_controls(target), timeout=10)
    r.raise_for_status()
    return bool(r.json()["frozen"])


SANDBOX_LINE = re.compile(
    r"renkei replay: in sandbox ([0-9a-f]{16}) of its own, (\S+) \(scenario (\S+), "
    r"admin token (\S+)\), (deleted|kept) at the end"
)


def test_an_agreeing_replay_ends_with_its_verdict(
    server: Target, trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a sandbox of its own: said first, deleted at the end, the root's clock
    never steered (it runs before and after)."""
    total = len(trace.read(trace_file).steps)
    requests.delete(server.url + "/sandbox/clock", headers=_controls(server), timeout=10)
    assert not _root_frozen(server)
    argv = ["replay", str(trace_file), "--target", server.url, "--admin-token", server.admin_token]
    assert main([*argv, "--max-steps", "40"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        f"renkei replay: agrees with the twin on 40 of 40 steps sent; "
        f"stopped early, the trace has {total:,}"
    )
    said = SANDBOX_LINE.fullmatch(lines[0])
    assert said, lines[0]
    sandbox_id, base, scenario, _, fate = said.groups()
    assert base == f"{server.url}/s/{sandbox_id}" and fate == "deleted"
    assert scenario == trace.read(trace_file).header["scenario"]
    assert any(line.endswith(f"against {base}") for line in lines), lines[:3]
    assert _sandboxes(server) == [] and not _root_frozen(server)


def test_root_plays_on_the_root_and_keep_sandbox_keeps_it(
    server: Target, trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(trace_file), "--target", server.url, "--admin-token", server.admin_token]
    assert main([*argv, "--max-steps", "10", "--root"]) == 0
    out = capsys.readouterr().out
    assert "in sandbox" not in out and f"against {server.url}\n" in out
    assert _root_frozen(server) and _sandboxes(server) == []
    assert main([*argv, "--max-steps", "10", "--keep-sandbox"]) == 0
    said = SANDBOX_LINE.fullmatch(capsys.readouterr().out.splitlines()[0])
    assert said and said.group(5) == "kept"
    (kept,) = _sandboxes(server)
    assert kept["id"] == said.group(1) and kept["scenario"] == "inline"
    assert Platform(server.url, server.admin_token).delete(kept["id"]) is True
    assert main([*argv, "--root", "--keep-sandbox"]) == 2
    assert capsys.readouterr().err == (
        "renkei replay: --keep-sandbox is for a sandbox of its own; --root makes none\n"
    )


def test_a_target_without_sandboxes_is_one_line_unless_root(
    trace_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with bank_without_sandboxes() as url:
        argv = ["replay", str(trace_file), "--target", url, "--admin-token", "t"]
        assert main(argv) == 2
        assert capsys.readouterr().err == (
            f"renkei replay: {url} does not serve POST /sandboxes (INTERFACE.md §9); add "
            "--root to replay on its root sandbox, whose clock the replay steers\n"
        )
        assert main([*argv, "--root"]) == 2  # on the root, which has no controls here
        assert "POST /sandbox/reset: 404" in capsys.readouterr().err


def test_the_sandbox_is_made_from_the_scenario_the_trace_names(tmp_path: Path) -> None:
    """A shipped scenario goes by its name, any other file inline; --scenario first."""
    shipped = Trace({"scenario": "scenarios/load.yaml"}, [])
    assert trace_scenario(shipped) == ("load", None, "scenarios/load.yaml")
    assert trace_scenario(shipped, "default") == ("default", None, "default")
    own = tmp_path / "own.yaml"
    own.write_text("bank: {}\n", encoding="utf-8")
    assert trace_scenario(Trace({"scenario": str(own)}, [])) == (None, "bank: {}\n", str(own))
    with pytest.raises(ReplayError, match=r"gone.yaml: No such file.*--scenario FILE, or --root"):
        trace_scenario(Trace({"scenario": str(tmp_path / "gone.yaml")}, []))
    with pytest.raises(ReplayError, match="names no scenario"):
        trace_scenario(Trace({}, []))
    with pytest.raises(ReplayError, match="--scenario nothing: no such file, nor a shipped"):
        trace_scenario(shipped, "nothing")


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
    err = capsys.readouterr().err
    assert err.startswith("renkei replay: the target made no sandbox: POST /sandboxes answered 401")
    assert err.count("\n") == 1
    assert main([*argv, "--root"]) == 2
    assert "POST /sandbox/reset: 401" in capsys.readouterr().err


# -- a platform of several credit unions (INTERFACE.md §10) -------------------------------------

PLATFORM = DATA / "twin-platform.yaml"


@pytest.fixture(scope="module")
def platform_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The short platform day: three banks on 6 shared slots (tests/data/twin-platform*)."""
    twin = Twin(
        load_platform(PLATFORM), load_profile(DATA / "twin-platform-profile.yaml"), 1, trace=True
    )
    run(twin)
    path = tmp_path_factory.mktemp("replay") / "platform.jsonl"
    trace.write(path, trace_header(twin), twin.steps or [])
    return path


def test_a_platform_day_replays_with_the_same_answers_bank_by_bank(platform_trace: Path) -> None:
    """Every step at its bank's BASE/banks/CODE/ on a server whose root is the test
    platform; the answers are the twin's, code by code: congestion of the platform's
    shared slots (R-PLAT-3) met at every bank, each bank's own lockout and window.

    The root rather than a sandbox of its own: a sandbox of an inline platform
    scenario reads its YAML again on every request to a bank, which makes a few
    hundred steps take minutes; the sandbox path is the next test's, on the shipped
    platform."""
    recorded = trace.read(platform_trace)
    assert recorded.header["version"] == 2 and recorded.banks == ("9901", "9902", "9903")
    with embedded_sandbox(("--scenario", str(PLATFORM))) as target:
        result = Replayer(recorded, target.url, target.admin_token).run()
    assert result.complete and result.sent == len(recorded.steps)
    assert result.mismatches == []
    assert result.observed == result.predicted
    assert result.banks == Counter(step.bank for step in recorded.steps)
    by_bank: dict[str, Counter[str]] = {code: Counter() for code in recorded.banks}
    for step in recorded.steps:
        by_bank[step.bank][step.out] += 1
    for code in recorded.banks:
        assert by_bank[code]["congested"] > 0, code
        assert by_bank[code]["granted"] > 0, code
    assert by_bank["9902"]["locked_now"] > 0 and by_bank["9902"]["B84"] > 0  # locks after 2
    assert 200 < result.sent < 1000  # a few hundred attempts' steps


def test_a_platform_trace_of_a_file_replays_in_an_inline_sandbox(
    server: Target, platform_trace: Path
) -> None:
    """The trace's scenario is a file, not a shipped one: the sandbox is made from its
    YAML sent inline, a platform of three banks; its first steps agree."""
    recorded = trace.read(platform_trace)
    name, text, _ = trace_scenario(recorded)
    assert name is None and text == PLATFORM.read_text("utf-8")
    platform = Platform(server.url, server.admin_token)
    made = platform.create(yaml=text, label="platform replay test")
    try:
        result = Replayer(
            recorded,
            made.base_url,
            made.admin_token,
            max_steps=40,
            telephony_secret=made.telephony_secret,
        ).run()
    finally:
        assert platform.delete(made.id)
    assert result.sent == 40 and result.mismatches == []
    assert len(result.banks) == 3


def test_a_platform_trace_replays_in_a_sandbox_of_the_shipped_platform(
    server: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``renkei replay`` of a trace of the shipped platform-day: a sandbox of its own
    made from the scenario by name, each step at its bank, the banks' table."""
    path = tmp_path / "day.jsonl"
    argv = ["simulate", "platform-day", "--customers", "200", "--quiet", "--no-plots"]
    assert main([*argv, "--out", str(tmp_path / "twin"), "--trace", str(path)]) == 0
    recorded = trace.read(path)
    assert recorded.header["scenario"] == "scenarios/platform.yaml"
    capsys.readouterr()
    replay = ["replay", str(path), "--target", server.url, "--admin-token", server.admin_token]
    assert main([*replay, "--max-steps", "120"]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = SANDBOX_LINE.fullmatch(lines[0])
    assert said and said.group(3) == "scenarios/platform.yaml", lines[0]
    assert lines[-1].startswith("renkei replay: agrees with the twin on 120 of 120 steps sent")
    sent = Counter(step.bank for step in recorded.steps[:120])
    for code, name in (("9901", "中ノ郷信用組合"), ("9902", "みなと架空信用組合")):
        assert any(
            re.fullmatch(rf"\| {code} +\| {name} +\| +{sent[code]} \| +0 \|", x) for x in lines
        )
    assert _sandboxes(server) == []


def test_a_platform_difference_names_the_bank(platform_trace: Path) -> None:
    recorded = trace.read(platform_trace)
    step = next(s for s in recorded.steps if s.bank == "9902" and s.do == "customer")
    result = _result((step, "identity_mismatch" if step.out != "identity_mismatch" else "SOA208"))
    line, status = verdict(recorded, result)
    assert status == 1
    assert f"(first: journey {step.journey}, bank 9902 SOA202: twin {step.out}, live " in line


# -- the plot beside the table (harness/replay_plot.py) -------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _table(result: Result) -> dict[str, tuple[int, int]]:
    """The answers table the command prints: each answer's twin and server counts."""
    rows = [line.strip("|").split("|") for line in result.table().splitlines()[2:]]
    return {cells[0].strip(): (int(cells[1]), int(cells[2])) for cells in rows}


def _a_valid_png(path: Path) -> tuple[int, int]:
    """The image's height and width, read back whole (a truncated PNG fails here)."""
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    return int(pixels.shape[0]), int(pixels.shape[1])


def test_the_plot_shows_what_the_table_counts(
    server: Target, trace_file: Path, tmp_path: Path
) -> None:
    """A short replay: the data behind the plot (replay_plot.series) counts per hour
    what the table counts in all, each step sent has its latency, and the PNG is one."""
    recorded = trace.read(trace_file)
    platform = Platform(server.url, server.admin_token)
    made = platform.create(yaml=(DATA / "twin.yaml").read_text("utf-8"), label="replay plot")
    try:
        result = Replayer(
            recorded,
            made.base_url,
            made.admin_token,
            max_steps=150,
            telephony_secret=made.telephony_secret,
        ).run()
    finally:
        assert platform.delete(made.id)
    assert result.sent == len(result.answered) == 150
    data = replay_plot.series(recorded, result.answered)
    table = _table(result)
    assert data.totals(data.twin) == Counter({c: t for c, (t, _) in table.items() if t})
    assert data.totals(data.server) == Counter({c: s for c, (_, s) in table.items() if s})
    # Per hour: the steps of that hour, on both sides.
    hours = Counter(
        int((dt.datetime.fromisoformat(s.t) - data.start).total_seconds() // 3600)
        for s in recorded.steps[:150]
    )
    for i, hour in enumerate(data.hours):
        assert sum(counts[i] for counts in data.twin.values()) == hours[hour]
        assert sum(counts[i] for counts in data.server.values()) == hours[hour]
    assert data.start.isoformat() == recorded.header["start"]
    # The latency of every step sent, by button, from the first step's sending on.
    assert sum(len(points) for points in data.latency.values()) == 150
    assert Counter({do: len(p) for do, p in data.latency.items()}) == Counter(
        s.do for s in recorded.steps[:150]
    )
    assert list(data.latency) == [do for do in ACTIONS if do in data.latency]
    assert min(at for points in data.latency.values() for at, _ in points) == 0.0
    assert all(seconds > 0 for points in data.latency.values() for _, seconds in points)
    path = tmp_path / "deeper" / "replay.png"
    replay_plot.write(path, recorded, result.answered)
    height, width = _a_valid_png(path)
    assert height > 400 and width > 400


def test_the_series_shows_where_the_server_differs() -> None:
    """Answers that differ move a count from one code to another in their hour."""
    steps = [
        Step("2026-12-07T00:10:00+09:00", 1, "authorize", {}, "SOA201"),
        Step("2026-12-07T00:11:00+09:00", 1, "account", {}, "SOA202"),
        Step("2026-12-07T02:30:00+09:00", 2, "authorize", {}, "out_of_hours"),
    ]
    recorded = Trace({"start": "2026-12-07T00:00:00+09:00", "profile": "p", "seed": 1}, steps)
    answered = [
        replay_plot.Answered(steps[0], "SOA201", 10.0, 0.02),
        replay_plot.Answered(steps[1], "identity_mismatch", 10.5, 0.03),
        replay_plot.Answered(steps[2], "out_of_hours", 11.0, 0.01),
    ]
    data = replay_plot.series(recorded, answered)
    assert data.hours == [0, 1, 2]
    assert data.twin["SOA202"] == [1, 0, 0] and data.server["SOA202"] == [0, 0, 0]
    assert data.server["identity_mismatch"] == [1, 0, 0]
    assert data.twin["identity_mismatch"] == [0, 0, 0]
    assert data.twin["out_of_hours"] == data.server["out_of_hours"] == [0, 0, 1]
    assert data.latency == {"authorize": [(0.0, 0.02), (1.0, 0.01)], "account": [(0.5, 0.03)]}
    import matplotlib.pyplot as plt

    fig = replay_plot.figure(recorded, answered)
    try:
        _, differ, latency = fig.axes
        assert differ.get_title() == "where the server's count differs from the twin's"
        assert {t.get_text() for t in differ.get_legend().get_texts()} == {
            "SOA202",
            "identity_mismatch",
        }
        first = latency.get_legend().get_texts()[0].get_text()
        assert first.startswith("authorize (2: median 15 ms, p95 ")
    finally:
        plt.close(fig)


def test_the_command_writes_its_plot_beside_the_trace(
    server: Target, trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """By default ``TRACE.replay.png`` beside the trace; ``--plot FILE`` elsewhere;
    ``--no-plot`` none; a plot that cannot be written is one line on stderr, and the
    verdict is still the replay's."""
    own = tmp_path / "day.jsonl"
    own.write_bytes(trace_file.read_bytes())
    argv = ["replay", str(own), "--target", server.url, "--admin-token", server.admin_token]
    argv += ["--max-steps", "20"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    beside = tmp_path / "day.replay.png"
    assert lines[-2] == f"renkei replay: wrote the plot {beside}"
    assert lines[-1].startswith("renkei replay: agrees with the twin on 20 of 20 steps sent")
    _a_valid_png(beside)
    beside.unlink()
    assert main([*argv, "--no-plot"]) == 0
    assert "plot" not in capsys.readouterr().out and not beside.exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("", "utf-8")
    assert main([*argv, "--plot", str(blocked / "replay.png")]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"renkei replay: cannot write the plot {blocked}/replay.png: ")
    assert captured.err.count("\n") == 1
    assert captured.out.splitlines()[-1].startswith("renkei replay: agrees with the twin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "day.jsonl"]
