"""Every requirement the core decides is named by at least one unit test.

The IDs come from ``shared/spec/REQUIREMENTS.md``; a test names one in its
name (``test_r_err_host_3_…``), docstring or parameters. A range such as
``R-FLOW-1..6`` or ``R-ERR-HOST-2/3/4`` names each ID in it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REQUIREMENTS = TESTS.parents[1] / "shared" / "spec" / "REQUIREMENTS.md"
ID = re.compile(r"\bR-(FLOW|ACCT|ERR-INPUT|ERR-HOST|ERR-SYS|ERR-CALL|HOURS|AUTHZ)-(\d+)\b")


def named_ids(text: str) -> set[str]:
    """IDs named in ``text``, with ``R-X-1..3``, ``R-X-1/2`` and ``r_x_1`` forms."""
    text = re.sub(
        r"\br_(flow|acct|err_input|err_host|err_sys|err_call|hours|authz)_(\d+)",
        lambda m: f"R-{m.group(1).upper().replace('_', '-')}-{m.group(2)}",
        text,
    )
    found: set[str] = set()
    for m in re.finditer(ID.pattern + r"((?:(?:\.\.|/)\d+)*)", text):
        family, first = m.group(1), int(m.group(2))
        numbers = {first}
        tail = m.group(3)
        for op, n in re.findall(r"(\.\.|/)(\d+)", tail):
            last = max(numbers)
            numbers |= set(range(last + 1, int(n) + 1)) if op == ".." else {int(n)}
        found |= {f"R-{family}-{n}" for n in numbers}
    return found


def test_the_parser_expands_ranges() -> None:
    assert named_ids("R-FLOW-1..3 and R-ERR-HOST-2/4, r_hours_5") == {
        "R-FLOW-1", "R-FLOW-2", "R-FLOW-3", "R-ERR-HOST-2", "R-ERR-HOST-4", "R-HOURS-5",
    }  # fmt: skip


def test_every_requirement_is_named_by_a_test() -> None:
    if not REQUIREMENTS.exists():
        pytest.skip("shared/spec/REQUIREMENTS.md is not beside this checkout")
    wanted = {m.group(0) for m in ID.finditer(REQUIREMENTS.read_text("utf-8"))}
    assert len(wanted) >= 30
    named: set[str] = set()
    for path in TESTS.glob("test_*.py"):
        if path.name != Path(__file__).name:
            named |= named_ids(path.read_text("utf-8"))
    assert sorted(wanted - named) == []
