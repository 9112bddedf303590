"""What a twin run prints and writes: the summary tables, CSV and PNG plots.

Everything here is a function of the run's tallies only (never of the wall
clock), so that the same seed writes the same files, byte for byte — the
golden test compares :func:`summary` with a committed copy.

A run on a platform of several credit unions (INTERFACE.md §10) writes the
files twice over: for the platform as a whole (every bank's journeys, the
shared slots, and a table of the banks, also as ``banks.csv``) in the output
directory, and for each bank (its journeys, its answers, the slots its flows
held beside the platform's) in ``banks/CODE/`` under it. Each function takes
the run and, for a bank's files, that :class:`~simulator.twin.model.Bank`; a
one-bank run's files are what they were before platforms.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tabulate import tabulate

from renkei import resources
from renkei.contract.errors import ERRORS, Kind
from simulator.twin.interval import CONFIDENCE, Interval, t_quantile
from simulator.twin.model import IN_PROGRESS, Bank, Tally, Twin

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from simulator.twin.replications import Replications

#: Every code a screen or the telephony gateway can answer (INTERFACE.md §3 but the
#: account API's), in the contract's order, as the rows of the codes table.
FLOW_CODES: Final = tuple(code for code, error in ERRORS.items() if error.kind is not Kind.API)
#: The answers of the per-hour table, in the order load testers read them, each with
#: its colour in the plot: every column of the table is a band of the plot.
ANSWERS: Final = {
    "granted": "#27ae60",
    "cancelled": "#95a5a6",
    "congested": "#e67e22",
    "out_of_hours": "#34495e",
    "identity_mismatch": "#f1c40f",
    "locked_now": "#8e44ad",
    "B84": "#c0392b",
    "call_expired": "#2980b9",
}
#: The per-hour columns: attempts (authorization requests), then the answers.
HOURLY: Final = ("attempts", *ANSWERS)
#: The answers of the platform's table of banks: what differs from bank to bank.
BANK_ANSWERS: Final = (
    "granted",
    "congested",
    "out_of_hours",
    "identity_mismatch",
    "locked_now",
    "B84",
)
#: Where a platform run writes each bank's files, under its output directory.
BANKS_DIR: Final = "banks"
#: The colours of the banks' attempts in the platform's plot, in the scenario's order.
BANK_COLOURS: Final = ("#8fb3d9", "#f5b041", "#82e0aa", "#d7bde2", "#f1948a", "#85c1e9", "#f9e79f")


def shown_path(source: str) -> str:
    """A shipped file by its place in the repository (``scenarios/load.yaml``), any
    other relative to the current directory when it is under it, so that a summary
    reads the same from a checkout, from an installed package and on every machine."""
    shown = resources.shown(source)
    if shown != source:
        return shown
    try:
        return Path(source).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return source


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


@dataclass(frozen=True)
class Totals:
    """The one set of totals the header, the tables and the CSV all print.

    ``endings`` holds every journey started exactly once, those the end of the run
    cut short as ``in_progress`` (:meth:`~simulator.twin.model.Tally.endings`), so
    its counts add up to ``journeys`` and every share is of ``journeys``.
    """

    journeys: int
    attempts: int
    endings: Counter[str]

    @property
    def granted(self) -> int:
        return self.endings.get("granted", 0)

    def share(self, count: int) -> str:
        return _pct(count, self.journeys)


def tally_of(twin: Twin, bank: Bank | None = None) -> Tally:
    """The tally a set of files is about: ``bank``'s, else the whole run's."""
    return twin.tally if bank is None else bank.tally


def totals(twin: Twin, bank: Bank | None = None) -> Totals:
    t = tally_of(twin, bank)
    return Totals(t.journeys, t.attempts, t.endings())


def outcomes_table(twin: Twin, bank: Bank | None = None) -> str:
    total = totals(twin, bank)
    rows: list[tuple[str, int, str]] = [
        (k, v, total.share(v)) for k, v in sorted(total.endings.items(), key=_by_count)
    ]
    rows.append(("all journeys", sum(total.endings.values()), total.share(total.journeys)))
    return tabulate(rows, headers=("journey ended", "journeys", "share"), tablefmt="github")


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def codes_table(twin: Twin, bank: Bank | None = None) -> str:
    codes = tally_of(twin, bank).codes
    rows = [(code, codes.get(code, 0), ERRORS[code].status) for code in FLOW_CODES]
    return tabulate(rows, headers=("answer code", "times shown", "HTTP"), tablefmt="github")


def hour_start(twin: Twin, hour: int) -> dt.datetime:
    """The JST instant an hour row begins: the twin's hours count from 0:00 JST of
    the profile's day (:attr:`Twin.start`), as its clock does."""
    return twin.start + dt.timedelta(hours=hour)


