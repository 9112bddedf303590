"""The ``renkei`` command (INTERFACE.md §7): the one place that composes the bank
and its tester.

The bank's commands — ``serve``, ``scenario check`` and ``simulate`` — come
from :mod:`simulator`; the tester's — ``conform``, ``replay`` and ``certify``
— from :mod:`harness`. Each registers its own options and handler; this module
only puts them side by side and turns a bad scenario into one line with exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Final

from harness import conform, replay
from harness.certify import command as certify
from renkei import __version__, resources
from renkei.args import OneLineParser
from simulator import scenario_check, serve
from simulator.scenario import ScenarioError
from simulator.twin import command as simulate

#: Exit status for a bad scenario file, as for a usage error (argparse's 2).
BAD_INPUT: Final = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="renkei",
        description="A sandbox credit union for 「API連携認証」: its host, rules and test data.",
    )
    parser.add_argument("--version", action="version", version=f"renkei {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )
    scenario_check.add_parser(commands)
    serve.add_parser(commands)
    conform.add_parser(commands)
    simulate.add_parser(commands)
    replay.add_parser(commands)
    certify.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``renkei``; answers the exit status (0 ok, 2 bad usage or a bad file)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors: argparse has printed
        return e.code if isinstance(e.code, int) else (0 if e.code is None else BAD_INPUT)
    try:
        status: int = args.handler(args, sys.stdout)
    except (ScenarioError, resources.NotFound) as e:
        print(f"renkei: {e}", file=sys.stderr)
        return BAD_INPUT
    except BrokenPipeError:
        # The reader went away (``renkei scenario check | head``): nothing more to say,
        # and Python's own flush at exit must not complain into the terminal either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
