"""The bank and its tester meet only over the contract (DESIGN.md, "Two sides and
the contract between them").

``simulator`` never imports ``harness`` and ``harness`` never imports
``simulator``; ``renkei.contract`` (and the small shared modules beside it)
import neither, nor any web, database or SimPy module. Only ``renkei.cli``
composes the two. Imports are read from the source with :mod:`ast`, so an
import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Modules of the renkei package that both sides may import.
SHARED = ("renkei/__init__.py", "renkei/args.py", "renkei/resources.py")
#: What the contract and the shared modules may import besides each other: the
#: standard library, less what would give them I/O of their own.
SHARED_ALLOWED = set(sys.stdlib_module_names) - {
    "http",
    "socket",
    "sqlite3",
    "smtplib",
    "subprocess",
    "urllib",
}


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def tops(path: Path) -> set[str]:
    return {m.split(".")[0] for m in imported(path)}


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _sources("simulator"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_bank_imports_nothing_of_its_tester(path: Path) -> None:
    assert "harness" not in tops(path), f"{path.relative_to(ROOT)} imports harness"
    assert not {m for m in imported(path) if m == "renkei.cli" or m.startswith("renkei.cli.")}


@pytest.mark.parametrize("path", _sources("harness"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_tester_imports_nothing_of_the_bank(path: Path) -> None:
    assert "simulator" not in tops(path), f"{path.relative_to(ROOT)} imports simulator"
    assert not {m for m in imported(path) if m == "renkei.cli" or m.startswith("renkei.cli.")}


@pytest.mark.parametrize(
    "path",
    [*_sources("renkei/contract"), *(ROOT / p for p in SHARED if (ROOT / p).exists())],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_contract_imports_neither_side(path: Path) -> None:
    for module in imported(path):
        top = module.split(".")[0]
        if top == "renkei":
            assert module.startswith(("renkei.contract", "renkei.args", "renkei.resources")), (
                f"{path.relative_to(ROOT)} imports {module}"
            )
        else:
            assert top in SHARED_ALLOWED, f"{path.relative_to(ROOT)} imports {module}"


def test_only_the_command_composes_both_sides() -> None:
    """renkei.cli imports both (the commands' modules by name, from its table, so that
    only the one run is imported); nothing else in the renkei package does."""
    from renkei.cli import COMMANDS

    tables = {module.split(".")[0] for module in COMMANDS.values()}
    assert {"simulator", "harness"} <= tops(ROOT / "renkei" / "cli.py") | tables
    for path in _sources("renkei"):
        if path.name not in ("cli.py", "__main__.py"):
            assert not {"simulator", "harness"} & tops(path), path


def test_the_check_sees_a_crossing(tmp_path: Path) -> None:
    """The guard itself can fail: an import inside a function is found too."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from harness.driver import Browser\n", "utf-8")
    assert tops(bad) == {"harness"}
