"""The SimPy twin on a platform of several credit unions (INTERFACE.md §10).

A one-bank run is byte for byte what it was before platforms (digests of the
files written by the twin of commit db56ec9, before the twin knew banks). A
platform run is one environment with one capacity for every bank's flows
(R-PLAT-3), each bank's customers meeting that bank's threshold and windows;
it writes the platform's files and each bank's, and its trace (version 2)
names each step's bank.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

from renkei.cli import main
from renkei.contract import trace
from simulator.scenario import load_platform, load_scenario
from simulator.twin.command import trace_header
from simulator.twin.journey import run
from simulator.twin.model import Twin
from simulator.twin.profile import load_profile, parse_profile
from simulator.twin.report import BANK_COLUMNS, banks_csv, codes_csv, summary, write_outputs

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PLATFORM = DATA / "twin-platform.yaml"
PROFILE = DATA / "twin-platform-profile.yaml"

#: sha256 of what the twin wrote for the test profile on tests/data/twin.yaml before
#: platforms (commit db56ec9), taken again when early flows, the per-app share of
#: them and the flows' lifetime came (issue 16: a flow abandoned on ① frees its slot
#: after 2 minutes, not 30): ``renkei simulate tests/data/twin-profile.yaml
#: --scenario tests/data/twin.yaml --trace T`` with seed 1, and with ``--seed 5
#: --days 3``, from the repository's root. A deliberate change of a rule or of the
#: customers' behaviour changes them, as it changes tests/golden/twin-test.txt: then
#: take them again (``sha256sum``) from the files of that command.
BEFORE_PLATFORMS = {
    (1, 1): {
        "summary.txt": "c2f5bf300b37e6e6dd5c50a56eab2e78c9d40c387674536d2c81fe06518d76cb",
        "hourly.csv": "747192274415e801b7f318f10131ab6e4626c372b50d5d5f3060e0394dd8591c",
        "codes.csv": "d83908651087302ef3949a048d30ec5ab484b396a94e200bea26d46065fd0ac7",
        "trace.jsonl": "1d1320c1811b5a60c5a35d02de08208c43283bfc2c94039efc7cfea5b32c354d",
    },
    (5, 3): {
        "summary.txt": "23dd66481b8dc53a596f02ddae0735d544a58d59b346ed9cf3334cb50ea24b5f",
        "hourly.csv": "8b7afc5197c4634d568158c50e7f71597933809baa2e4c75821061a32257a367",
        "codes.csv": "2e4a3c47946e34506f015670145bd4d3a4d2bd37de9e979e69c0b47c45510292",
        "trace.jsonl": "442a966bf402f4af68a474afa619c0af6d0439727c6a5bb0f29218195ddebfc3",
    },
}


def platform_twin(seed: int = 1, trace_steps: bool = True) -> Twin:
    return Twin(load_platform(PLATFORM), load_profile(PROFILE), seed, trace=trace_steps)


@pytest.fixture(scope="module")
def twin() -> Twin:
    t = platform_twin()
    run(t)
    return t


@pytest.mark.parametrize(("seed", "days"), sorted(BEFORE_PLATFORMS))
def test_a_one_bank_run_is_what_it_was_before_platforms(
    seed: int, days: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same draws in the same order: the same summary, CSV and trace, to the byte,
    whether the scenario is given as a Scenario or read as a platform of one bank."""
    monkeypatch.chdir(ROOT)  # the files name the scenario relative to where it ran
    profile = load_profile(Path("tests/data/twin-profile.yaml"))
    for scenario in (
        load_scenario(Path("tests/data/twin.yaml")),
        load_platform(Path("tests/data/twin.yaml")),
    ):
        t = Twin(scenario, profile, seed, days, trace=True)
        run(t)
        out = tmp_path / type(scenario).__name__
        write_outputs(t, out, plots=False)
        trace.write(out / "trace.jsonl", trace_header(t), t.steps or [])
        digests = {
            name: hashlib.sha256((out / name).read_bytes()).hexdigest()
            for name in BEFORE_PLATFORMS[seed, days]
        }
        assert digests == BEFORE_PLATFORMS[seed, days]
        assert sorted(p.name for p in out.iterdir()) == sorted(BEFORE_PLATFORMS[seed, days])


