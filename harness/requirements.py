"""Every requirement ID of ``REQUIREMENTS.md``, for the conformance report.

The report lists every requirement, covered or not, so it needs the whole list,
not only the IDs the features happen to name. The list is parsed from
``../shared/spec/REQUIREMENTS.md`` when the specification is beside the
checkout, and otherwise from :mod:`harness.requirements_md`, a verbatim copy
kept in the package for installs without ``shared/`` (a test checks that the
copy is current; regenerate it with ``python -m harness.requirements --write``).

Requirements are the rows ``| R-XXX-N | … |`` of the tables; their area is the
``## R-XXX: title`` section they stand in.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: ``shared/spec/REQUIREMENTS.md`` beside the checkout (``/work/main`` → ``/work/shared``).
SPEC: Final = Path(__file__).resolve().parents[2] / "shared" / "spec" / "REQUIREMENTS.md"
COPY_MODULE: Final = Path(__file__).resolve().with_name("requirements_md.py")

SECTION = re.compile(r"^##\s+(R-[A-Z]+):\s*(.*?)\s*$")
ROW = re.compile(r"^\|\s*(R-[A-Z]+(?:-[A-Z]+)*-\d+)\s*\|(.*)\|\s*$")
#: What a requirement ID looks like (a tag such as ``@R-FLOW-10`` is one, known or not).
ID_SHAPE: Final = re.compile(r"^R-[A-Z]+(?:-[A-Z]+)*-\d+$")


@dataclass(frozen=True)
class Requirement:
    """One row of REQUIREMENTS.md: ``what`` is its first cell after the ID (the
    screen, rule, message or window), ``detail`` the cells after that."""

    id: str
    area: str
    what: str
    detail: str = ""

    @property
    def text(self) -> str:
        return f"{self.what} — {self.detail}" if self.detail else self.what


@dataclass(frozen=True)
class Requirements:
    """The requirements in the order of the file, the areas' titles, and where they came from."""

    items: tuple[Requirement, ...]
    areas: tuple[tuple[str, str], ...]
    source: str

    def ids(self) -> list[str]:
        return [r.id for r in self.items]

    def by_id(self) -> dict[str, Requirement]:
        return {r.id: r for r in self.items}


def _cells(text: str) -> list[str]:
    return [c.strip() for c in text.split("|")]


def parse(text: str, source: str = "REQUIREMENTS.md") -> Requirements:
    """Every ``| R-… |`` row of the Markdown, in order, with its ``## R-XXX:`` area.

    Raises ``ValueError`` if an ID appears twice or none is found.
    """
    items: list[Requirement] = []
    areas: list[tuple[str, str]] = []
    area = ""
    for line in text.splitlines():
        if m := SECTION.match(line):
            area = m.group(1)
            areas.append((area, m.group(2)))
            continue
        if m := ROW.match(line):
            cells = _cells(m.group(2))
            what = cells[0] if cells else ""
            detail = " — ".join(c for c in cells[1:] if c)
            rid = m.group(1)
            items.append(Requirement(rid, area or rid.rsplit("-", 1)[0], what, detail))
    ids = [r.id for r in items]
    if not ids:
        raise ValueError(f"{source}: no requirement rows (| R-… |) found")
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{source}: requirement IDs given twice: {', '.join(twice)}")
    return Requirements(tuple(items), tuple(areas), source)


def load(path: Path | None = None) -> Requirements:
    """``path``; else the specification beside the checkout; else the packaged copy."""
    if path is not None:
        return parse(path.read_text("utf-8"), str(path))
    if SPEC.exists():
        return parse(SPEC.read_text("utf-8"), "../shared/spec/REQUIREMENTS.md")
    from harness.requirements_md import TEXT  # noqa: PLC0415 (only without the spec)

    return parse(TEXT, "the copy in harness/requirements_md.py")


def copy_module(text: str) -> str:
    """The source of :mod:`harness.requirements_md` holding ``text`` verbatim."""
    if '"""' in text or text.endswith("\\"):
        raise ValueError("REQUIREMENTS.md cannot be kept in a raw triple-quoted string")
    return (
        "# ruff: noqa: E501\n"
        '"""A verbatim copy of ``shared/spec/REQUIREMENTS.md`` (generated; do not edit).\n\n'
        "Used by :func:`harness.requirements.load` when the specification is not beside\n"
        "the checkout. Regenerate with ``python -m harness.requirements --write``;\n"
        "``tests/test_conform.py`` checks that it matches the specification.\n"
        '"""\n\n'
        "from typing import Final\n\n"
        f'TEXT: Final = r"""{text}"""\n'
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m harness.requirements [--write]``: list the IDs, or refresh the copy."""
    parser = argparse.ArgumentParser(prog="python -m harness.requirements")
    parser.add_argument("--write", action="store_true", help=f"rewrite {COPY_MODULE.name}")
    args = parser.parse_args(argv)
    if args.write:
        COPY_MODULE.write_text(copy_module(SPEC.read_text("utf-8")), "utf-8")
        print(f"wrote {COPY_MODULE}")
        return 0
    reqs = load()
    for r in reqs.items:
        print(f"{r.id}\t{r.area}\t{r.what}")
    print(f"{len(reqs.items)} requirements from {reqs.source}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
