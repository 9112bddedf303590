"""System state that can refuse any request (R-ERR-SYS-1..4).

The checks run on every request of the flow, ``/oauth/authorize`` included,
and on the account API; the flow stays where it was, so a later retry can
succeed. When several hold at once the answer is the first of: out of hours
(the host is closed), suspended, system error, congested.

Congestion (R-ERR-SYS-2, 「金融機関API対象アプリの取引が集中している」) is a
capacity of flows in progress at the host: a flow holds one slot from the
authorization request until it ends or idles out, so the phone-verification
step holds its slot for as long as the customer takes to call. A new flow
beyond the capacity is refused; the sandbox can also force the answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from simulator.core.errors import Congested, OutOfHours, ServiceUnavailable, SystemError_
from simulator.core.hours import ServiceCalendar


@dataclass(frozen=True)
class Faults:
    """Switches a tester or an operator turns on (INTERFACE.md §6)."""

    congestion: bool = False
    system_error: bool = False
    service_suspended: bool = False


@dataclass(frozen=True)
class Capacity:
    """How many flows the host serves at once, and the wait it suggests when full."""

    flows: int = 200
    retry_after: dt.timedelta = dt.timedelta(seconds=60)

    def __post_init__(self) -> None:
        if self.flows < 1:
            raise ValueError("the host capacity must be at least 1 flow")


@dataclass(frozen=True)
class ServiceGate:
    calendar: ServiceCalendar
    capacity: Capacity = Capacity()

    def check(self, now: dt.datetime, faults: Faults, flows_in_progress: int | None = None) -> None:
        """Raise the R-ERR-SYS error in force at ``now``, if any.

        ``flows_in_progress`` is given only when a new flow asks for a slot.
        """
        closure = self.calendar.closure_at(now)
        if closure is not None:
            raise OutOfHours(retry_after=closure.until)
        if faults.service_suspended:
            raise ServiceUnavailable()
        if faults.system_error:
            raise SystemError_()
        full = flows_in_progress is not None and flows_in_progress >= self.capacity.flows
        if faults.congestion or full:
            raise Congested(retry_after=now + self.capacity.retry_after)
