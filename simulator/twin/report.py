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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tabulate import tabulate

from renkei import resources
from renkei.contract.errors import ERRORS, Kind
from simulator.twin.model import IN_PROGRESS, Bank, Tally, Twin

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
    capacity = twin.rules.capacity.flows
    end = twin.start + dt.timedelta(days=twin.days)
    in_progress = total.endings.get(IN_PROGRESS, 0)
    title = f"renkei simulate — profile {p.name!r} ({shown_path(p.source)}), seed {twin.seed}"
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
        title += f"; bank {bank.code} {bank.name}"
        own = "; ".join(w.label for w in bank.rules.own_windows)
        where = (
            f", bank {bank.code} of {len(twin.banks)}; {len(bank.people):,} bulk customers, "
            f"{_share(twin, bank)} of the arrivals; locks after "
            f"{bank.rules.lockout.threshold} identity failures; "
            + (f"its own closed windows: {own}; " if own else "")
            + f"platform capacity {capacity} flows, shared with the other banks "
            "(peak slots: those this bank's flows held)"
        )
    return [
        title,
        window + where,
        f"journeys {total.journeys:,}"
        + (f" ({in_progress:,} still in progress at the end)" if in_progress else "")
        + f"; attempts (authorization requests) {total.attempts:,}; "
        f"granted {total.granted:,} ({total.share(total.granted)})",
    ]


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
    ticks, tick_labels = _hour_ticks(twin)
    answers.set_xticks(ticks, tick_labels)
    answers.set_xlabel("hour (JST)" if twin.days == 1 else "day (JST, ticks at 0:00)")
    answers.legend(loc="best", fontsize=8, ncols=4)
    fig.tight_layout()
    return fig


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
