"""A traffic trace: what the SimPy twin's customers did, step by step, as JSON lines.

The trace is the contract between ``renkei simulate --trace FILE`` (which
writes it) and ``renkei replay FILE`` (which plays it against a live server):
it names only the public interface's terms (screens by 画面ID, buttons,
form fields of INTERFACE.md §1, the telephony gateway of §4, the machine codes
of §3), so that neither side needs anything of the other.

The first line is the header::

    {"kind": "renkei-trace", "version": 1, "profile": "weekday", "seed": 7,
     "scenario": "scenarios/load.yaml", "host_day": "2026-12-02",
     "start": "...+09:00", "end": "...+09:00", "journeys": 120, "steps": 871}

then one line per step, in the order of simulated time::

    {"t": "2026-12-02T09:00:03.250000+09:00", "j": 17, "do": "customer",
     "in": {"name_kana": "ﾃﾞｰﾀ ﾀﾛｳ", ...}, "out": "SOA208"}

``do`` is one of :data:`ACTIONS`; ``out`` is the screen shown after the step
(``SOA201``…), ``granted``, ``cancelled``, ``verified`` / ``not_verified`` for a
call, or the machine code of the error (``identity_mismatch``, ``B84``…). A
step whose ``do`` is ``authorize`` carries the partner app in ``in``; a
``call`` carries the calling number, the caller-ID choice and whether the
customer dialled the number ④ showed (the replayer reads that number from the
screen, as the server draws its own).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from renkei.contract.screens import Screen

VERSION: Final = 1
KIND: Final = "renkei-trace"
#: The buttons and calls a trace may hold, in the order a journey meets them.
ACTIONS: Final = (
    "authorize",  # the partner app sends the browser to /oauth/authorize
    "account",  # ① 「次へ」
    "customer",  # ② 「次へ」
    "phone",  # ③ 「電話番号の決定」
    "call",  # the customer's phone calls the number ④ shows
    "confirm",  # ④ 「確定する」
    "pin",  # ⑤ 「次へ」
    "consent",  # ⑥ 「許可する」 / 「拒否する」
    "cancel",  # 「中止する」 on ②–⑤
)
#: The screen whose button each of the other actions presses, which fixes the path
#: it posts to (INTERFACE.md §2). ``authorize`` comes before any screen, ``call`` is
#: the customer's phone while ④ shows, ``cancel`` posts to CANCEL_PATH from ②–⑤.
BUTTONS: Final[dict[str, Screen]] = {
    "account": Screen.ACCOUNT,
    "customer": Screen.CUSTOMER,
    "phone": Screen.PHONE,
    "confirm": Screen.CALL,
    "pin": Screen.PIN,
    "consent": Screen.CONSENT,
}


class TraceError(ValueError):
    """A trace file that cannot be read: the message names the line."""


@dataclass(frozen=True)
class Step:
    """One thing a customer did, and what the twin saw come back."""

    t: str
    journey: int
    do: str
    inputs: dict[str, str] = field(default_factory=dict)
    out: str = ""

    def to_json(self) -> str:
        record = {"t": self.t, "j": self.journey, "do": self.do, "in": self.inputs, "out": self.out}
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Trace:
    header: dict[str, Any]
    steps: list[Step]

    def journeys(self) -> dict[int, list[Step]]:
        """The steps of each journey, in order."""
        by_journey: dict[int, list[Step]] = {}
        for step in self.steps:
            by_journey.setdefault(step.journey, []).append(step)
        return by_journey


def header_line(header: dict[str, Any]) -> str:
    return json.dumps(
        {"kind": KIND, "version": VERSION, **header}, ensure_ascii=False, separators=(",", ":")
    )


def write(path: Path, header: dict[str, Any], steps: Iterable[Step]) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(header_line(header) + "\n")
        for step in steps:
            out.write(step.to_json() + "\n")


def _step(record: object, where: str) -> Step:
    if not isinstance(record, dict):
        raise TraceError(f"{where}: a step must be a JSON object")
    t, j, do, inputs, out = (record.get(k) for k in ("t", "j", "do", "in", "out"))
    if not isinstance(t, str) or not isinstance(j, int) or isinstance(j, bool):
        raise TraceError(f"{where}: a step needs 't' (ISO-8601 text) and 'j' (a journey number)")
    if do not in ACTIONS:
        raise TraceError(f"{where}: 'do' must be one of {', '.join(ACTIONS)} (got {do!r})")
    if not isinstance(inputs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in inputs.items()
    ):
        raise TraceError(f"{where}: 'in' must map field names to text")
    if not isinstance(out, str):
        raise TraceError(f"{where}: 'out' must be text")
    return Step(t, j, do, dict(inputs), out)


def _lines(stream: IO[str], source: str) -> Iterator[tuple[str, object]]:
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        where = f"{source}:{n}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as e:
            raise TraceError(f"{where}: not JSON ({e.msg})") from None


def read(path: Path) -> Trace:
    """Read and check a trace; a bad file raises :class:`TraceError`."""
    try:
        stream = path.open(encoding="utf-8")
    except OSError as e:
        raise TraceError(f"{path}: cannot read ({e.strerror})") from None
    with stream:
        lines = _lines(stream, str(path))
        first = next(lines, None)
        if first is None:
            raise TraceError(f"{path}: empty, not a renkei trace")
        where, header = first
        if not isinstance(header, dict) or header.get("kind") != KIND:
            raise TraceError(f"{where}: not a renkei trace (no {KIND} header)")
        if header.get("version") != VERSION:
            raise TraceError(
                f"{where}: trace version {header.get('version')!r}, expected {VERSION}"
            )
        steps = [_step(record, where) for where, record in lines]
    return Trace(header, steps)
