"""``renkei replay``'s plot: the twin's and the server's answers, the server's latency.

Beside its table of answers, ``renkei replay`` writes a PNG (``--plot FILE``;
by default beside the trace, ``TRACE.replay.png``; ``--no-plot`` writes none)
of three panels:

1. **answers per hour**, for each hour of the trace's day (JST): the twin's
   answers stacked on the left of the hour, the server's on the right, each
   answer a colour, so that an hour where they differ shows at a glance;
2. **server − twin**, per hour and answer: a line at 0 when the server agreed
   with the twin on every step of the hour;
3. **the server's latency per step** over the run: each step sent, at the wall
   time it was sent (seconds after the replay's first step), against how long
   the server took to answer it, one colour per button (``authorize``,
   ``account``, … ``call``), each named in the legend with its median and 95th
   percentile.

A step's latency is what the replayer's client measured around the step: its
request and the redirects it follows to the screen shown (``authorize`` is the
partner app's authorization request and the screens it leads to, ``call`` the
gateway's answer), on whatever network lies between; the clock steering before
a step is not in it. :func:`series` is the data behind the plot, counted from
the very steps the table counts, so that the two say the same.

The tester imports nothing of the bank (tests/test_two_sides.py): the steps are
the trace's (:mod:`renkei.contract.trace`). matplotlib is imported only to draw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from renkei.contract.trace import ACTIONS, Step, Trace

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The plot's file beside the trace when ``--plot`` names none.
SUFFIX: Final = ".replay.png"


class Acts(Protocol):
    """One journey's parties on the server (``harness.replay.Customer``)."""

    def act(self, step: Step) -> str: ...


@dataclass(frozen=True)
class Answered:
    """A step as the replay sent it: the server's answer, when the step was sent (the
    ``time.perf_counter`` of the replaying process) and the seconds it took."""

    step: Step
    out: str
    sent: float
    seconds: float


def timed(customer: Acts, step: Step) -> tuple[str, float, float]:
    """``customer.act(step)``: the answer, the instant it was sent, its duration."""
    began = time.perf_counter()
    out = customer.act(step)
    return out, began, time.perf_counter() - began


@dataclass(frozen=True)
class Series:
    """The data behind the plot.

    ``hours`` are the hours of the trace's day (0 = 0:00 JST of its first day) from
    the first to the last step's; ``twin[code]`` and ``server[code]`` count each
    answer per hour (the same index as ``hours``); ``latency[button]`` is each step
    of that button as ``(seconds after the first step was sent, seconds it took)``.
    """

    start: dt.datetime
    hours: list[int]
    twin: dict[str, list[int]]
    server: dict[str, list[int]]
    latency: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def totals(self, side: dict[str, list[int]]) -> Counter[str]:
        """Each answer's count over the hours: the table's column of ``side``."""
        return Counter({code: sum(counts) for code, counts in side.items() if sum(counts)})

    def codes(self) -> list[str]:
        """Every answer either side gave, the most frequent first (the colours' order)."""
        both = self.totals(self.twin) + self.totals(self.server)
        return sorted(both, key=lambda code: (-both[code], code))


def trace_start(trace: Trace) -> dt.datetime:
    """0:00 of the trace's first day: the twin's ``start`` when the header has it, else
    midnight of the first step's day, in its own offset (JST)."""
    given = trace.header.get("start")
    if isinstance(given, str):
        try:
            return dt.datetime.fromisoformat(given)
        except ValueError:
            pass
    first = dt.datetime.fromisoformat(trace.steps[0].t) if trace.steps else None
    if first is None:
        return dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return first.replace(hour=0, minute=0, second=0, microsecond=0)


