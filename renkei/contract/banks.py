"""Banks: several credit unions on one platform (INTERFACE.md §10).

Where a bank of a sandbox is served (``BASE/banks/CODE/``, BASE being ``/`` or
``/s/ID/``), the form of its 4-digit 金融機関コード, where its metadata is, and
the ``scope`` member of the fault and maintenance controls (§6) that sets them
for the whole platform instead of one bank: what the bank serves and what the
harness asks for.
"""

from __future__ import annotations

import re
from typing import Final

from renkei.contract.oauth import METADATA_PATH

#: Where each bank of a sandbox is served: ``BASE/banks/CODE/`` and all of §1–§6 under it.
BANK_PREFIX: Final = "/banks/"
#: A 金融機関コード: four digits.
CODE_PATTERN: Final = "^[0-9]{4}$"
_CODE = re.compile(CODE_PATTERN)

#: The member of ``PUT /sandbox/faults`` and ``POST /sandbox/maintenance`` that says
#: whom they are for, and its two values: the bank served at the path (the default)
#: or every bank of the platform.
SCOPE: Final = "scope"
BANK: Final = "bank"
PLATFORM: Final = "platform"
SCOPES: Final = (BANK, PLATFORM)
#: ``errorCode`` of ``BASE/banks/CODE/…`` for a code that is no bank of the sandbox (404).
NOT_FOUND: Final = "bank_not_found"


def bank_base(code: str) -> str:
    """Where bank ``code`` is served under its sandbox's base, without the trailing
    slash: ``/banks/CODE``; it is also the path of its issuer under the base."""
    return f"{BANK_PREFIX}{code}"


def metadata_path(base_path: str, code: str) -> str:
    """The bank's RFC 8414 metadata at the origin (RFC 8414 §3.1): the well-known path
    with its issuer's path after it (``base_path`` is ``""`` for the root sandbox,
    ``/s/ID`` for another). It is also at the bank's own base + METADATA_PATH."""
    return METADATA_PATH + base_path + bank_base(code)


def is_bank_code(text: str) -> bool:
    """Whether ``text`` has the form of a 金融機関コード."""
    return bool(_CODE.fullmatch(text))
