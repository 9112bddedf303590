"""The SimPy twin: a golden summary, repeatability, its rules are the core's.

The golden file is the summary of a short, busy profile; any change in a rule
or in the customers' behaviour shows up as a diff of it (as SimPy's own
examples are checked). After a deliberate change, regenerate it with
``RENKEI_UPDATE_GOLDEN=1 pytest tests/test_twin.py`` and review the diff.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from pathlib import Path

import pytest
import simpy

from renkei.cli import main
from renkei.contract import trace
from renkei.contract.errors import ERRORS, Kind
from simulator.core.clock import JST
from simulator.core.errors import RenkeiError
from simulator.core.faults import SlotRule
from simulator.core.flow import FlowState
from simulator.fields import ScenarioError
from simulator.scenario import load_scenario
from simulator.twin.command import trace_header
from simulator.twin.journey import run
from simulator.twin.model import IN_PROGRESS, SimClock, Twin
from simulator.twin.profile import load_profile, parse_profile
from simulator.twin.report import (
    ANSWERS,
    HOURLY,
    codes_csv,
    figure,
    hourly_csv,
    summary,
    write_outputs,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden" / "twin-test.txt"


def make_twin(seed: int = 1, trace_steps: bool = False) -> Twin:
    scenario = load_scenario(DATA / "twin.yaml")
    profile = load_profile(DATA / "twin-profile.yaml")
    return Twin(scenario, profile, seed, trace=trace_steps)


@pytest.fixture(scope="module")
def twin() -> Twin:
    t = make_twin(trace_steps=True)
    run(t)
    return t


def test_golden_summary(twin: Twin) -> None:
    text = summary(twin)
    if os.environ.get("RENKEI_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_the_short_profile_meets_every_behaviour_it_is_there_for(twin: Twin) -> None:
    """The golden run is only worth comparing if it exercises the rules."""
    codes = twin.tally.codes
    for code in (
        "invalid",
        "account_unavailable",
        "identity_mismatch",
        "locked_now",
        "B84",
        "out_of_hours",
        "congested",
        "call_pending",
        "call_expired",
        "granted",
        "cancelled",
        "verified",
        "not_verified",
    ):
        assert codes[code] > 0, code
    # The host never admits more flows than it has slots (R-ERR-SYS-2).
    assert max(twin.tally.peak_slots.values()) <= twin.rules.capacity.flows


def test_same_seed_same_files_byte_for_byte(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        t = make_twin(seed=7, trace_steps=True)
        run(t)
        written = write_outputs(t, tmp_path / name)
        trace.write(tmp_path / name / "trace.jsonl", trace_header(t), t.steps or [])
        outputs.append(
            {p.name: p.read_bytes() for p in [*written, tmp_path / name / "trace.jsonl"]}
        )
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {"summary.txt", "hourly.csv", "codes.csv", "day.png", "trace.jsonl"}
    other = make_twin(seed=8)
    run(other)
    assert summary(other) != outputs[0]["summary.txt"].decode()


def test_trace_steps_are_in_time_order_and_match_the_tallies(twin: Twin) -> None:
    steps = twin.steps or []
    instants = [dt.datetime.fromisoformat(s.t) for s in steps]
    assert instants == sorted(instants)
    assert len(steps) == sum(twin.tally.codes.values())
    assert sum(1 for s in steps if s.do == "authorize") == twin.tally.attempts


def test_sim_clock_reads_simpy_time_in_jst() -> None:
    env = simpy.Environment()
    start = dt.datetime(2026, 12, 7, 0, 0, tzinfo=JST)
    clock = SimClock(env, start)
    env.run(until=90.5)
    assert clock.now() == start + dt.timedelta(seconds=90.5)
    assert clock.now().tzinfo is JST


def test_slot_rule_is_the_cores() -> None:
    """The twin frees an abandoned flow's slot when FlowState.holds_slot turns false."""
    at = dt.datetime(2026, 12, 7, 9, 0, tzinfo=JST)
    flow = FlowState("f", "creco", "http://x", ("accounts",), None, "c", at, at)
    rule = SlotRule()
    freed = flow.slot_freed_at(rule)
    assert freed == at + rule.early  # no screen posted yet: an early flow
    assert flow.holds_slot(freed, rule)
    assert not flow.holds_slot(freed + dt.timedelta(microseconds=1), rule)


