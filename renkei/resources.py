"""renkei's own files, read from the installed package with :mod:`importlib.resources`.

Whatever a command needs ships inside the package and is read from there, never
from a path relative to a checkout or the current directory, so that an
installed wheel works from any directory. This module imports only the standard
library, so that the bank, its tester and the contract may all use it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

#: The one stylesheet of every page renkei draws (``renkei/assets/``).
STYLESHEET: Final = "renkei.css"


@cache
def stylesheet() -> str:
    """The stylesheet of the bank's screens, the conformance report, the certificate
    and the certifying proxy's page: one file, so that they look like one product.

    The bank serves it at ``/static/renkei.css``; the tester's pages, written to
    disk, carry it inline so that each HTML file stands alone.
    """
    return resources.files("renkei").joinpath("assets", STYLESHEET).read_text("utf-8")
