"""The sandbox and operator controls (INTERFACE.md §6): what each takes and answers.

A body is read as JSON's own types only (``"true"`` is not true, ``1`` is not
``"1"``): the models are strict :class:`~simulator.web.schemas.Body` models,
read after :class:`simulator.web.responses.StrictJSON` has refused what is not
RFC 8259 (``NaN``, ``Infinity``, lone surrogates). Members a body does not
declare are ignored, but for the faults, where an unknown switch is a typo worth
telling.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, NotRequired

from pydantic import BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from renkei.contract import banks
from renkei.contract.limits import MAINTENANCE_LABEL_MAX
from renkei.contract.screens import FIELDS, SCREENS, Screen
from simulator.core.clock import JST, to_jst
from simulator.core.host import AccountKey
from simulator.web.schemas import Anything, Body, Form, Scope, Timestamp

#: Where the sandbox clock, maintenance windows and ``reset``'s day may be: the
#: years a sandbox is useful for. Without a bound, 0001-01-01 or 9999-12-31 made
#: the date arithmetic of every later request overflow (a 500, found by the
#: hostile-input campaign; docs/rules.md).
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=JST)
LATEST = dt.datetime(2100, 1, 1, tzinfo=JST)
WHEN = "from 2000-01-01 to 2099-12-31 (JST)"
#: The longest single advance of the clock: ten years.
MOST_SECONDS = 10 * 365 * 86400
#: The label of a window posted without one.
MAINTENANCE = "その他システムメンテナンス"


def _instant(value: object) -> dt.datetime:
    """ISO-8601 text with an offset, within the sandbox years, as JST."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
            if parsed.utcoffset() is not None and EARLIEST <= to_jst(parsed) < LATEST:
                return to_jst(parsed)
        except (ValueError, OverflowError):
            pass
    raise PydanticCustomError(
        "instant", f"must be an ISO-8601 date-time with an offset, {WHEN}"
    ) from None


def _day(value: object) -> dt.date:
    """``YYYY-MM-DD`` within the sandbox years."""
    if isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value)
            if EARLIEST.date() <= day < LATEST.date():
                return day
        except ValueError:
            pass
    raise PydanticCustomError("day", f"must be a date YYYY-MM-DD, {WHEN}") from None


Instant = Annotated[dt.datetime, BeforeValidator(_instant)]
SandboxDay = Annotated[dt.date, BeforeValidator(_day)]


class SetClock(Body):
    """``PUT /sandbox/clock``: the clock runs on from ``now`` unless frozen."""

    now: Instant = Field(description=f"ISO-8601 with an offset, {WHEN}")
    frozen: bool = Field(False, description="stay at `now` until set again")


class AdvanceClock(Body):
    """``POST /sandbox/clock/advance``."""

    seconds: float = Field(
        ge=0, le=MOST_SECONDS, allow_inf_nan=False, description="at most ten years"
    )


#: ``scope`` of the fault and maintenance controls (INTERFACE.md §10).
BankScope = Literal["bank", "platform"]
SCOPE_TEXT = (
    "whom for: the bank served at the path (bank), or every bank of the platform "
    "(platform, INTERFACE.md §10)"
)


class SwitchFaults(Body):
    """``PUT /sandbox/faults``: the switches named are set, the others stay as they
    are (the contract's ``FAULT_SWITCHES``, in its order)."""

    model_config = ConfigDict(extra="forbid")

    congestion: bool | None = Field(None, description="R-ERR-SYS-2")
    system_error: bool | None = Field(None, description="R-ERR-SYS-3")
    service_suspended: bool | None = Field(None, description="R-ERR-SYS-4")
    scope: BankScope = Field(banks.BANK, description=SCOPE_TEXT)

    def switched(self) -> dict[str, bool]:
        return {k: v for k, v in self.model_dump(exclude={"scope"}).items() if v is not None}


class MaintenanceWindow(Body):
    """``POST /sandbox/maintenance``: an ad-hoc closed window (R-HOURS-6)."""

    start: Instant
    end: Instant
    label: str = Field(
        MAINTENANCE, max_length=MAINTENANCE_LABEL_MAX, description="what the closed screen names"
    )
    scope: BankScope = Field(banks.BANK, description=SCOPE_TEXT)


class Reset(Body):
    """``POST /sandbox/reset``; renkei's extension: the scenario's data built as on
    ``today`` instead of the real day, so that a replayed trace (``renkei replay``)
    meets the host the twin simulated (docs/rules.md)."""

    today: SandboxDay | None = Field(None, description=f"YYYY-MM-DD, {WHEN}")


class AccountRef(Body):
    """An account as screen ① takes it, its fields in ①'s order, each of the form
    the contract gives it: text only, so that a move cannot file an
    account under a number no customer could type (the hostile-input campaign
    moved one to ``"\\x00-1-1"``)."""

    branch_no: Annotated[str, Form(FIELDS["branch_no"])]
    account_type: Annotated[str, Form(FIELDS["account_type"])]
    account_no: Annotated[str, Form(FIELDS["account_no"])]

    def key(self) -> AccountKey:
        return AccountKey(self.branch_no, self.account_type, self.account_no)


class Move(Body):
    """``POST /admin/accounts/move``: 移管 to another branch (R-ACCT-3)."""

    source: AccountRef = Field(alias="from")
    target: AccountRef = Field(alias="to")


def account_id_schema() -> dict[str, object]:
    """``BRANCH-TYPE-NUMBER`` (``115-1-1100026``), the operator URLs' form of an
    account, from the contract's field formats."""
    parts = [f.pattern or "|".join(f.choices) for f in SCREENS[Screen.ACCOUNT].fields]
    return {
        "type": "string",
        "pattern": "^" + "-".join(f"(?:{p})" for p in parts) + "$",
        "description": "BRANCH-TYPE-NUMBER, e.g. 115-1-1100026",
    }


# -- answers ---------------------------------------------------------------------------------


class Clock(TypedDict):
    now: Timestamp
    frozen: bool
    real: bool
    offset_seconds: float


class Faults(TypedDict):
    congestion: bool
    system_error: bool
    service_suspended: bool
    #: Whose switches these are (INTERFACE.md §10); absent: those in force.
    scope: NotRequired[str]


class Window(TypedDict):
    start: Timestamp
    end: Timestamp
    label: str


class Windows(TypedDict):
    maintenance: list[Window]
    #: Whose windows these are (INTERFACE.md §10); absent: all in force.
    scope: NotRequired[str]


class ResetDone(TypedDict):
    reset: bool
    clock: Clock
    faults: Faults


class Mailbox(TypedDict):
    mail: list[Anything]


class OperationLog(TypedDict):
    entries: list[Anything]


class Lock(TypedDict):
    account: str
    failures: int
    locked_until: Timestamp


class Locks(TypedDict):
    locks: list[Lock]


class Unlocked(TypedDict):
    account: str
    locked: bool


class Grant(TypedDict):
    grant_id: str
    client_id: str
    account: str
    scopes: list[Scope]
    granted_at: Timestamp
    expires_at: Timestamp
    ends_at: Timestamp
    active: bool
    revoked_at: Timestamp | None
    revoked_by: str | None
    uninstalled_at: Timestamp | None


class Grants(TypedDict):
    grants: list[Grant]


Moved = TypedDict("Moved", {"from": str, "to": str, "status": str})
