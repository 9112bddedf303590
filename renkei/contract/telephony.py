"""INTERFACE.md §4: the telephony gateway, which stands for the carrier.

One inbound call is ``POST CALLS_PATH`` with ``{"from", "to", "caller_id"}``;
only the gateway (its secret in :data:`SECRET_HEADER`) or the sandbox's
operator (its admin token) may report one.
"""

from __future__ import annotations

from typing import Final

CALLS_PATH: Final = "/telephony/calls"
SECRET_HEADER: Final = "X-Telephony-Secret"
#: ``caller_id``: the caller's number is shown, or withheld.
SHOWN: Final = "shown"
WITHHELD: Final = "withheld"
#: Whether the caller's number is shown (``caller_id``).
CALLER_ID: Final = (SHOWN, WITHHELD)
#: Dialled before the number: 186 shows the caller ID, 184 withholds it, whatever
#: ``caller_id`` says.
SHOW_PREFIX: Final = "186"
WITHHOLD_PREFIX: Final = "184"
#: ``from`` and ``to``: the digits of a number as the carrier reports them (a
#: prefix included), matched whole.
DIGITS_PATTERN: Final = r"[0-9]{4,20}"
#: ``call_id`` (renkei's extension of §4, docs/rules.md): the carrier's own id of
#: the call, optional; a report whose id was seen before verifies nothing.
CALL_ID_PATTERN: Final = r"[A-Za-z0-9._:-]{1,64}"
