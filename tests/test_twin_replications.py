"""``renkei simulate --replications N``: N seeds of the day, on every core and on a cluster.

A replication of seed S is the single run of seed S, exactly (its tally, and the
summary written from it, against the golden file); replications on one process,
on two and on a Dask ``LocalCluster`` of two workers give the same files, byte
for byte; each count's interval is Student's t interval of the mean, whose
quantile :mod:`simulator.twin.interval` computes without SciPy (checked against
the published table); the plot shows the interval; a bad option is one line.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from renkei.cli import main
from simulator.scenario import load_platform
from simulator.twin import replications as replications_module
from simulator.twin.interval import central, interval, t_quantile
from simulator.twin.journey import run
from simulator.twin.model import Twin
from simulator.twin.profile import load_profile
from simulator.twin.replications import (
    DASK_EXTRA,
    ClusterError,
    Day,
    on_cluster,
    on_cores,
    replicate,
    replications,
    seeds_of,
)
from simulator.twin.report import (
    ANSWERS,
    HOURLY,
    replications_figure,
    replications_summary,
    summary,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden" / "twin-test.txt"
ARGV = ["simulate", str(DATA / "twin-profile.yaml"), "--scenario", str(DATA / "twin.yaml")]


@pytest.fixture(scope="module")
def day() -> Day:
    return Day(load_platform(DATA / "twin.yaml"), load_profile(DATA / "twin-profile.yaml"))


def single(seed: int) -> Twin:
    """``renkei simulate`` of the test profile on ``seed``, as the single run makes it."""
    twin = Twin(load_platform(DATA / "twin.yaml"), load_profile(DATA / "twin-profile.yaml"), seed)
    run(twin)
    return twin


# -- the t quantile and the interval -------------------------------------------------------------

#: t(0.975, ν), the two-sided 95 % quantiles of the published tables (to 7 significant digits).
T_TABLE = {
    1: 12.70620,
    2: 4.302653,
    3: 3.182446,
    4: 2.776445,
    5: 2.570582,
    9: 2.262157,
    19: 2.093024,
    29: 2.045230,
    30: 2.042272,
    60: 2.000298,
    120: 1.979930,
    1000: 1.962339,
    5000: 1.960439,
}


@pytest.mark.parametrize(("df", "expected"), sorted(T_TABLE.items()))
def test_the_t_quantile_is_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, rel=1e-6)


def test_the_t_quantile_inverts_the_distribution_and_tends_to_the_normal() -> None:
    for df in (1, 2, 7, 8, 200, 999):
        for p in (0.9, 0.975, 0.995):
            assert central(t_quantile(p, df), df) == pytest.approx(2 * p - 1, abs=1e-9)
    # Beyond the series, the expansion joins it and tends to the normal quantile.
    assert t_quantile(0.975, 1001) == pytest.approx(t_quantile(0.975, 1000), abs=1e-4)
    z = statistics.NormalDist().inv_cdf(0.975)
    assert t_quantile(0.975, 10**7) == pytest.approx(z, abs=1e-6)
    for bad in ((0.975, 0), (0.5, 3), (1.0, 3)):
        with pytest.raises(ValueError, match="t_quantile needs"):
            t_quantile(*bad)


def test_the_interval_is_students_t_interval_of_the_mean() -> None:
    values = [12, 15, 9, 14]
    found = interval(values)
    half = 3.182446 * statistics.stdev(values) / math.sqrt(4)
    assert found.mean == 12.5
    assert found.low == pytest.approx(12.5 - half, abs=1e-5)
    assert found.high == pytest.approx(12.5 + half, abs=1e-5)
    assert found.half == pytest.approx(half, abs=1e-5)
    same = interval([3, 3, 3])
    assert (same.mean, same.low, same.high) == (3, 3, 3)
    with pytest.raises(ValueError, match="two replications or more"):
        interval([5])


# -- a replication of seed S is the single run of seed S ------------------------------------------


def test_the_seeds_are_consecutive_from_the_first() -> None:
    assert seeds_of(7, 4) == [7, 8, 9, 10]


def test_a_replication_of_seed_s_is_the_single_run_of_seed_s(day: Day) -> None:
    for seed in (1, 2, 9):
        alone = single(seed)
        tally = replicate(seed, day)
        assert tally == alone.tally
        # The summary a single run of seed S writes, written from the replication's tally.
        fresh = day.twin(seed)
        fresh.tally = tally
        assert summary(fresh) == summary(alone)
    seed_1 = day.twin(1)
    seed_1.tally = replicate(1, day)
    assert summary(seed_1) == GOLDEN.read_text(encoding="utf-8")


def test_replications_on_two_processes_are_those_on_one(day: Day) -> None:
    seeds = seeds_of(3, 4)
    here = on_cores(day, seeds, jobs=1)
    assert on_cores(day, seeds, jobs=2) == here
    assert here == [single(seed).tally for seed in seeds]
    assert len({t.attempts for t in here}) > 1  # the seeds draw different days


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_command_writes_the_same_files_on_any_number_of_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {}
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        argv = [*ARGV, "--replications", "4", "--seed", "5", "--jobs", jobs, "--out", str(out)]
        assert main(argv) == 0
        runs[jobs] = _files(out)
        printed = capsys.readouterr()
        assert printed.out.startswith(runs[jobs]["summary.txt"].decode())
        process = "process" if jobs == "1" else "processes"
        assert "4 replications (" in printed.err and f"on {jobs} {process}" in printed.err
    assert runs["1"] == runs["2"]
    assert set(runs["1"]) == {
        "summary.txt",
        "hourly.csv",
        "codes.csv",
        "replications.csv",
        "day.png",
    }
    assert runs["1"]["day.png"].startswith(b"\x89PNG\r\n\x1a\n")


def test_one_replication_is_the_single_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--replications 1`` (the default) is today's run: the golden summary, its files."""
    argv = [*ARGV, "--no-plots", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--replications", "1", "--jobs", "2", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert (tmp_path / "a" / "summary.txt").read_text("utf-8") == GOLDEN.read_text("utf-8")
    assert sorted(_files(tmp_path / "a")) == ["codes.csv", "hourly.csv", "summary.txt"]


# -- what the report says ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def four(day: Day) -> replications_module.Replications:
    return replications(day, seeds_of(1, 4), lambda d, s: on_cores(d, s, jobs=1))


def _rows(text: str, first: str) -> list[list[str]]:
    """The body of the github table whose header starts with ``first``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first}"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_summary_gives_each_count_its_mean_and_interval(
    four: replications_module.Replications,
) -> None:
    text = replications_summary(four)
    head = text.splitlines()
    assert head[0].endswith(", 4 replications, seeds 1 to 4")
    assert head[3] == (
        "each count: the mean of the 4 replications ± the half-width of its 95% interval "
        "(Student's t, 3 degrees of freedom: mean ± 3.182 × s / √4)"
    )
    attempts = [t.attempts for t in four.tallies]
    expected = interval(attempts)
    assert (
        f"attempts (authorization requests) {expected.mean:,.1f} ± {expected.half:,.1f}"
        in (head[2])
    )
    # The last row of the hours: each replication's whole day, its mean and interval.
    hours = _rows(text, "hour (JST)")
    assert [row[0] for row in hours[:2]] == ["00:00", "01:00"] and hours[-1][0] == "all"
    assert hours[-1][1] == f"{expected.mean:,.1f} ± {expected.half:,.1f}"
    congested = [t.codes["congested"] for t in four.tallies]
    (row,) = [r for r in _rows(text, "answer code") if r[0] == "congested"]
    c = interval(congested)
    assert row[1:] == [f"{c.mean:,.1f}", f"{c.low:,.1f} to {c.high:,.1f}", "503"]
    # An hour no replication had anything in is 0, not an interval.
    (quiet,) = [r for r in hours if r[0] == "13:00"]
    assert set(quiet[1:]) == {"0"}


def test_the_csv_holds_the_numbers_behind_the_tables(
    tmp_path: Path, four: replications_module.Replications
) -> None:
    from simulator.twin.report import write_replications

    write_replications(four, tmp_path, plots=False)
    per_seed = list(csv.DictReader(io.StringIO((tmp_path / "replications.csv").read_text())))
    assert [int(r["seed"]) for r in per_seed] == [1, 2, 3, 4]
    assert [int(r["attempts"]) for r in per_seed] == [t.attempts for t in four.tallies]
    codes = {
        (r["kind"], r["name"]): r
        for r in csv.DictReader(io.StringIO((tmp_path / "codes.csv").read_text()))
    }
    flow_codes = [answer for answer in ANSWERS if ("code", answer) in codes]
    assert len(flow_codes) == len(ANSWERS) - 2  # all but granted and cancelled
    for answer in flow_codes:
        values = [int(r[answer]) for r in per_seed]
        spread = interval(values)
        row = codes["code", answer]
        assert float(row["mean"]) == pytest.approx(statistics.fmean(values), abs=1e-3)
        assert float(row["low"]) == pytest.approx(spread.low, abs=1e-3)
        assert float(row["high"]) == pytest.approx(spread.high, abs=1e-3)
    granted = interval([t.endings()["granted"] for t in four.tallies])
    assert float(codes["outcome", "granted"]["mean"]) == pytest.approx(granted.mean, abs=1e-3)
    assert float(codes["outcome", "granted"]["high"]) == pytest.approx(granted.high, abs=1e-3)
    hourly = list(csv.DictReader(io.StringIO((tmp_path / "hourly.csv").read_text())))
    assert len(hourly) == 24 and hourly[9]["hour"] == "2026-12-07T09:00+09:00"
    nine = [t.hourly[9]["attempts"] for t in four.tallies]
    assert float(hourly[9]["attempts_mean"]) == pytest.approx(statistics.fmean(nine), abs=1e-3)
    assert list(hourly[0])[1:4] == ["attempts_mean", "attempts_low", "attempts_high"]
    assert list(hourly[0])[-3:] == ["peak_slots_mean", "peak_slots_low", "peak_slots_high"]


def test_the_plot_shows_the_interval(four: replications_module.Replications) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.container import ErrorbarContainer

    fig = replications_figure(four)
    try:
        load, answers, slots = fig.axes
        assert any(isinstance(c, ErrorbarContainer) for c in load.containers)
        legend = [t.get_text() for t in load.get_legend().get_texts()]
        assert "its 95% interval (left axis)" in legend
        assert "its 95% interval (right axis)" in legend
        # A band for every answer column of the per-hour table, and a line of its mean.
        bands = [c for c in answers.collections if isinstance(c, PolyCollection)]
        assert len(bands) == len(ANSWERS) == len(HOURLY) - 1
        assert [t.get_text() for t in answers.get_legend().get_texts()] == list(ANSWERS)
        assert "95% interval" in answers.get_title()
        assert slots.get_ylabel() == "host slots (flows in progress)"
    finally:
        plt.close(fig)


def test_a_platform_is_replicated_as_a_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "simulate",
        str(DATA / "twin-platform-profile.yaml"),
        "--scenario",
        str(DATA / "twin-platform.yaml"),
        "--replications",
        "2",
        "--jobs",
        "1",
        "--no-plots",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    capsys.readouterr()
    text = (tmp_path / "summary.txt").read_text("utf-8")
    assert ", a platform of " in text.splitlines()[1]
    assert text.splitlines()[3].endswith("; the platform as a whole (a bank's files: a single run)")
    assert not (tmp_path / "banks").exists()


# -- bad options are one line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--replications", "3", "--trace", "t.jsonl"],
            "renkei simulate: --trace writes the steps of one run; it cannot be given with "
            "--replications\n",
        ),
        (
            ["--replications", "3", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:8786"],
            "renkei simulate: --jobs is for a run on this machine; with --scheduler the "
            "cluster's workers run the replications\n",
        ),
        (
            ["--replications", "3", "--scheduler", "127.0.0.1"],
            "renkei simulate: error: argument --scheduler: not a scheduler address "
            "tcp://HOST:PORT: '127.0.0.1' (see renkei simulate --help)\n",
        ),
        (
            ["--replications", "0"],
            "renkei simulate: error: argument --replications: must be 1 or more (got 0) "
            "(see renkei simulate --help)\n",
        ),
        (
            ["--replications", "3", "--jobs", "0"],
            "renkei simulate: error: argument --jobs: must be 1 or more (got 0) "
            "(see renkei simulate --help)\n",
        ),
    ],
)
def test_bad_options_are_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ARGV, *extra, "--out", str(tmp_path), "--quiet"]) == 2
    assert capsys.readouterr().err == message
    assert not list(tmp_path.iterdir())


def test_scheduler_without_the_dask_extra_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ``distributed`` installed (here: made unimportable), exit 2 before any
    work, the line naming the extra."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    argv = [*ARGV, "--replications", "2", "--scheduler", "tcp://127.0.0.1:8786"]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"renkei simulate: {DASK_EXTRA}\n"
    assert DASK_EXTRA == "--scheduler needs the dask extra: pip install 'renkei[dask]'"
    assert not list(tmp_path.iterdir())


# -- on a Dask cluster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A LocalCluster of two worker processes, one thread each, on loopback only."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield str(local.scheduler_address)


def test_replications_on_a_cluster_are_those_on_two_processes(
    cluster: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [*ARGV, "--replications", "4", "--seed", "2", "--no-plots"]
    assert main([*common, "--jobs", "2", "--out", str(tmp_path / "jobs")]) == 0
    assert main([*common, "--scheduler", cluster, "--out", str(tmp_path / "dask")]) == 0
    err = capsys.readouterr().err
    assert "4 replications (" in err and f"on the cluster at {cluster}," in err
    assert _files(tmp_path / "dask") == _files(tmp_path / "jobs")


def test_the_cluster_runs_the_same_function_as_the_processes(day: Day, cluster: str) -> None:
    seeds = seeds_of(1, 3)
    assert on_cluster(day, seeds, cluster) == on_cores(day, seeds, jobs=1)


def test_no_scheduler_at_the_address_is_one_line(day: Day, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(replications_module, "CONNECT_TIMEOUT", 1)
    with pytest.raises(ClusterError, match=r"--scheduler tcp://127.0.0.1:9: no Dask scheduler"):
        on_cluster(day, [1], "tcp://127.0.0.1:9")