def test_the_platform_has_one_capacity_for_every_banks_flows(twin: Twin) -> None:
    """R-PLAT-3: the slots fill with the flows of all banks together; a bank meets
    congestion in an hour when its own flows never held all the slots."""
    capacity = twin.rules.capacity.flows
    assert max(twin.tally.peak_slots.values()) == capacity
    congested_by_others = []
    for bank in twin.banks:
        assert bank.tally.codes["congested"] > 0, bank.code
        assert max(bank.tally.peak_slots.values()) < capacity, bank.code
        congested_by_others += [
            hour
            for hour, counts in bank.tally.hourly.items()
            if counts["congested"] and bank.tally.peak_slots[hour] < capacity
        ]
    assert congested_by_others
    # Every slot given back: only the flows still on a screen at the end hold one.
    assert sum(bank.in_use for bank in twin.banks) == len(twin.slots.users)


def test_a_customer_links_one_account_at_a_time(twin: Twin) -> None:
    """On a platform one customer's journeys at a bank never overlap (Twin.one_at_a_time),
    so no call's verdict hangs on the numbers each side draws for two flows of one
    phone. A customer is known by the e-mail address typed on ② (their own)."""
    assert twin.overlapping == 0
    spans: dict[int, list[str]] = {}
    email: dict[int, tuple[str, str]] = {}
    for step in twin.steps or []:
        spans.setdefault(step.journey, []).append(step.t)
        if step.do == "customer":
            email[step.journey] = (step.bank, step.inputs["email"])
    by_customer: dict[tuple[str, str], list[tuple[dt.datetime, dt.datetime]]] = {}
    for journey, who in email.items():
        times = [dt.datetime.fromisoformat(t) for t in spans[journey]]
        by_customer.setdefault(who, []).append((min(times), max(times)))
    repeated = [sorted(v) for v in by_customer.values() if len(v) > 1]
    assert repeated  # customers come back, one journey after another
    for journeys in repeated:
        for (_, end), (begin, _) in itertools.pairwise(journeys):
            assert end <= begin


def test_each_bank_locks_after_its_own_threshold(twin: Twin) -> None:
    """A customer's account locks at the failure that reaches its bank's threshold
    (R-ERR-HOST-3, R-PLAT-1): counted from the trace, per bank and account."""
    thresholds = {bank.code: bank.rules.lockout.threshold for bank in twin.banks}
    assert len(set(thresholds.values())) == len(thresholds)  # 5, 2 and 10
    account: dict[int, tuple[str, str, str]] = {}
    failures: Counter[tuple[str, str, str]] = Counter()
    locked: Counter[str] = Counter()
    for step in twin.steps or []:
        if step.do == "account" and step.out == "SOA202":
            account[step.journey] = (step.bank, step.inputs["branch_no"], step.inputs["account_no"])
        elif step.out == "identity_mismatch":
            failures[account[step.journey]] += 1
        elif step.out == "locked_now":
            key = account[step.journey]
            assert failures[key] == thresholds[step.bank] - 1, key
            locked[step.bank] += 1
    low = min(thresholds, key=lambda code: thresholds[code])
    assert locked[low] > 0
    assert twin.banks[[b.code for b in twin.banks].index(low)].tally.codes["B84"] > 0


def test_a_banks_own_window_closes_that_bank_alone(twin: Twin) -> None:
    """9902 is closed on Mondays 9:45-10:00 (its own window, R-HOURS-6); the other
    banks are open then: only 9902's authorization requests are out_of_hours."""
    start, end = (
        dt.datetime(2026, 12, 7, h, m, tzinfo=twin.start.tzinfo) for h, m in ((9, 45), (10, 0))
    )
    answers: dict[str, Counter[str]] = {bank.code: Counter() for bank in twin.banks}
    for step in twin.steps or []:
        if step.do == "authorize" and start <= dt.datetime.fromisoformat(step.t) < end:
            answers[step.bank][step.out] += 1
    assert set(answers["9902"]) == {"out_of_hours"}
    for code in ("9901", "9903"):
        assert answers[code] and "out_of_hours" not in answers[code], code


