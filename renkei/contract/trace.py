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

**Versions.** A trace of one bank is version 1, exactly as above. A trace of a
day on a platform of several credit unions (INTERFACE.md §10) is version 2: its
header also holds ``"banks"``, the platform's banks by 金融機関コード in the
scenario's order (the first is the one also served at BASE), and every step
says its bank in ``"b"``, one of those codes; the step is played at
``BASE/banks/CODE/`` (:func:`renkei.contract.banks.bank_base`)::

    {"kind": "renkei-trace", "version": 2, ..., "banks": {"9901": {"name": "中ノ郷信用組合",
     ...}, "9902": {...}}}
    {"t": "...", "j": 17, "b": "9902", "do": "customer", "in": {...}, "out": "SOA208"}

:func:`write` writes version 1 for a header without ``"banks"``, so that a
one-bank trace is byte for byte what it was before platforms and every reader
of version 1 reads it; :func:`read` reads both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from renkei.contract.banks import is_bank_code
from renkei.contract.screens import Screen

#: The version of a platform trace (its steps name their banks); a one-bank trace is
#: :data:`ONE_BANK_VERSION`. :func:`read` reads every one of :data:`VERSIONS`.
VERSION: Final = 2
ONE_BANK_VERSION: Final = 1
VERSIONS: Final = (ONE_BANK_VERSION, VERSION)
KIND: Final = "renkei-trace"
#: The header's member that makes a trace a platform's: the banks by 金融機関コード.
BANKS: Final = "banks"
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
    #: The bank's 金融機関コード in a platform trace; "" in a one-bank trace.
    bank: str = ""

    def to_json(self) -> str:
        record: dict[str, object]
        if self.bank:
            record = {"t": self.t, "j": self.journey, "b": self.bank, "do": self.do}
        else:
            record = {"t": self.t, "j": self.journey, "do": self.do}
        record["in"] = self.inputs
        record["out"] = self.out
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

    @property
    def banks(self) -> tuple[str, ...]:
        """The codes of a platform trace's banks, in the scenario's order; () for one bank."""
        banks = self.header.get(BANKS)
        return tuple(banks) if isinstance(banks, dict) else ()


def header_line(header: dict[str, Any]) -> str:
    """The first line: version 2 for a platform's header (it has ``"banks"``), else 1."""
    version = VERSION if BANKS in header else ONE_BANK_VERSION
    return json.dumps(
        {"kind": KIND, "version": version, **header}, ensure_ascii=False, separators=(",", ":")
    )


def write(path: Path, header: dict[str, Any], steps: Iterable[Step]) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(header_line(header) + "\n")
        for step in steps:
            out.write(step.to_json() + "\n")


def _step(record: object, where: str, banks: tuple[str, ...]) -> Step:
    """One step line; ``banks`` are the header's codes (a platform trace's), () else."""
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
    bank = record.get("b")
    if banks and bank not in banks:
        raise TraceError(
            f"{where}: 'b' must be the code of one of the header's banks "
            f"({', '.join(banks)}; got {bank!r})"
        )
    if not banks and bank is not None:
        raise TraceError(f"{where}: 'b' names a bank, but the header has no banks (version 1)")
    return Step(t, j, do, dict(inputs), out, bank or "")


def _banks(header: dict[str, Any], where: str) -> tuple[str, ...]:
    """A version 2 header's bank codes, checked; () for version 1."""
    banks = header.get(BANKS)
    if header.get("version") == ONE_BANK_VERSION:
        if banks is not None:
            raise TraceError(f"{where}: a version 1 trace has no {BANKS!r} (a platform's is 2)")
        return ()
    if not isinstance(banks, dict) or not banks:
        raise TraceError(f"{where}: a version 2 trace's header needs {BANKS!r}, the banks by code")
    wrong = [code for code in banks if not is_bank_code(code)]
    if wrong:
        raise TraceError(f"{where}: {BANKS!r}: {wrong[0]!r} is not a 4-digit 金融機関コード")
    return tuple(banks)


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
        if header.get("version") not in VERSIONS:
            raise TraceError(
                f"{where}: trace version {header.get('version')!r}, expected "
                + " or ".join(str(v) for v in VERSIONS)
            )
        banks = _banks(header, where)
        steps = [_step(record, where, banks) for where, record in lines]
    return Trace(header, steps)
