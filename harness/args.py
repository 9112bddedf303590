"""argparse options of the tester's commands that name a target bank."""

from __future__ import annotations

import argparse
import os

#: ``1``: each pytest process of the features in a sandbox of its own (harness.plugin's
#: ``--sandbox-each``); ``renkei conform`` sets it for its parallel run.
SANDBOX_EACH = "RENKEI_SANDBOX_EACH"


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
