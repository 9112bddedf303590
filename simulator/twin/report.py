"""What a twin run prints and writes: the summary tables, CSV and PNG plots.

Everything here is a function of the run's tallies only (never of the wall
clock), so that the same seed writes the same files, byte for byte — the
golden test compares :func:`summary` with a committed copy.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Final

from tabulate import tabulate

from simulator.core.errors import BY_CODE
from simulator.twin.model import Twin

#: The codes a journey can meet, in INTERFACE.md §3's order, as table columns.
FLOW_CODES: Final = (
    "required",
    "invalid",
    "account_unavailable",
    "identity_mismatch",
    "locked_now",
    "B84",
    "out_of_hours",
    "congested",
    "system_error",
    "service_unavailable",
    "call_pending",
    "call_expired",
    "flow_lost",
)
#: The per-hour columns: attempts, completions, and the codes load testers watch.
HOURLY: Final = (
    "attempts",
    "granted",
    "cancelled",
    "congested",
    "out_of_hours",
    "identity_mismatch",
    "locked_now",
    "B84",
    "call_expired",
)


ROOT: Final = Path(__file__).resolve().parents[2]


def shown_path(source: str) -> str:
    """A file of the checkout by its path in it, so a summary reads the same anywhere."""
    try:
        return Path(source).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return source


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def outcomes_table(twin: Twin) -> str:
    t = twin.tally
    finished = sum(t.outcomes.values())
    rows = [(k, v, _pct(v, finished)) for k, v in sorted(t.outcomes.items(), key=_by_count)]
    return tabulate(rows, headers=("journey ended", "journeys", "share"), tablefmt="github")


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def codes_table(twin: Twin) -> str:
    codes = twin.tally.codes
    rows = [(code, codes.get(code, 0), BY_CODE[code].status) for code in FLOW_CODES]
    return tabulate(rows, headers=("answer code", "times shown", "HTTP"), tablefmt="github")


def hourly_rows(twin: Twin) -> list[list[int | str]]:
    rows: list[list[int | str]] = []
    for hour in range(twin.days * 24):
        counts = twin.tally.hourly.get(hour, Counter())
        label = f"d{hour // 24 + 1} {hour % 24:02d}" if twin.days > 1 else f"{hour:02d}"
        rows.append(
            [label, *(counts.get(c, 0) for c in HOURLY), twin.tally.peak_slots.get(hour, 0)]
        )
    return rows


def hourly_table(twin: Twin) -> str:
    headers = ("hour", *HOURLY, "peak slots")
    return tabulate(hourly_rows(twin), headers=headers, tablefmt="github")


def summary(twin: Twin) -> str:
    p, t = twin.profile, twin.tally
    capacity = twin.rules.capacity.flows
    granted = t.outcomes.get("granted", 0)
    head = [
        f"renkei simulate — profile {p.name!r} ({shown_path(p.source)}), seed {twin.seed}",
        f"day {p.day} JST, {twin.days} day(s); scenario {shown_path(twin.scenario.source)}; "
        f"{len(twin.people):,} bulk customers; host capacity {capacity} flows",
        f"journeys {t.journeys:,}; attempts (authorization requests) {t.attempts:,}; "
        f"granted {granted:,} ({_pct(granted, t.journeys)})",
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
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["hour", *HOURLY, "peak_slots"])
    writer.writerows(hourly_rows(twin))
    return out.getvalue()


def codes_csv(twin: Twin) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "name", "count"])
    for code in FLOW_CODES:
        writer.writerow(["code", code, twin.tally.codes.get(code, 0)])
    for name, count in sorted(twin.tally.outcomes.items()):
        writer.writerow(["outcome", name, count])
    return out.getvalue()


def plot(twin: Twin, path: Path) -> None:
    """Load and outcomes across the day, one PNG with two panels."""
    # Imported here: matplotlib takes a while to load and only the plot needs it.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display; and the same bytes for the same figure
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = hourly_rows(twin)
    hours = list(range(len(rows)))
    column = {name: [int(r[i + 1]) for r in rows] for i, name in enumerate(HOURLY)}
    slots = [int(r[-1]) for r in rows]
    fig, (load, outcomes) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    load.bar(hours, column["attempts"], color="#8fb3d9", label="attempts (authorization requests)")
    load.set_ylabel("attempts per hour")
    slot_axis = load.twinx()
    slot_axis.plot(hours, slots, color="#c0392b", marker=".", label="peak slots in use")
    slot_axis.axhline(twin.rules.capacity.flows, color="#c0392b", linestyle=":", label="capacity")
    slot_axis.set_ylabel("host slots (flows in progress)")
    slot_axis.set_ylim(0, twin.rules.capacity.flows * 1.25)
    load.set_title(f"{twin.profile.name}: load on the host (seed {twin.seed})")
    handles = load.get_legend_handles_labels()
    extra = slot_axis.get_legend_handles_labels()
    load.legend(handles[0] + extra[0], handles[1] + extra[1], loc="upper left", fontsize=8)
    bottom = [0] * len(hours)
    palette = {
        "granted": "#27ae60",
        "congested": "#e67e22",
        "out_of_hours": "#7f8c8d",
        "identity_mismatch": "#f1c40f",
        "locked_now": "#8e44ad",
        "B84": "#c0392b",
        "call_expired": "#2980b9",
    }
    for name, colour in palette.items():
        outcomes.bar(hours, column[name], bottom=bottom, color=colour, label=name)
        bottom = [b + v for b, v in zip(bottom, column[name], strict=True)]
    outcomes.set_ylabel("answers per hour")
    outcomes.set_xlabel("hour (JST)")
    outcomes.legend(loc="upper left", fontsize=8, ncols=4)
    fig.tight_layout()
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
