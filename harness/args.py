"""argparse pieces shared by the commands: value types (a bad value is a one-line
usage error) and the options that name a target bank."""

from __future__ import annotations

import argparse
import os


def add_target(parser: argparse.ArgumentParser, target_help: str) -> None:
    """``--target URL`` and ``--admin-token T`` of a command that speaks to a sandbox
    bank, defaulting to ``RENKEI_TARGET`` and ``RENKEI_ADMIN_TOKEN``."""
    parser.add_argument(
        "--target", default=os.environ.get("RENKEI_TARGET"), metavar="URL", help=target_help
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("RENKEI_ADMIN_TOKEN"),
        metavar="T",
        help="the target's admin token, INTERFACE.md §6 (also RENKEI_ADMIN_TOKEN)",
    )


def _number(text: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def positive_int(text: str) -> int:
    """1 or more."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {text})")
    return value


def count(text: str) -> int:
    """0 or more."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text})")
    return value


def non_negative(text: str) -> float:
    """A number, 0 or more."""
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text})")
    return value
