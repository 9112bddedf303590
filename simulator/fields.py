"""Reading a scenario file: strict YAML and checked fields that know their path.

A tester who mistypes a key or a value must be told which one, never left with
a sandbox that silently lacks what they meant. Every check here raises
:class:`ScenarioError` naming the file and the field, e.g.
``scenarios/x.yaml: personas[2].accounts[0].branch_no: must be 3 half-width
digits (got '12')``.

Two YAML traps are closed on purpose:

* a key written twice in one mapping is an error (PyYAML keeps the last one);
* codes such as 店番 are strings: YAML 1.1 reads ``011`` as the octal number 9
  and ``0000123`` as 83, so a number where a code belongs is refused with a
  hint to quote it, rather than guessed back.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import yaml


class ScenarioError(ValueError):
    """A scenario that cannot be used: the message names the file and the field."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        super().__init__(f"{source}: {path}: {problem}" if path else f"{source}: {problem}")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping."""


def _no_duplicate_keys(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key: the field check reports it
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def load_yaml(text: str, source: str) -> object:
    """The one document in ``text``; syntax errors name the line and column."""
    try:
        # A SafeLoader subclass: no Python objects are ever constructed.
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        raise ScenarioError(source, "", f"{where}{problem}") from None
    except yaml.YAMLError as e:
        raise ScenarioError(source, "", f"invalid YAML: {e}") from None
    except ValueError as e:  # an impossible timestamp such as 2025-02-30
        raise ScenarioError(source, "", f"invalid YAML value: {e}") from None


def _shown(value: object) -> str:
    """How a wrong value is quoted back: strings in quotes, others with their YAML type."""
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "nothing (null)"
    # YAML itself reads 2025-01-06 as a date and 2025-01-06 09:00 as a timestamp.
    if isinstance(value, dt.datetime):
        return f"the timestamp {value.isoformat(sep=' ')}"
    if isinstance(value, dt.date):
        return f"the date {value}"
    kind = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"


@dataclass(frozen=True)
class Node:
    """A value read from the file, with where it was found."""

    source: str
    path: str
    value: object

    def error(self, problem: str) -> ScenarioError:
        return ScenarioError(self.source, self.path, problem)

    def wrong(self, expected: str) -> ScenarioError:
        """``must be <expected> (got <value>)``."""
        return self.error(f"must be {expected} (got {_shown(self.value)})")

    @property
    def is_null(self) -> bool:
        return self.value is None

    def child(self, key: str, value: object) -> Node:
        return Node(self.source, f"{self.path}.{key}" if self.path else key, value)

    # -- containers ------------------------------------------------------------------------

    def record(self, required: Collection[str], optional: Collection[str] = ()) -> Record:
        """A mapping with exactly these keys: unknown ones are typos, missing ones are errors."""
        if not isinstance(self.value, dict):
            raise self.wrong("a mapping")
        allowed = [*required, *optional]
        for key in self.value:
            if not isinstance(key, str):
                raise self.error(f"keys must be names (got {_shown(key)})")
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.child(key, None).error(
                    f"unknown key (allowed: {', '.join(allowed)}){hint}"
                )
        for key in required:
            if key not in self.value:
                raise self.child(key, None).error("missing")
        return Record(self, dict(self.value))

    def items(self, non_empty: bool = False) -> list[Node]:
        if not isinstance(self.value, list):
            raise self.wrong("a list")
        if non_empty and not self.value:
            raise self.error("must list at least one item")
        return [Node(self.source, f"{self.path}[{i}]", v) for i, v in enumerate(self.value)]

    # -- scalars ---------------------------------------------------------------------------

    def text(self) -> str:
        """A non-empty string (surrounding spaces removed)."""
        if not isinstance(self.value, str):
            raise self.wrong("text")
        if not self.value.strip():
            raise self.wrong("non-empty text")
        return self.value.strip()

    def line(self) -> str:
        """Non-empty text on one line."""
        value = self.text()
        if "\n" in value:
            raise self.error("must be one line")
        return value

    def code(self, pattern: str, expected: str) -> str:
        """A string of digits (店番, 口座番号, PIN, phone): numbers are refused, see above."""
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            raise self.error(
                f"must be {expected}, quoted (got the number {self.value}: YAML drops "
                "leading zeros and reads 011 as 9, so write it in quotes)"
            )
        if not isinstance(self.value, str) or not re.fullmatch(pattern, self.value):
            raise self.wrong(expected)
        return self.value

    def integer(self, low: int, high: int | None = None) -> int:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong("a whole number")
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise self.wrong(f"a whole number {span}")
        return value

    def number(self, low_exclusive: float, high: float) -> float:
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.wrong("a number")
        if not low_exclusive < value <= high:
            raise self.wrong(f"a number above {low_exclusive} and at most {high}")
        return float(value)

    def choice(self, options: Collection[str]) -> str:
        if not isinstance(self.value, str) or self.value not in options:
            listed = ", ".join(repr(o) for o in options)
            raise self.wrong(f"one of {listed}")
        return self.value

    def plain_date(self) -> dt.date | None:
        """The value as a date if YAML read it as one (not a timestamp with a time)."""
        if isinstance(self.value, dt.datetime):
            raise self.wrong("a date without a time")
        return self.value if isinstance(self.value, dt.date) else None


@dataclass(frozen=True)
class Record:
    """A checked mapping: its fields as :class:`Node`, absent ones as None."""

    node: Node
    values: dict[str, object]

    def __getitem__(self, key: str) -> Node:
        return self.node.child(key, self.values.get(key))

    def get(self, key: str) -> Node | None:
        """The field, or None when it is absent or null."""
        if self.values.get(key) is None:
            return None
        return self[key]