def hour_label(twin: Twin, hour: int) -> str:
    """``13:00`` in a one-day run, ``12-26 13:00`` when the run has several days."""
    at = hour_start(twin, hour)
    return at.strftime("%H:%M") if twin.days == 1 else at.strftime("%m-%d %H:%M")


def _hourly_counts(twin: Twin, bank: Bank | None = None) -> list[tuple[int, list[int], int]]:
    """Each hour of the run: its index, the HOURLY counts and the peak slots (a bank's:
    the most its own flows held)."""
    tally = tally_of(twin, bank)
    rows = []
    for hour in range(twin.days * 24):
        counts = tally.hourly.get(hour, Counter())
        rows.append((hour, [counts.get(c, 0) for c in HOURLY], tally.peak_slots.get(hour, 0)))
    return rows


def _platform_slots(twin: Twin, hour: int) -> int:
    """The most slots the platform's flows held at a step of the hour, every bank's."""
    return twin.tally.peak_slots.get(hour, 0)


def hourly_table(twin: Twin, bank: Bank | None = None) -> str:
    counts = _hourly_counts(twin, bank)
    # A bank's table also shows the platform's slots, which its congestion is of.
    platform = [[_platform_slots(twin, hour)] if bank else [] for hour, _, _ in counts]
    rows: list[list[int | str]] = [
        [hour_label(twin, hour), *values, slots, *extra]
        for (hour, values, slots), extra in zip(counts, platform, strict=True)
    ]
    # The sums, so that the table can be checked against the header at a glance.
    rows.append(
        [
            "all",
            *(sum(values[i] for _, values, _ in counts) for i in range(len(HOURLY))),
            max((slots for _, _, slots in counts), default=0),
            *([max(max(p) for p in platform)] if bank else []),
        ]
    )
    headers = ("hour (JST)", *HOURLY, "peak slots", *(["platform slots"] if bank else []))
    return tabulate(rows, headers=headers, tablefmt="github")


def _share(twin: Twin, bank: Bank) -> str:
    return _pct_of(bank.share, sum(b.share for b in twin.banks))


