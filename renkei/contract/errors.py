"""INTERFACE.md §1–§3 and §5: every machine code the bank answers, and what follows it.

For each code: the requirement it shows, the HTTP status of the answer, the
OAuth ``error`` that 「連携元画面へ」 returns to the app with, and what kind of
refusal it is. The bank's error classes (``simulator.core.errors``) take their
status and OAuth error from here; the tester reads the same table to know what
to expect. The customer-facing wording is in the bank's message catalogue.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class Kind(enum.Enum):
    """Who refused, which decides what the customer and the app may do next."""

    INPUT = "input"  # the form: the same screen, errors per field
    HOST = "host"  # the host judged the account or the customer
    SYSTEM = "system"  # the service as a whole (hours, congestion, faults): retry later
    CALL = "call"  # the verification call of ④
    FLOW = "flow"  # the flow itself: order, CSRF, lost
    API = "api"  # the account API


@dataclass(frozen=True)
class ErrorCode:
    code: str
    requirement: str
    status: int
    kind: Kind
    #: The OAuth ``error`` the app receives through 「連携元画面へ」 (INTERFACE.md §1).
    oauth_error: str = "access_denied"
    #: 「連携元画面へ」 is offered beside the error while the flow stays open
    #: (INTERFACE.md §1: R-ERR-HOST-1 and R-ERR-SYS-*).
    returns_beside: bool = False

    @property
    def refusal(self) -> bool:
        """The service refused before judging anything: the same request may
        succeed later (R-ERR-SYS-*), so a customer comes back and a load tool
        counts it apart from the customer's own mistakes."""
        return self.kind is Kind.SYSTEM

    @property
    def deliberate_5xx(self) -> bool:
        """A 5xx the bank answers on purpose, with ``Retry-After`` where the end is
        known (R-ERR-SYS-1/2/4), as opposed to a failure of the server."""
        return self.status == 503


ERRORS: Final[dict[str, ErrorCode]] = {
    e.code: e
    for e in (
        ErrorCode("required", "R-ERR-INPUT-1", 422, Kind.INPUT),
        ErrorCode("invalid", "R-ERR-INPUT-2", 422, Kind.INPUT),
        ErrorCode("account_unavailable", "R-ERR-HOST-1", 422, Kind.HOST, returns_beside=True),
        ErrorCode("identity_mismatch", "R-ERR-HOST-2", 422, Kind.HOST),
        ErrorCode("locked_now", "R-ERR-HOST-3", 403, Kind.HOST),
        ErrorCode("B84", "R-ERR-HOST-4", 403, Kind.HOST),
        ErrorCode("out_of_hours", "R-ERR-SYS-1", 503, Kind.SYSTEM, "temporarily_unavailable", True),
        ErrorCode("congested", "R-ERR-SYS-2", 503, Kind.SYSTEM, "temporarily_unavailable", True),
        ErrorCode("system_error", "R-ERR-SYS-3", 500, Kind.SYSTEM, "server_error", True),
        ErrorCode(
            "service_unavailable", "R-ERR-SYS-4", 503, Kind.SYSTEM, "temporarily_unavailable", True
        ),
        ErrorCode("call_pending", "R-ERR-CALL-1", 422, Kind.CALL),
        ErrorCode("call_expired", "R-ERR-CALL-2", 410, Kind.CALL),
        ErrorCode("out_of_order", "R-FLOW-8", 403, Kind.FLOW),
        ErrorCode("csrf_failed", "R-FLOW-8", 403, Kind.FLOW),
        ErrorCode("flow_lost", "R-ERR-CALL-4", 403, Kind.FLOW),
        ErrorCode("account_moved", "R-ACCT-3", 403, Kind.API),
        ErrorCode("history_out_of_range", "R-ACCT-4", 400, Kind.API),
        ErrorCode("grant_inactive", "R-FLOW-9", 401, Kind.API, "invalid_grant"),
        ErrorCode("invalid_parameter", "R-ACCT-4", 400, Kind.API),
    )
}

#: The codes of R-ERR-SYS-*: the service refused, the flow stays, retry later.
REFUSALS: Final = frozenset(c for c, e in ERRORS.items() if e.refusal)
#: The codes beside which 「連携元画面へ」 is offered while the flow stays open.
RETURN_BESIDE: Final = frozenset(c for c, e in ERRORS.items() if e.returns_beside)
#: The codes a 503 carries on purpose.
DELIBERATE_503: Final = frozenset(c for c, e in ERRORS.items() if e.deliberate_5xx)
#: The codes that end a flow where they are raised; only 「連携元画面へ」 remains.
TERMINAL: Final = frozenset({"locked_now", "B84", "flow_lost"})
#: The codes after which the flow no longer stands on the screen that raised them
#: (INTERFACE.md §2, "Where the checks run and what follows"): back to ① to correct
#: the account (R-ERR-HOST-1) or to start again (R-ERR-CALL-2), or ended. Every
#: other refusal leaves the flow where it was.
LEAVES_SCREEN: Final = TERMINAL | {"account_unavailable", "call_expired"}
