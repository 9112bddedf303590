"""The core stays pure: no web, SQL, SimPy, SMTP or HTTP imports, no file or
network I/O, no wall clock (DEVELOPERS.md "Standards"; DESIGN.md "One core").

Ruff's banned-api rule (pyproject.toml) forbids wall-clock reads and global
random draws everywhere but the clock adapter; this test adds an allow-list of
what :mod:`simulator.core` may import at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "simulator" / "core"

ALLOWED = {
    "__future__",
    "calendar",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "hashlib",
    "hmac",
    "random",
    "re",
    "typing",
    "zoneinfo",
    "jaconv",  # width conversion of kana, pure functions
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_imports_only_pure_modules(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"))
    for module in imported_modules(tree):
        top = module.split(".")[0]
        if top == "simulator":
            assert module.startswith("simulator.core"), f"{path.name} imports {module}"
        elif top == "renkei":  # the contract is data (tests/test_two_sides.py keeps it so)
            assert module.startswith("renkei.contract"), f"{path.name} imports {module}"
        else:
            assert top in ALLOWED, f"{path.name} imports {module}"
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & FORBIDDEN_CALLS, f"{path.name} calls {calls & FORBIDDEN_CALLS}"


def test_the_check_sees_a_forbidden_import() -> None:
    """The guard itself can fail."""
    tree = ast.parse("import sqlite3\nfrom flask import Flask\n")
    assert imported_modules(tree) == {"sqlite3", "flask"}