def series(trace: Trace, answered: list[Answered]) -> Series:
    """What the plot draws, from the steps the replay sent and their answers."""
    start = trace_start(trace)

    def hour(step: Step) -> int:
        return int((dt.datetime.fromisoformat(step.t) - start).total_seconds() // 3600)

    at = [hour(a.step) for a in answered]
    hours = list(range(min(at), max(at) + 1)) if at else []
    index = {h: i for i, h in enumerate(hours)}
    twin: dict[str, list[int]] = {}
    server: dict[str, list[int]] = {}
    for a, h in zip(answered, at, strict=True):
        twin.setdefault(a.step.out, [0] * len(hours))[index[h]] += 1
        server.setdefault(a.out, [0] * len(hours))[index[h]] += 1
    for side, other in ((twin, server), (server, twin)):
        for code in other:
            side.setdefault(code, [0] * len(hours))
    origin = min((a.sent for a in answered), default=0.0)
    latency: dict[str, list[tuple[float, float]]] = {}
    for a in answered:
        latency.setdefault(a.step.do, []).append((a.sent - origin, a.seconds))
    ordered: dict[str, list[tuple[float, float]]] = {
        str(do): latency[do] for do in ACTIONS if do in latency
    }
    return Series(start, hours, twin, server, ordered)


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def figure(trace: Trace, answered: list[Answered]) -> Figure:
    """The three panels of the module's docstring."""
    import matplotlib  # noqa: PLC0415 (slow to import; only the plot needs it)

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt  # noqa: PLC0415

    data = series(trace, answered)
    codes = data.codes()
    palette = plt.get_cmap("tab20")
    colour = {code: palette(i % 20) for i, code in enumerate(codes)}
    fig, (counts, differ, latency) = plt.subplots(
        3, 1, figsize=(11, 10), gridspec_kw={"height_ratios": [3, 1.4, 3]}
    )
    h = trace.header
    counts.set_title(
        f"renkei replay of {h.get('profile')!r} (seed {h.get('seed')}): answers per hour, "
        "the twin's (left, hatched) and the server's (right)",
        fontsize=10,
    )
    width = 0.42
    twin_x = [hour + 0.05 for hour in data.hours]
    server_x = [hour + 0.05 + width for hour in data.hours]
    twin_below = [0] * len(data.hours)
    server_below = [0] * len(data.hours)
    for code in codes:
        common = {"width": width, "align": "edge", "color": colour[code]}
        counts.bar(twin_x, data.twin[code], bottom=twin_below, hatch="///", **common)
        counts.bar(server_x, data.server[code], bottom=server_below, label=code, **common)
        twin_below = [b + v for b, v in zip(twin_below, data.twin[code], strict=True)]
        server_below = [b + v for b, v in zip(server_below, data.server[code], strict=True)]
    counts.set_ylabel("answers per hour")
    if codes:
        counts.legend(loc="best", fontsize=7, ncols=4)
    middles = [hour + 0.5 for hour in data.hours]
    for code in codes:
        gap = [s - t for s, t in zip(data.server[code], data.twin[code], strict=True)]
        if any(gap):
            differ.plot(middles, gap, color=colour[code], marker="o", label=code)
    differ.axhline(0, color="#7f8c8d", linewidth=0.8)
    differ.set_ylabel("server − twin")
    agreed = all(data.server[c] == data.twin[c] for c in codes)
    differ.set_title(
        "the server agreed with the twin in every hour"
        if agreed
        else "where the server's count differs from the twin's",
        fontsize=9,
    )
    if agreed:
        differ.set_ylim(-1, 1)  # the line at 0 in the middle, not on the frame
    else:
        differ.legend(loc="best", fontsize=7, ncols=4)
    ticks = _ticks(data)
    for ax in (counts, differ):
        ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
        ax.set_xlabel("hour of the trace's day (JST)")
        if data.hours:
            ax.set_xlim(data.hours[0], data.hours[-1] + 1)
    # A colour per button in the trace's order of actions: the same on every plot.
    _latency(latency, data, {do: plt.get_cmap("tab10")(ACTIONS.index(do) % 10) for do in ACTIONS})
    fig.tight_layout()
    return fig


def _latency(latency: Axes, data: Series, buttons: dict[str, Any]) -> None:
    """The third panel: each step sent, when it was sent against how long it took."""
    for do, points in data.latency.items():
        seconds = [s for _, s in points]
        label = (
            f"{do} ({len(points):,}: median {statistics.median(seconds) * 1000:.0f} ms, "
            f"p95 {_percentile(seconds, 95) * 1000:.0f} ms)"
        )
        latency.scatter(
            [at for at, _ in points],
            [s * 1000 for s in seconds],
            s=6,
            color=buttons[do],
            label=label,
            alpha=0.7,
            linewidths=0,
        )
    if data.latency:
        latency.set_yscale("log")
        latency.legend(loc="best", fontsize=7, ncols=2, markerscale=2)
    latency.set_ylabel("the server's answer to a step (ms)")
    latency.set_xlabel("wall seconds since the replay's first step")
    latency.set_title("the server's latency per step over the run", fontsize=9)


def _ticks(data: Series) -> list[tuple[int, str]]:
    """Every 3 hours within a day, else at 0:00 of the days (about a dozen at most)."""
    if not data.hours:
        return []
    first, last = data.hours[0], data.hours[-1] + 1
    if last - first <= 24:
        return [
            (h, f"{data.start + dt.timedelta(hours=h):%H:%M}")
            for h in range(first - first % 3, last + 1, 3)
            if h >= first
        ]
    step = 24 * -(-(last - first) // (24 * 12))
    return [
        (h, f"{data.start + dt.timedelta(hours=h):%m-%d}")
        for h in range(first - first % 24, last + 1, step)
        if h >= first
    ]


def write(path: Path, trace: Trace, answered: list[Answered]) -> None:
    """:func:`figure` as a PNG at ``path`` (its folder made if need be)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig = figure(trace, answered)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=80, metadata={"Software": None})
    finally:
        plt.close(fig)


# -- the command's options and its one line ---------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="the PNG of the twin's and the server's answers per hour and the server's "
        f"latency per step (default: beside the trace, TRACE{SUFFIX})",
    )
    p.add_argument("--no-plot", action="store_true", help="write no plot")


def plot_path(args: argparse.Namespace) -> Path | None:
    """Where the plot goes: ``--plot``, else beside the trace; None with ``--no-plot``."""
    if args.no_plot:
        return None
    if args.plot:
        return Path(args.plot)
    trace = Path(args.trace)
    return trace.with_name(trace.stem + SUFFIX)


def write_for(args: argparse.Namespace, trace: Trace, answered: list[Answered]) -> tuple[str, bool]:
    """Write the plot the options ask for: the line that says so, and whether it was
    written (False: the line is the reason it was not, for stderr)."""
    path = plot_path(args)
    if path is None:
        return "", True
    try:
        write(path, trace, answered)
    except OSError as error:
        return f"renkei replay: cannot write the plot {path}: {error.strerror or error}", False
    return f"renkei replay: wrote the plot {path}", True