def test_days_beyond_the_grant_bring_customers_back() -> None:
    """Re-authorization after the 30-day 認可期間 in a long run."""
    scenario = load_scenario(DATA / "twin.yaml")
    profile = load_profile(DATA / "twin-profile.yaml")
    data = {
        "name": "long",
        "day": profile.day,
        "customers": 40,
        "hourly": [0] * 10 + [1] + [0] * 13,
        "clients": {"creco": 1},
        "behaviour": _behaviour_dict(reauthorize=1.0, forgot_phone=0.0, abandon={}),
    }
    long = parse_profile(data, "long.yaml")
    t = Twin(scenario, long, 3, days=32)
    run(t)
    # Journeys come on other days than the arrivals' only when granted ones return.
    later = [h for h, c in t.tally.hourly.items() if h >= 30 * 24 and c["attempts"]]
    assert later, "no customer came back after the grant expired"


def _behaviour_dict(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "think": {"SOA201": 20, "SOA202": 40, "SOA208": 6, "SOA211": 10, "SOA206": 8},
        "think_sigma": 0.5,
        "abandon": {"SOA201": 0.01},
        "account_typo": 0.0,
        "input_mistake": 0.0,
        "forgot_phone": 0.0,
        "keeps_guessing": 0.0,
        "call_median_seconds": 20,
        "call_sigma": 0.3,
        "withheld": 0.0,
        "confirm_first": 0.0,
        "wrong_pin": 0.0,
        "deny": 0.0,
        "cancel": 0.0,
        "retry_refused": 0.0,
        "max_retries": 0,
        "retry_median_minutes": 5,
        "comes_back_locked": 0.0,
        "reauthorize": 0.0,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hourly": [1] * 23}, "hourly: must list 24 weights"),
        ({"customers": -1}, "customers: must be a whole number from 0"),
        ({"day": "tomorrow"}, "day: must be a date"),
        ({"behaviour": _behaviour_dict(deny=1.5)}, "behaviour.deny: must be a probability"),
        ({"behaviour": _behaviour_dict(abandon={"SOA999": 0.1})}, "unknown key"),
        ({"surges": [{"at": "25:00", "minutes": 5, "customers": 3}]}, "surges[0].at"),
        ({"clinets": {}}, "did you mean 'clients'"),
    ],
)
def test_bad_profiles_name_the_field(change: dict[str, object], message: str) -> None:
    data: dict[str, object] = {
        "name": "x",
        "day": dt.date(2026, 12, 2),
        "customers": 10,
        "hourly": [1] * 24,
        "clients": {"creco": 1},
        "behaviour": _behaviour_dict(),
    }
    if "clinets" in change:
        del data["clients"]
    data.update(change)
    with pytest.raises(ScenarioError, match=None) as caught:
        parse_profile(data, "x.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("x.yaml: ")


def _late_evening() -> Twin:
    """A run whose last journeys are still on the screens at midnight, with refusals
    that are retried (6 slots for a rush): what made the header and the tables
    disagree when a run ended with journeys under way."""
    data = {
        "name": "late",
        "day": dt.date(2026, 12, 7),
        "customers": 120,
        "hourly": [0] * 23 + [1],
        "surges": [{"at": "23:50", "minutes": 5, "customers": 30}],
        "clients": {"creco": 1},
        "behaviour": _behaviour_dict(
            retry_refused=0.9, max_retries=3, call_median_seconds=60, wrong_pin=0.3
        ),
    }
    t = Twin(load_scenario(DATA / "twin.yaml"), parse_profile(data, "late.yaml"), 5)
    run(t)
    return t


def _section(text: str, first_header: str) -> list[list[str]]:
    """The body rows of the github table whose first header is ``first_header``."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} "))
    rows = []
    for line in lines[top + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _assert_the_tables_add_up_to_the_header(t: Twin) -> dict[str, list[str]]:
    """One set of totals: the journeys' endings add up to the header's journeys, the
    shares are of that number, the hourly table's sums are the header's attempts and
    grants, and codes.csv's outcomes add up to the same journeys. Answers the rows
    of the endings table."""
    text = summary(t)
    head = text.splitlines()[2]
    found = re.search(
        r"journeys ([\d,]+).*attempts \(authorization requests\) ([\d,]+); "
        r"granted ([\d,]+) \(([\d.]+%)\)",
        head,
    )
    assert found, head
    journeys, attempts, granted = (int(g.replace(",", "")) for g in found.groups()[:3])
    assert journeys == t.tally.journeys and attempts == t.tally.attempts
    endings = {row[0]: row for row in _section(text, "journey ended")}
    total = endings.pop("all journeys")
    assert sum(int(row[1]) for row in endings.values()) == journeys == int(total[1])
    assert endings["granted"][1:] == [str(granted), found.group(4)]
    all_day = dict(zip(("hour", *HOURLY), _section(text, "hour (JST)")[-1], strict=False))
    assert all_day["hour"] == "all"
    assert int(all_day["attempts"]) == attempts and int(all_day["granted"]) == granted
    outcomes = [r for r in csv.reader(io.StringIO(codes_csv(t))) if r[0] == "outcome"]
    assert sum(int(r[2]) for r in outcomes) == journeys
    return endings


def test_the_tables_add_up_to_the_header(twin: Twin) -> None:
    _assert_the_tables_add_up_to_the_header(twin)


def test_journeys_under_way_at_the_end_are_counted_once() -> None:
    """The case that made the header and the tables disagree: a run that ends with
    journeys on the screens, after refusals that were retried."""
    t = _late_evening()
    assert t.tally.in_progress > 0 and t.tally.attempts > t.tally.journeys
    endings = _assert_the_tables_add_up_to_the_header(t)
    assert int(endings[IN_PROGRESS][1]) == t.tally.in_progress


def test_the_report_tells_the_time_in_jst(twin: Twin) -> None:
    text = summary(twin)
    assert "2026-12-07 00:00 to 2026-12-08 00:00 JST" in text.splitlines()[1]
    assert [row[0] for row in _section(text, "hour (JST)")][:3] == ["00:00", "01:00", "02:00"]
    rows = list(csv.reader(io.StringIO(hourly_csv(twin))))
    assert rows[0][:2] == ["hour", "attempts"]
    assert rows[1][0] == "2026-12-07T00:00+09:00" and rows[24][0] == "2026-12-07T23:00+09:00"
    assert all(
        dt.datetime.fromisoformat(r[0]).utcoffset() == dt.timedelta(hours=9) for r in rows[1:]
    )


def test_the_plot_names_its_axes_and_shows_every_answer_column(twin: Twin) -> None:
    import matplotlib.pyplot as plt

    fig = figure(twin)
    try:
        labels = [
            text.get_text()
            for ax in fig.axes
            if ax.get_legend() is not None
            for text in ax.get_legend().get_texts()
        ]
        # Every answer column of the per-hour table is a band of the lower panel.
        assert set(HOURLY) - {"attempts"} == set(ANSWERS) <= set(labels)
        capacity = [label for label in labels if "capacity" in label]
        assert capacity == [f"host capacity, {twin.rules.capacity.flows} flows (right axis)"]
        assert any("left axis" in label for label in labels)
        lower = fig.axes[1]
        assert lower.get_xlabel() == "hour (JST)"
        assert [t.get_text() for t in lower.get_xticklabels()][:3] == ["00:00", "03:00", "06:00"]
    finally:
        plt.close(fig)


def test_the_codes_table_lists_every_code_a_flow_can_answer(twin: Twin) -> None:
    rows = _section(summary(twin), "answer code")
    flow_codes = [c for c, e in ERRORS.items() if e.kind is not Kind.API]
    assert [row[0] for row in rows] == flow_codes
    assert all(int(row[2]) == ERRORS[row[0]].status for row in rows)


def test_cli_simulate_writes_the_report_and_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "simulate",
            str(DATA / "twin-profile.yaml"),
            "--scenario",
            str(DATA / "twin.yaml"),
            "--out",
            str(tmp_path),
            "--trace",
            str(tmp_path / "t.jsonl"),
            "--no-plots",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "| congested " in out and "journey ended" in out
    assert (tmp_path / "hourly.csv").read_text().startswith("hour,attempts,granted,")
    read_back = trace.read(tmp_path / "t.jsonl")
    assert read_back.header["profile"] == "twin-test"
    assert read_back.header["host_day"] == "2026-12-07"
    assert read_back.steps


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["simulate", "no-such-profile"],
            "one of: after-maintenance, payday, platform-day, weekday",
        ),
        (["simulate", "weekday", "--days", "0"], "must be 1 or more"),
        (
            ["simulate", "weekday", "--scenario", "scenarios/default.yaml", "--customers", "x"],
            "not a whole number",
        ),
    ],
)
def test_cli_simulate_bad_input_is_a_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_scenario_without_population_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (DATA / "twin.yaml").read_text(encoding="utf-8")
    bare = tmp_path / "bare.yaml"
    bare.write_text(text[: text.index("population:")], encoding="utf-8")
    status = main(["simulate", str(DATA / "twin-profile.yaml"), "--scenario", str(bare), "--quiet"])
    assert status == 2
    assert "has no population" in capsys.readouterr().err


def test_core_errors_are_what_the_twin_tallies(twin: Twin) -> None:
    """Every code the twin counts is a screen, an outcome word or a core error code."""
    from simulator.core.errors import BY_CODE

    words = {"granted", "cancelled", "verified", "not_verified"}
    screens = {"SOA201", "SOA202", "SOA208", "SOA209", "SOA211", "SOA206"}
    for code in twin.tally.codes:
        assert code in BY_CODE or code in words or code in screens, code
    assert issubclass(BY_CODE["congested"], RenkeiError)
