"""The contract's paths are typed once, in ``renkei.contract`` (DESIGN.md, "Two sides
and the contract between them"; INTERFACE.md §1-§6).

Both sides import a path from the contract instead of typing it again: a copy
that drifts from the contract is a bank and a tester that no longer meet. This
test reads every string constant of ``simulator/`` and ``harness/`` with
:mod:`ast` (so comments and docstrings do not count, and each piece of an
f-string does) and fails on any that holds one of the contract's paths.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from renkei.contract import api, controls, docs, oauth, screens, telephony

ROOT = Path(__file__).resolve().parents[1]
SIDES = ("simulator", "harness")


def contract_paths() -> frozenset[str]:
    """Every path the contract holds: the ``*_PATH`` constants of its modules (the
    bank's documentation of :mod:`renkei.contract.docs` too, which the tester
    fuzzes and the metadata names), the screens' paths, and the fixed start of
    each path that names a thing."""
    found = {
        value
        for module in (api, controls, docs, oauth, screens, telephony)
        for name, value in vars(module).items()
        if name.endswith("_PATH") and isinstance(value, str)
    }
    found.update(screens.SCREEN_PATHS.values())
    for named in (
        controls.lock_path,
        controls.revoke_path,
        controls.uninstall_path,
        docs.page_path,
    ):
        found.add(named("\0").split("\0")[0].rstrip("/"))
    return frozenset(found)


PATHS = contract_paths()
#: A path inside a longer text, not the start of a longer name (``/sandbox/clock``
#: is in ``PUT /sandbox/clock`` and ``/sandbox/clock/advance``, not in ``/sandbox/clocks``).
_COPY = re.compile(
    "(?:" + "|".join(re.escape(p) for p in sorted(PATHS, key=len, reverse=True)) + ")"
    r"(?![A-Za-z0-9_-])"
)


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of ``tree``: prose, not values."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def copies(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of each string constant of ``source`` that holds a contract path."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in prose
        and _COPY.search(node.value)
    )


def _sources() -> list[Path]:
    return sorted(p for side in SIDES for p in (ROOT / side).rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", _sources(), ids=_name)
def test_no_side_types_a_contract_path(path: Path) -> None:
    found = copies(path.read_text("utf-8"))
    assert not found, (
        f"{_name(path)} types the contract's paths again; import them from renkei.contract: "
        + "; ".join(f"line {line}: {text!r}" for line, text in found)
    )


def test_the_paths_are_the_contracts() -> None:
    """The search covers every kind of path the contract holds."""
    assert {
        oauth.TOKEN_PATH,
        docs.OPENAPI_PATH,
        docs.DOCS_PATH,
        api.TRANSACTIONS_PATH,
        telephony.CALLS_PATH,
        controls.CLOCK_ADVANCE_PATH,
        screens.CANCEL_PATH,
        *screens.SCREEN_PATHS.values(),
        "/sandbox/grants",
    } <= PATHS


def test_the_check_finds_a_copy_and_ignores_prose() -> None:
    """The guard itself can fail: a copy is found as a whole string, inside a longer
    one and as a piece of an f-string; a docstring, a comment, a longer name and
    the contract's own constant are not copies."""
    source = '''
"""Module prose may name POST /sandbox/reset."""
from renkei.contract.controls import RESET_PATH

WHOLE = "/oauth/token"
INSIDE = "PUT /sandbox/clock: refused"
PIECE = f"/admin/grants/{grant}/revoke"
NAMED = f"/sandbox/grants/{grant}/uninstall"


def f() -> str:
    """So may a function's: /v1/accounts."""
    # and a comment: /connect/account
    return RESET_PATH + "/sandbox/clocks"
'''
    assert [line for line, _ in copies(source)] == [5, 6, 7, 8]