def _pct_of(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def banks_rows(twin: Twin) -> list[list[str | int]]:
    """The platform's table of banks: per bank, then the platform's own row."""
    rows: list[list[str | int]] = []
    for bank in twin.banks:
        t = bank.tally
        rows.append(
            [
                bank.code,
                bank.name,
                len(bank.people),
                _share(twin, bank),
                bank.rules.lockout.threshold,
                t.journeys,
                t.attempts,
                *(t.codes.get(code, 0) for code in BANK_ANSWERS),
                max(t.peak_slots.values(), default=0),
            ]
        )
    t = twin.tally
    rows.append(
        [
            "platform",
            f"{len(twin.banks)} banks",
            len(twin.people),
            "100.0%",
            "",
            t.journeys,
            t.attempts,
            *(t.codes.get(code, 0) for code in BANK_ANSWERS),
            max(t.peak_slots.values(), default=0),
        ]
    )
    return rows


BANK_COLUMNS: Final = (
    "bank",
    "name",
    "bulk customers",
    "share",
    "locks after",
    "journeys",
    "attempts",
    *BANK_ANSWERS,
    "peak slots",
)


def banks_table(twin: Twin) -> str:
    """Each bank of the platform and the platform: its customers, its share of the
    arrivals, its lockout threshold, its journeys, attempts and the answers that
    differ from bank to bank, and the most slots its flows held (the platform's
    row: the most all banks' held together, R-PLAT-3)."""
    # The code is text: a 金融機関コード may start with 0.
    return tabulate(banks_rows(twin), headers=BANK_COLUMNS, tablefmt="github", disable_numparse=[0])


def banks_csv(twin: Twin) -> str:
    """The table of banks, one row per bank and one for the platform."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.replace(" ", "_") for c in BANK_COLUMNS])
    writer.writerows(banks_rows(twin))
    return out.getvalue()


def _head(twin: Twin, bank: Bank | None) -> list[str]:
    p = twin.profile
    total = totals(twin, bank)
    in_progress = total.endings.get(IN_PROGRESS, 0)
    title = f"renkei simulate — profile {p.name!r} ({shown_path(p.source)}), seed {twin.seed}"
    if bank is not None:
        title += f"; bank {bank.code} {bank.name}"
    return [
        title,
        _window(twin, bank),
        f"journeys {total.journeys:,}"
        + (f" ({in_progress:,} still in progress at the end)" if in_progress else "")
        + f"; attempts (authorization requests) {total.attempts:,}; "
        f"granted {total.granted:,} ({total.share(total.granted)})",
    ]


def _window(twin: Twin, bank: Bank | None) -> str:
    """The header's second line: the window in JST, the scenario, the customers and the
    capacity (a bank's: its share, its threshold, its own windows)."""
    capacity = twin.rules.capacity.flows
    end = twin.start + dt.timedelta(days=twin.days)
    window = (
        f"{twin.start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} JST ({twin.days} day(s)); "
        f"scenario {shown_path(twin.platform.source)}"
    )
    if twin.one_bank:
        where = f"; {len(twin.people):,} bulk customers; host capacity {capacity} flows"
    elif bank is None:
        where = (
            f", a platform of {len(twin.banks)} banks; {len(twin.people):,} bulk customers; "
            f"platform capacity {capacity} flows, every bank's flows together (R-PLAT-3)"
        )
    else:
        own = "; ".join(w.label for w in bank.rules.own_windows)
        where = (
            f", bank {bank.code} of {len(twin.banks)}; {len(bank.people):,} bulk customers, "
            f"{_share(twin, bank)} of the arrivals; locks after "
            f"{bank.rules.lockout.threshold} identity failures; "
            + (f"its own closed windows: {own}; " if own else "")
            + f"platform capacity {capacity} flows, shared with the other banks "
            "(peak slots: those this bank's flows held)"
        )
    return window + where


def summary(twin: Twin, bank: Bank | None = None) -> str:
    """The summary of the run (a platform's with its table of banks), or of ``bank``."""
    banks = ["", banks_table(twin)] if bank is None and not twin.one_bank else []
    return "\n".join(
        [
            *_head(twin, bank),
            *banks,
            "",
            outcomes_table(twin, bank),
            "",
            codes_table(twin, bank),
            "",
            hourly_table(twin, bank),
            "",
        ]
    )


def hourly_csv(twin: Twin, bank: Bank | None = None) -> str:
    """One row per hour, the hour as its JST start (ISO 8601 with ``+09:00``); a bank's
    also has the platform's peak slots."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["hour", *HOURLY, "peak_slots", *(["platform_peak_slots"] if bank else [])])
    for hour, values, slots in _hourly_counts(twin, bank):
        extra = [_platform_slots(twin, hour)] if bank else []
        writer.writerow(
            [hour_start(twin, hour).isoformat(timespec="minutes"), *values, slots, *extra]
        )
    return out.getvalue()


def codes_csv(twin: Twin, bank: Bank | None = None) -> str:
    """The codes table's counts, then the journeys' endings (adding up to the header's
    journeys)."""
    codes = tally_of(twin, bank).codes
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "name", "count"])
    for code in FLOW_CODES:
        writer.writerow(["code", code, codes.get(code, 0)])
    for name, count in sorted(totals(twin, bank).endings.items()):
        writer.writerow(["outcome", name, count])
    return out.getvalue()


def _hours_below(fig: Figure, answers: Axes, twin: Twin) -> Figure:
    """The hours (or days) under the answers' axes, their legend, the figure laid out."""
    ticks, tick_labels = _hour_ticks(twin)
    answers.set_xticks(ticks, tick_labels)
    answers.set_xlabel("hour (JST)" if twin.days == 1 else "day (JST, ticks at 0:00)")
    answers.legend(loc="best", fontsize=8, ncols=4)
    fig.tight_layout()
    return fig


def _hour_ticks(twin: Twin) -> tuple[list[int], list[str]]:
    """Ticks of the time axis, in JST: every 3 hours in a one-day run, else at 0:00 of
    the days (at most about a dozen)."""
    if twin.days == 1:
        hours = list(range(0, 24, 3))
        return hours, [hour_label(twin, h) for h in hours]
    step = -(-twin.days // 12)  # days between ticks, rounded up
    hours = list(range(0, twin.days * 24, step * 24))
    return hours, [f"{hour_start(twin, h):%m-%d}" for h in hours]


def figure(twin: Twin, bank: Bank | None = None) -> Figure:
    """Load and answers across the run, two panels over one JST time axis.

    The top panel has two y axes: attempts per hour (bars, left) and host slots
    (right: the peak in use each hour and the capacity line); the legend says which
    axis each belongs to. The bottom panel stacks every answer column of the
    per-hour table (:data:`ANSWERS`).

    A platform's plot stacks the attempts bank by bank and shows the slots of all
    banks against the platform's capacity (R-PLAT-3); a bank's shows its own
    attempts and answers, the slots its flows held and the platform's beside them.
    """
    # Imported here: matplotlib takes a while to load and only the plot needs it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display; and the same bytes for the same figure
    import matplotlib.pyplot as plt  # noqa: PLC0415

    counts = _hourly_counts(twin, bank)
    hours = [hour for hour, _, _ in counts]
    column = {name: [values[i] for _, values, _ in counts] for i, name in enumerate(HOURLY)}
    slots = [peak for _, _, peak in counts]
    capacity = twin.rules.capacity.flows
    fig, (load, answers) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    # Each bar spans its hour from the tick of its start; the slot line is drawn at
    # the middle of the hour whose peak it shows.
    bar = {"width": 0.9, "align": "edge"}
    middles = [h + 0.45 for h in hours]
    slot_axis = load.twinx()
    if twin.one_bank:
        load.bar(
            hours, column["attempts"], color="#8fb3d9", label="attempts per hour (left axis)", **bar
        )
        slot_axis.plot(
            middles, slots, color="#c0392b", marker=".", label="peak host slots in use (right axis)"
        )
        capacity_label = f"host capacity, {capacity} flows (right axis)"
        title = f"{twin.profile.name}: load on the host"
    elif bank is None:
        below = [0] * len(hours)
        for i, each in enumerate(twin.banks):
            attempts = [values[0] for _, values, _ in _hourly_counts(twin, each)]
            load.bar(
                hours,
                attempts,
                bottom=below,
                color=BANK_COLOURS[i % len(BANK_COLOURS)],
                label=f"attempts at bank {each.code} (left axis)",
                **bar,
            )
            below = [b + v for b, v in zip(below, attempts, strict=True)]
        slot_axis.plot(
            middles,
            slots,
            color="#c0392b",
            marker=".",
            label="peak platform slots in use, all banks (right axis)",
        )
        capacity_label = f"platform capacity, {capacity} flows, all banks (right axis)"
        title = f"{twin.profile.name}: load on the platform of {len(twin.banks)} banks"
    else:
        load.bar(
            hours,
            column["attempts"],
            color="#8fb3d9",
            label=f"attempts at bank {bank.code} per hour (left axis)",
            **bar,
        )
        slot_axis.plot(
            middles,
            [_platform_slots(twin, h) for h in hours],
            color="#c0392b",
            linestyle="--",
            linewidth=0.8,
            label="peak platform slots in use, all banks (right axis)",
        )
        slot_axis.plot(
            middles,
            slots,
            color="#c0392b",
            marker=".",
            label=f"peak slots held by bank {bank.code}'s flows (right axis)",
        )
        capacity_label = f"platform capacity, {capacity} flows, shared (right axis)"
        title = f"{twin.profile.name}: bank {bank.code} on a platform of {len(twin.banks)}"
    load.set_ylabel("attempts (authorization requests) per hour")
    slot_axis.axhline(capacity, color="#c0392b", linestyle=":", label=capacity_label)
    slot_axis.set_ylabel("host slots (flows in progress)", color="#c0392b")
    slot_axis.tick_params(axis="y", colors="#c0392b")
    slot_axis.set_ylim(0, capacity * 1.25)
    load.set_title(f"{title}, {twin.start:%Y-%m-%d} JST (seed {twin.seed})")
    handles, labels = load.get_legend_handles_labels()
    extra_handles, extra_labels = slot_axis.get_legend_handles_labels()
    load.legend(handles + extra_handles, labels + extra_labels, loc="best", fontsize=8)
    bottom = [0] * len(hours)
    for name, colour in ANSWERS.items():
        answers.bar(hours, column[name], bottom=bottom, color=colour, label=name, **bar)
        bottom = [b + v for b, v in zip(bottom, column[name], strict=True)]
    answers.set_ylabel("answers per hour (stacked)")
    return _hours_below(fig, answers, twin)


def plot(twin: Twin, path: Path, bank: Bank | None = None) -> None:
    """:func:`figure` as a PNG at ``path``."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig = figure(twin, bank)
    # No "Software" or date chunk: the file depends on the run only.
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def _write(twin: Twin, out: Path, bank: Bank | None, plots: bool) -> list[Path]:
    """The four files of the run, or of ``bank``, in ``out``; a platform's table of
    banks too."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    texts = [
        ("summary.txt", summary(twin, bank)),
        ("hourly.csv", hourly_csv(twin, bank)),
        ("codes.csv", codes_csv(twin, bank)),
    ]
    if bank is None and not twin.one_bank:
        texts.append(("banks.csv", banks_csv(twin)))
    for name, text in texts:
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    if plots:
        plot(twin, out / "day.png", bank)
        written.append(out / "day.png")
    return written


def write_outputs(twin: Twin, out: Path, plots: bool = True) -> list[Path]:
    """``summary.txt``, ``hourly.csv``, ``codes.csv`` and ``day.png`` in ``out``; for a
    platform also ``banks.csv``, and each bank's four files in ``banks/CODE/``."""
    written = _write(twin, out, None, plots)
    if not twin.one_bank:
        for bank in twin.banks:
            written += _write(twin, out / BANKS_DIR / bank.code, bank, plots)
    return written


# -- replications (renkei simulate --replications N) -------------------------------------------


def _is_zero(spread: Interval) -> bool:
    return spread.mean == 0 and spread.half == 0


def _mean(spread: Interval) -> str:
    return f"{spread.mean:,.1f}"


def _range(spread: Interval) -> str:
    return f"{spread.low:,.1f} to {spread.high:,.1f}"


def _cell(spread: Interval) -> str:
    """A count across the replications: its mean ± the half-width of its 95 % interval
    ("0" when it is 0 in every replication)."""
    return "0" if _is_zero(spread) else f"{spread.mean:,.1f} ± {spread.half:,.1f}"


def _hour_count(hour: int, column: str) -> Callable[[Tally], int]:
    return lambda t: t.hourly.get(hour, Counter()).get(column, 0)


def _hour_peak(hour: int) -> Callable[[Tally], int]:
    return lambda t: t.peak_slots.get(hour, 0)


def _code_count(code: str) -> Callable[[Tally], int]:
    return lambda t: t.codes.get(code, 0)


def _ending_count(name: str) -> Callable[[Tally], int]:
    return lambda t: t.endings().get(name, 0)


def _day_peak(t: Tally) -> int:
    return max(t.peak_slots.values(), default=0)


def _journeys(t: Tally) -> int:
    return t.journeys


def _attempts(t: Tally) -> int:
    return t.attempts


def seeds_label(reps: Replications) -> str:
    """``seeds 1 to 20``: the replications' seeds, consecutive from ``--seed``."""
    return f"seeds {reps.seeds[0]} to {reps.seeds[-1]}"


def replications_head(reps: Replications) -> list[str]:
    """The header of a replications' summary: the day as a single run's says it, the
    seeds, the totals' means and intervals, and how the interval is made."""
    twin, n = reps.twin, reps.n
    p = twin.profile
    journeys, attempts = reps.spread(_journeys), reps.spread(_attempts)
    granted = reps.spread(_code_count("granted"))
    t = t_quantile((1 + CONFIDENCE) / 2, n - 1)
    whole = "" if twin.one_bank else "; the platform as a whole (a bank's files: a single run)"
    return [
        f"renkei simulate — profile {p.name!r} ({shown_path(p.source)}), "
        f"{n} replications, {seeds_label(reps)}",
        _window(twin, None),
        f"journeys {_cell(journeys)}; attempts (authorization requests) {_cell(attempts)}; "
        f"granted {_cell(granted)} ({_pct_of(granted.mean, journeys.mean)})",
        f"each count: the mean of the {n} replications ± the half-width of its "
        f"{CONFIDENCE:.0%} interval (Student's t, {n - 1} degrees of freedom: "
        f"mean ± {t:.3f} × s / √{n}){whole}",
    ]


def replications_outcomes_table(reps: Replications) -> str:
    journeys = reps.spread(_journeys)
    spreads = {name: reps.spread(_ending_count(name)) for name in reps.endings()}
    ordered = sorted(spreads.items(), key=lambda item: (-item[1].mean, item[0]))
    rows = [(name, _mean(s), _range(s), _pct_of(s.mean, journeys.mean)) for name, s in ordered]
    rows.append(("all journeys", _mean(journeys), _range(journeys), "100.0%" if rows else "-"))
    headers = ("journey ended", "journeys (mean)", f"{CONFIDENCE:.0%} interval", "share")
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def replications_codes_table(reps: Replications) -> str:
    rows = []
    for code in FLOW_CODES:
        s = reps.spread(_code_count(code))
        rows.append((code, _mean(s), _range(s), ERRORS[code].status))
    headers = ("answer code", "times shown (mean)", f"{CONFIDENCE:.0%} interval", "HTTP")
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=[1, 2])


def _replications_hours(reps: Replications) -> list[tuple[int, list[Interval], Interval]]:
    """Each hour of the day: its index, the HOURLY columns' intervals, the peak slots'."""
    return [
        (
            hour,
            [reps.spread(_hour_count(hour, column)) for column in HOURLY],
            reps.spread(_hour_peak(hour)),
        )
        for hour in range(reps.twin.days * 24)
    ]


def _day_total(column: str) -> Callable[[Tally], int]:
    return lambda t: sum(c.get(column, 0) for c in t.hourly.values())


def replications_hourly_table(reps: Replications) -> str:
    twin = reps.twin
    rows: list[list[str]] = [
        [hour_label(twin, hour), *(_cell(s) for s in spreads), _cell(peak)]
        for hour, spreads, peak in _replications_hours(reps)
    ]
    # The last row is of each replication's whole day (its sums, its highest peak), not
    # the sums of the hours' intervals.
    rows.append(
        [
            "all",
            *(_cell(reps.spread(_day_total(column))) for column in HOURLY),
            _cell(reps.spread(_day_peak)),
        ]
    )
    headers = ("hour (JST)", *HOURLY, "peak slots")
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def replications_summary(reps: Replications) -> str:
    """The summary of N replications: the header, then the endings, the codes and the
    hours, each count as its mean and 95 % interval across the replications."""
    return "\n".join(
        [
            *replications_head(reps),
            "",
            replications_outcomes_table(reps),
            "",
            replications_codes_table(reps),
            "",
            replications_hourly_table(reps),
            "",
        ]
    )


def _numbers(spread: Interval) -> list[str]:
    return [f"{spread.mean:.3f}", f"{spread.low:.3f}", f"{spread.high:.3f}"]


def replications_hourly_csv(reps: Replications) -> str:
    """One row per hour (its JST start): each column's mean, low and high."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [*HOURLY, "peak_slots"]
    writer.writerow(["hour", *(f"{c}_{end}" for c in columns for end in ("mean", "low", "high"))])
    for hour, spreads, peak in _replications_hours(reps):
        at = hour_start(reps.twin, hour).isoformat(timespec="minutes")
        writer.writerow([at, *(x for s in [*spreads, peak] for x in _numbers(s))])
    return out.getvalue()


def replications_codes_csv(reps: Replications) -> str:
    """Each code's and each ending's mean, low and high across the replications."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "name", "mean", "low", "high"])
    for code in FLOW_CODES:
        writer.writerow(["code", code, *_numbers(reps.spread(_code_count(code)))])
    for name in reps.endings():
        writer.writerow(["outcome", name, *_numbers(reps.spread(_ending_count(name)))])
    return out.getvalue()


def replications_csv(reps: Replications) -> str:
    """One row per replication: its seed, journeys, attempts, the day's count of each
    answer of the per-hour table and its highest peak of slots — what the intervals
    are made of, to check or to analyse otherwise."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["seed", "journeys", "attempts", *ANSWERS, "peak_slots"])
    for seed, t in zip(reps.seeds, reps.tallies, strict=True):
        codes = [t.codes.get(answer, 0) for answer in ANSWERS]
        writer.writerow([seed, t.journeys, t.attempts, *codes, _day_peak(t)])
    return out.getvalue()


def replications_figure(reps: Replications) -> Figure:
    """A single run's two panels (:func:`figure`) drawn from the replications: each
    hour's mean with its 95 % interval — attempts as bars with error bars, the peak
    slots and every answer column of the per-hour table as a line in a band."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    twin = reps.twin
    hours_data = _replications_hours(reps)
    hours = [hour for hour, _, _ in hours_data]
    middles = [h + 0.45 for h in hours]
    column = {name: [spreads[i] for _, spreads, _ in hours_data] for i, name in enumerate(HOURLY)}
    peaks = [peak for _, _, peak in hours_data]
    capacity = twin.rules.capacity.flows
    where = "host" if twin.one_bank else f"platform of {len(twin.banks)} banks"
    fig, (load, answers) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    attempts = column["attempts"]
    load.bar(
        hours,
        [s.mean for s in attempts],
        width=0.9,
        align="edge",
        color="#8fb3d9",
        label="attempts per hour, mean (left axis)",
    )
    load.errorbar(
        middles,
        [s.mean for s in attempts],
        yerr=[s.half for s in attempts],
        fmt="none",
        ecolor="#2c3e50",
        elinewidth=0.8,
        capsize=2,
        label=f"its {CONFIDENCE:.0%} interval (left axis)",
    )
    slot_axis = load.twinx()
    slot_axis.plot(
        middles,
        [s.mean for s in peaks],
        color="#c0392b",
        marker=".",
        label=f"peak {where} slots in use, mean (right axis)",
    )
    slot_axis.fill_between(
        middles,
        [s.low for s in peaks],
        [s.high for s in peaks],
        color="#c0392b",
        alpha=0.15,
        linewidth=0,
        label=f"its {CONFIDENCE:.0%} interval (right axis)",
    )
    slot_axis.axhline(
        capacity, color="#c0392b", linestyle=":", label=f"capacity, {capacity} flows (right axis)"
    )
    slot_axis.set_ylabel("host slots (flows in progress)", color="#c0392b")
    slot_axis.tick_params(axis="y", colors="#c0392b")
    slot_axis.set_ylim(0, capacity * 1.25)
    load.set_ylabel("attempts (authorization requests) per hour")
    load.set_title(
        f"{twin.profile.name}: load on the {where}, {twin.start:%Y-%m-%d} JST, mean of "
        f"{reps.n} replications ({seeds_label(reps)}), {CONFIDENCE:.0%} interval (Student's t)",
        fontsize=10,
    )
    handles, labels = load.get_legend_handles_labels()
    extra_handles, extra_labels = slot_axis.get_legend_handles_labels()
    load.legend(handles + extra_handles, labels + extra_labels, loc="best", fontsize=8)
    for name, colour in ANSWERS.items():
        spreads = column[name]
        answers.plot(
            middles, [s.mean for s in spreads], color=colour, marker=".", linewidth=1, label=name
        )
        answers.fill_between(
            middles,
            [s.low for s in spreads],
            [s.high for s in spreads],
            color=colour,
            alpha=0.2,
            linewidth=0,
        )
    answers.set_ylim(bottom=0)
    answers.set_ylabel("answers per hour (mean)")
    answers.set_title(
        f"each answer column per hour: the mean, its {CONFIDENCE:.0%} interval shaded",
        fontsize=9,
    )
    return _hours_below(fig, answers, twin)


def write_replications(reps: Replications, out: Path, plots: bool = True) -> list[Path]:
    """``summary.txt``, ``hourly.csv``, ``codes.csv``, ``replications.csv`` and
    ``day.png`` of N replications, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("summary.txt", replications_summary(reps)),
        ("hourly.csv", replications_hourly_csv(reps)),
        ("codes.csv", replications_codes_csv(reps)),
        ("replications.csv", replications_csv(reps)),
    ):
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    if plots:
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig = replications_figure(reps)
        fig.savefig(out / "day.png", dpi=90, metadata={"Software": None})
        plt.close(fig)
        written.append(out / "day.png")
    return written
