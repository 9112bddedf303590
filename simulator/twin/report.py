"""What a twin run prints and writes: the summary tables, CSV and PNG plots.

Everything here is a function of the run's tallies only (never of the wall
clock), so that the same seed writes the same files, byte for byte — the
golden test compares :func:`summary` with a committed copy.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tabulate import tabulate

from renkei import resources
from renkei.contract.errors import ERRORS, Kind
from simulator.twin.model import IN_PROGRESS, Twin

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def totals(twin: Twin) -> Totals:
    t = twin.tally
    return Totals(t.journeys, t.attempts, t.endings())


def outcomes_table(twin: Twin) -> str:
    total = totals(twin)
    rows: list[tuple[str, int, str]] = [
        (k, v, total.share(v)) for k, v in sorted(total.endings.items(), key=_by_count)
    ]
    rows.append(("all journeys", sum(total.endings.values()), total.share(total.journeys)))
    return tabulate(rows, headers=("journey ended", "journeys", "share"), tablefmt="github")


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def codes_table(twin: Twin) -> str:
    codes = twin.tally.codes
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


def _hourly_counts(twin: Twin) -> list[tuple[int, list[int], int]]:
    """Each hour of the run: its index, the HOURLY counts and the peak slots."""
    rows = []
    for hour in range(twin.days * 24):
        counts = twin.tally.hourly.get(hour, Counter())
        rows.append((hour, [counts.get(c, 0) for c in HOURLY], twin.tally.peak_slots.get(hour, 0)))
    return rows


def hourly_table(twin: Twin) -> str:
    counts = _hourly_counts(twin)
    rows: list[list[int | str]] = [
        [hour_label(twin, hour), *values, slots] for hour, values, slots in counts
    ]
    # The sums, so that the table can be checked against the header at a glance.
    rows.append(
        [
            "all",
            *(sum(values[i] for _, values, _ in counts) for i in range(len(HOURLY))),
            max((slots for _, _, slots in counts), default=0),
        ]
    )
    headers = ("hour (JST)", *HOURLY, "peak slots")
    return tabulate(rows, headers=headers, tablefmt="github")


def summary(twin: Twin) -> str:
    p = twin.profile
    total = totals(twin)
    capacity = twin.rules.capacity.flows
    end = twin.start + dt.timedelta(days=twin.days)
    in_progress = total.endings.get(IN_PROGRESS, 0)
    head = [
        f"renkei simulate — profile {p.name!r} ({shown_path(p.source)}), seed {twin.seed}",
        f"{twin.start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} JST ({twin.days} day(s)); "
        f"scenario {shown_path(twin.scenario.source)}; "
        f"{len(twin.people):,} bulk customers; host capacity {capacity} flows",
        f"journeys {total.journeys:,}"
        + (f" ({in_progress:,} still in progress at the end)" if in_progress else "")
        + f"; attempts (authorization requests) {total.attempts:,}; "
        f"granted {total.granted:,} ({total.share(total.granted)})",
    ]
    return "\n".join(
        [
            *head,
            "",
            outcomes_table(twin),
            "",
            codes_table(twin),
            "",
            hourly_table(twin),
            "",
        ]
    )


def hourly_csv(twin: Twin) -> str:
    """One row per hour, the hour as its JST start (ISO 8601 with ``+09:00``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["hour", *HOURLY, "peak_slots"])
    for hour, values, slots in _hourly_counts(twin):
        writer.writerow([hour_start(twin, hour).isoformat(timespec="minutes"), *values, slots])
    return out.getvalue()


