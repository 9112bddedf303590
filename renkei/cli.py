"""The ``renkei`` command (INTERFACE.md §7): the one place that composes the bank
and its tester.

The bank's commands — ``serve``, ``scenario check`` and ``simulate`` — come
from :mod:`simulator`; the tester's — ``conform``, ``replay`` and ``certify``
— from :mod:`harness`. Each registers its own options and handler; this module
only puts them side by side and turns a bad scenario into one line with exit 2.

Only the module of the command being run is imported: together they import
Flask, SQLAlchemy, SimPy, Jinja and the OAuth client, a second and more before
anything runs, which every ``renkei conform`` and ``renkei replay`` would pay.
``renkei --help``, ``--version`` and an unknown command import them all, for
the list of commands.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Final

from renkei import __version__, resources
from renkei.args import OneLineParser
from simulator.fields import ScenarioError

#: Exit status for a bad scenario file, as for a usage error (argparse's 2).
BAD_INPUT: Final = 2

#: Each command and the module that registers it (its ``add_parser``), in the
#: order ``renkei --help`` lists them.
COMMANDS: Final = {
    "scenario": "simulator.scenario_check",
    "serve": "simulator.serve",
    "conform": "harness.conform",
    "simulate": "simulator.twin.command",
    "replay": "harness.replay",
    "certify": "harness.certify.command",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``renkei`` parser; with ``argv``, only the command it names is registered
    (all of them when it names none that exists, so that argparse can list them)."""
    parser = argparse.ArgumentParser(
        prog="renkei",
        description="A sandbox credit union for 「API連携認証」: its host, rules and test data.",
    )
    parser.add_argument("--version", action="version", version=f"renkei {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )
    # Top-level options (--help, --version) all begin with "-": the first word that
    # does not is the command.
    named = next((word for word in argv or () if not word.startswith("-")), None)
    for name in [named] if named in COMMANDS else list(COMMANDS):
        importlib.import_module(COMMANDS[name]).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``renkei``; answers the exit status (0 ok, 2 bad usage or a bad file)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
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