def test_the_platforms_tallies_are_the_sum_of_the_banks(twin: Twin) -> None:
    banks = twin.banks
    assert twin.tally.journeys == sum(b.tally.journeys for b in banks)
    assert twin.tally.attempts == sum(b.tally.attempts for b in banks)
    assert twin.tally.codes == sum((b.tally.codes for b in banks), Counter())
    assert twin.tally.outcomes == sum((b.tally.outcomes for b in banks), Counter())
    steps = twin.steps or []
    assert Counter(s.bank for s in steps) == {b.code: sum(b.tally.codes.values()) for b in banks}
    # Each bank's share of the arrivals is the profile's: 9902 has 0.4.
    assert [b.share for b in banks] == [0.3, 0.4, 0.3]


def test_the_platforms_files_and_each_banks(twin: Twin, tmp_path: Path) -> None:
    written = write_outputs(twin, tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    own = {"summary.txt", "hourly.csv", "codes.csv", "day.png"}
    assert names == {*own, "banks.csv"} | {f"banks/{b.code}/{n}" for b in twin.banks for n in own}
    text = summary(twin)
    assert "a platform of 3 banks; 180 bulk customers; platform capacity 6 flows" in text
    rows = list(csv.DictReader(io.StringIO(banks_csv(twin))))
    assert [r["bank"] for r in rows] == ["9901", "9902", "9903", "platform"]
    assert list(rows[0]) == [c.replace(" ", "_") for c in BANK_COLUMNS]
    for column in ("journeys", "attempts", "granted", "congested", "locked_now", "B84"):
        assert sum(int(r[column]) for r in rows[:-1]) == int(rows[-1][column]), column
    assert [r["locks_after"] for r in rows[:-1]] == ["5", "2", "10"]
    for bank in twin.banks:
        head = (tmp_path / "banks" / bank.code / "summary.txt").read_text("utf-8").splitlines()
        assert head[0].endswith(f"; bank {bank.code} {bank.name}")
        assert f"locks after {bank.rules.lockout.threshold} identity failures" in head[1]
        assert f"journeys {bank.tally.journeys:,}" in head[2]
        outcomes = [r for r in csv.reader(io.StringIO(codes_csv(twin, bank))) if r[0] == "outcome"]
        assert sum(int(r[2]) for r in outcomes) == bank.tally.journeys
        hourly = list(csv.DictReader((tmp_path / "banks" / bank.code / "hourly.csv").open()))
        assert sum(int(r["attempts"]) for r in hourly) == bank.tally.attempts
        assert max(int(r["platform_peak_slots"]) for r in hourly) == twin.rules.capacity.flows
    assert "own closed windows: 毎週月曜日の9:45~10:00" in (
        tmp_path / "banks" / "9902" / "summary.txt"
    ).read_text("utf-8")


def test_same_seed_same_platform_files(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        t = platform_twin(seed=3)
        run(t)
        written = write_outputs(t, tmp_path / name, plots=False)
        trace.write(tmp_path / name / "t.jsonl", trace_header(t), t.steps or [])
        outputs.append(
            {
                p.relative_to(tmp_path / name): p.read_bytes()
                for p in (tmp_path / name).rglob("*")
                if p.is_file()
            }
        )
        assert len(written) == 4 + 3 * 3
    assert outputs[0] == outputs[1]


def test_a_platform_trace_names_each_steps_bank(twin: Twin, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    trace.write(path, trace_header(twin), twin.steps or [])
    lines = path.read_text("utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["version"] == trace.VERSION == 2
    assert header["scenario"] == "tests/data/twin-platform.yaml"
    assert list(header["banks"]) == ["9901", "9902", "9903"]
    assert header["banks"]["9902"]["name"] == "みなと架空信用組合"
    assert all(json.loads(line)["b"] in header["banks"] for line in lines[1:])
    read_back = trace.read(path)
    assert read_back.banks == ("9901", "9902", "9903")
    assert read_back.steps == twin.steps


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h, s: ({**h, "version": 1}, s), "a version 1 trace has no 'banks'"),
        (lambda h, s: ({k: v for k, v in h.items() if k != "banks"}, s), "needs 'banks'"),
        (lambda h, s: ({**h, "banks": {"99": {}}}, s), "'99' is not a 4-digit"),
        (lambda h, s: (h, [{**s[0], "b": "9999"}]), "'b' must be the code of one of"),
        (lambda h, s: (h, [{k: v for k, v in s[0].items() if k != "b"}]), "got None"),
    ],
)
def test_a_bad_platform_trace_is_a_clear_error(
    twin: Twin, tmp_path: Path, change: object, message: str
) -> None:
    good = tmp_path / "good.jsonl"
    trace.write(good, trace_header(twin), (twin.steps or [])[:3])
    lines = good.read_text("utf-8").splitlines()
    header, steps = change(json.loads(lines[0]), [json.loads(x) for x in lines[1:]])  # type: ignore[operator]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [header, *steps]) + "\n")
    with pytest.raises(trace.TraceError, match=message):
        trace.read(bad)


def test_a_one_bank_step_names_no_bank(tmp_path: Path) -> None:
    """A version 1 trace stays as it was: no "b" in its steps, and one with a "b" is refused."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"kind": "renkei-trace", "version": 1}\n'
        '{"t": "x", "j": 1, "b": "9901", "do": "authorize", "in": {}, "out": ""}\n'
    )
    with pytest.raises(trace.TraceError, match="the header has no banks"):
        trace.read(bad)
    step = trace.Step("x", 1, "authorize", {}, "SOA201")
    assert json.loads(step.to_json()) == {
        "t": "x",
        "j": 1,
        "do": "authorize",
        "in": {},
        "out": "SOA201",
    }


def _profile(**changes: object) -> dict[str, object]:
    base = load_profile(PROFILE)
    data: dict[str, object] = {
        "name": "p",
        "day": base.day,
        "customers": 10,
        "hourly": [1] * 24,
        "clients": {"creco": 1},
        "behaviour": {
            "think": {"SOA201": 2, "SOA202": 2, "SOA208": 1, "SOA211": 1, "SOA206": 1},
            "think_sigma": 0.2,
            "abandon": {},
            "account_typo": 0.0,
            "input_mistake": 0.0,
            "forgot_phone": 0.0,
            "keeps_guessing": 0.0,
            "call_median_seconds": 5,
            "call_sigma": 0.2,
            "withheld": 0.0,
            "confirm_first": 0.0,
            "wrong_pin": 0.0,
            "deny": 0.0,
            "cancel": 0.0,
            "retry_refused": 0.0,
            "max_retries": 0,
            "retry_median_minutes": 1,
            "comes_back_locked": 0.0,
            "reauthorize": 0.0,
        },
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("banks", "message"),
    [
        ({9901: 1}, "x.yaml: banks.9901: must be a 金融機関コード of 4 half-width digits, quoted"),
        ({"9901": -1}, "x.yaml: banks.9901: must be a weight, zero or more"),
        ({"9901": 0}, "x.yaml: banks: at least one bank must have a share above 0"),
        ({}, "x.yaml: banks: must be a mapping of 金融機関コード to share"),
    ],
)
def test_bad_bank_shares_name_the_field(banks: object, message: str) -> None:
    from simulator.fields import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        parse_profile(_profile(banks=banks), "x.yaml")
    assert str(caught.value).startswith(message)


def test_bank_shares_that_do_not_fit_the_scenario_are_refused() -> None:
    platform = load_platform(PLATFORM)
    with pytest.raises(ValueError, match=r"banks: \['9999'\] are not banks of .*9901, 9902, 9903"):
        Twin(platform, parse_profile(_profile(banks={"9999": 1}), "x.yaml"), 1)
    one = load_scenario(DATA / "twin.yaml")
    with pytest.raises(ValueError, match="is one bank, not a platform"):
        Twin(one, parse_profile(_profile(banks={"9901": 1}), "x.yaml"), 1)
    # Without banks: in proportion to each bank's bulk customers (100, 40, 40); a
    # bank the profile does not list has no traffic.
    t = Twin(platform, parse_profile(_profile(), "x.yaml"), 1)
    assert [b.share for b in t.banks] == [100.0, 40.0, 40.0]
    t = Twin(platform, parse_profile(_profile(banks={"9903": 1}), "x.yaml"), 1, trace=True)
    run(t)
    assert {s.bank for s in t.steps or []} == {"9903"}


def test_cli_simulate_runs_the_platform_the_profile_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The profile's ``scenario:`` (a file beside it) without --scenario; the summary
    printed is the platform's, and the banks' files are named by folder."""
    status = main(
        [
            "simulate",
            str(PROFILE),
            "--out",
            str(tmp_path),
            "--no-plots",
            "--trace",
            str(tmp_path / "t.jsonl"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "| platform " in out and "| 9902 " in out
    assert f"{tmp_path}/banks/9902/," in out
    assert (tmp_path / "banks" / "9903" / "summary.txt").is_file()
    assert trace.read(tmp_path / "t.jsonl").banks == ("9901", "9902", "9903")


def test_cli_simulate_a_profile_naming_a_missing_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PROFILE.read_text("utf-8").replace(
        "scenario: twin-platform.yaml", "scenario: nowhere.yaml"
    )
    profile = tmp_path / "p.yaml"
    profile.write_text(text, "utf-8")
    assert main(["simulate", str(profile), "--quiet", "--no-plots"]) == 2
    assert capsys.readouterr().err == f"renkei: {tmp_path}/nowhere.yaml: no such file\n"
    named = tmp_path / "q.yaml"
    named.write_text(text.replace("scenario: nowhere.yaml", "scenario: nosuch"), "utf-8")
    assert main(["simulate", str(named), "--quiet", "--no-plots"]) == 2
    assert "nosuch: no such file, nor a shipped scenario" in capsys.readouterr().err


def test_the_shipped_platform_day_congests_the_shared_capacity() -> None:
    """scenarios/traffic/platform-day.yaml on the shipped platform: the noon push
    fills the platform's 200 slots, and every bank's customers meet congestion."""
    from renkei import resources

    profile = load_profile(resources.profile("platform-day"))
    assert profile.scenario == "platform"
    t = Twin(load_platform(resources.scenario("platform")), profile, 1)
    run(t)
    assert max(t.tally.peak_slots.values()) == t.rules.capacity.flows == 200
    assert all(bank.tally.codes["congested"] > 0 for bank in t.banks)
    assert t.overlapping == 0  # the day's traffic is what its 250 customers can make
    assert t.banks[1].tally.codes["locked_now"] > 0  # 9902 locks after 3
    assert t.banks[2].tally.codes["locked_now"] == 0  # 9903 after 10


def test_more_traffic_than_a_banks_customers_can_make_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """200 arrivals in ten minutes at a bank of 40 customers who each take minutes: some
    find every customer busy; the run goes on, and says so on stderr."""
    text = PROFILE.read_text("utf-8")
    text = text.replace('banks: {"9901": 0.3, "9902": 0.4, "9903": 0.3}', 'banks: {"9902": 1}')
    text = text.replace("customers: 120", "customers: 0")
    text = text.replace(
        '{at: "09:40", minutes: 2, customers: 20}', '{at: "11:00", minutes: 10, customers: 200}'
    )
    profile = tmp_path / "busy.yaml"
    profile.write_text(
        text.replace("scenario: twin-platform.yaml", f"scenario: {PLATFORM}"), "utf-8"
    )
    assert main(["simulate", str(profile), "--quiet", "--no-plots", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "arrivals found every customer of their bank with a journey under way" in err