def codes_csv(twin: Twin) -> str:
    """The codes table's counts, then the journeys' endings (adding up to the header's
    journeys)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "name", "count"])
    for code in FLOW_CODES:
        writer.writerow(["code", code, twin.tally.codes.get(code, 0)])
    for name, count in sorted(totals(twin).endings.items()):
        writer.writerow(["outcome", name, count])
    return out.getvalue()


def _hour_ticks(twin: Twin) -> tuple[list[int], list[str]]:
    """Ticks of the time axis, in JST: every 3 hours in a one-day run, else at 0:00 of
    the days (at most about a dozen)."""
    if twin.days == 1:
        hours = list(range(0, 24, 3))
        return hours, [hour_label(twin, h) for h in hours]
    step = -(-twin.days // 12)  # days between ticks, rounded up
    hours = list(range(0, twin.days * 24, step * 24))
    return hours, [f"{hour_start(twin, h):%m-%d}" for h in hours]


def figure(twin: Twin) -> Figure:
    """Load and answers across the run, two panels over one JST time axis.

    The top panel has two y axes: attempts per hour (bars, left) and host slots
    (right: the peak in use each hour and the capacity line); the legend says which
    axis each belongs to. The bottom panel stacks every answer column of the
    per-hour table (:data:`ANSWERS`).
    """
    # Imported here: matplotlib takes a while to load and only the plot needs it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display; and the same bytes for the same figure
    import matplotlib.pyplot as plt  # noqa: PLC0415

    counts = _hourly_counts(twin)
    hours = [hour for hour, _, _ in counts]
    column = {name: [values[i] for _, values, _ in counts] for i, name in enumerate(HOURLY)}
    slots = [peak for _, _, peak in counts]
    capacity = twin.rules.capacity.flows
    fig, (load, answers) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    # Each bar spans its hour from the tick of its start; the slot line is drawn at
    # the middle of the hour whose peak it shows.
    bar = {"width": 0.9, "align": "edge"}
    middles = [h + 0.45 for h in hours]
    load.bar(
        hours, column["attempts"], color="#8fb3d9", label="attempts per hour (left axis)", **bar
    )
    load.set_ylabel("attempts (authorization requests) per hour")
    slot_axis = load.twinx()
    slot_axis.plot(
        middles, slots, color="#c0392b", marker=".", label="peak host slots in use (right axis)"
    )
    slot_axis.axhline(
        capacity,
        color="#c0392b",
        linestyle=":",
        label=f"host capacity, {capacity} flows (right axis)",
    )
    slot_axis.set_ylabel("host slots (flows in progress)", color="#c0392b")
    slot_axis.tick_params(axis="y", colors="#c0392b")
    slot_axis.set_ylim(0, capacity * 1.25)
    load.set_title(
        f"{twin.profile.name}: load on the host, {twin.start:%Y-%m-%d} JST (seed {twin.seed})"
    )
    handles, labels = load.get_legend_handles_labels()
    extra_handles, extra_labels = slot_axis.get_legend_handles_labels()
    load.legend(handles + extra_handles, labels + extra_labels, loc="best", fontsize=8)
    bottom = [0] * len(hours)
    for name, colour in ANSWERS.items():
        answers.bar(hours, column[name], bottom=bottom, color=colour, label=name, **bar)
        bottom = [b + v for b, v in zip(bottom, column[name], strict=True)]
    answers.set_ylabel("answers per hour (stacked)")
    ticks, tick_labels = _hour_ticks(twin)
    answers.set_xticks(ticks, tick_labels)
    answers.set_xlabel("hour (JST)" if twin.days == 1 else "day (JST, ticks at 0:00)")
    answers.legend(loc="best", fontsize=8, ncols=4)
    fig.tight_layout()
    return fig


def plot(twin: Twin, path: Path) -> None:
    """:func:`figure` as a PNG at ``path``."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig = figure(twin)
    # No "Software" or date chunk: the file depends on the run only.
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def write_outputs(twin: Twin, out: Path, plots: bool = True) -> list[Path]:
    """``summary.txt``, ``hourly.csv``, ``codes.csv`` and ``day.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("summary.txt", summary(twin)),
        ("hourly.csv", hourly_csv(twin)),
        ("codes.csv", codes_csv(twin)),
    ):
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    if plots:
        plot(twin, out / "day.png")
        written.append(out / "day.png")
    return written
