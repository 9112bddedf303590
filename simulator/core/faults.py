"""System state that can refuse any request (R-ERR-SYS-1..4).

The checks run on every request of the flow, ``/oauth/authorize`` included,
and on the account API; the flow stays where it was, so a later retry can
succeed. When several hold at once the answer is the first of: out of hours
(the host is closed), suspended, system error, congested.

Congestion (R-ERR-SYS-2, 「金融機関API対象アプリの取引が集中している」) is a
capacity of flows in progress at the host: a flow holds one slot from the
authorization request until it ends or is lost (:class:`SlotRule`), so the
phone-verification step holds its slot for as long as the customer takes to
call. A new flow beyond the capacity is refused; the sandbox can also force the
answer.

What the manual leaves open, renkei decides so that a flood of authorization
requests nobody follows cannot congest the bank (docs/hardening.md): a flow no
screen of which has been posted yet is *early*, and holds its slot only for
:data:`EARLY_FLOW` after it started, whatever GETs touch it; the early flows of
one partner app hold at most :attr:`Capacity.per_client` slots; and any flow is
lost :data:`FLOW_LIFETIME` after it started, however often it is touched. The
answer to a new flow refused for capacity says when the rule frees the slot
that would admit it (:meth:`Capacity.retry_at`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from simulator.core.errors import Congested, OutOfHours, ServiceUnavailable, SystemError_
from simulator.core.hours import ServiceCalendar

#: A flow untouched this long is lost (R-ERR-CALL-4); the manual gives none.
FLOW_TIMEOUT: Final = dt.timedelta(minutes=30)
#: How long an early flow (no screen posted yet) holds its slot: renkei's rule,
#: not the manual's. A customer GETs ① and posts it within a minute or two.
EARLY_FLOW: Final = dt.timedelta(seconds=120)
#: A flow is lost this long after it started, however often it is touched:
#: renkei's rule, not the manual's (R-ERR-CALL-4's answer).
FLOW_LIFETIME: Final = dt.timedelta(minutes=60)


@dataclass(frozen=True)
class Faults:
    """Switches a tester or an operator turns on (INTERFACE.md §6)."""

    congestion: bool = False
    system_error: bool = False
    service_suspended: bool = False


class Holder(Protocol):
    """What :class:`SlotRule` reads of a flow (:class:`~simulator.core.flow.FlowState`)."""

    @property
    def client_id(self) -> str: ...

    @property
    def started_at(self) -> dt.datetime: ...

    @property
    def touched_at(self) -> dt.datetime: ...

    @property
    def posted_at(self) -> dt.datetime | None: ...

    @property
    def finished(self) -> bool: ...


@dataclass(frozen=True)
class SlotRule:
    """When a flow stops holding its slot, and is lost (R-ERR-SYS-2, R-ERR-CALL-4):
    ``idle`` after it was last touched, ``lifetime`` after it started, and, while it
    is early (no screen posted), ``early`` after it started: the earliest of those.

    The one statement of the rule: the flow's guard (``not_idle``), the store's
    count in SQL (``SqlFlows``, which keeps the instant with each flow) and the
    twin's slots all read :meth:`freed_at`."""

    idle: dt.timedelta = FLOW_TIMEOUT
    early: dt.timedelta = EARLY_FLOW
    lifetime: dt.timedelta = FLOW_LIFETIME

    def __post_init__(self) -> None:
        if min(self.idle, self.early, self.lifetime) <= dt.timedelta(0):
            raise ValueError("a flow's timeout, early lapse and lifetime must be positive")

    def freed_at(self, flow: Holder) -> dt.datetime:
        """The last instant an unfinished flow nobody touches again holds its slot;
        after it the flow is lost."""
        until = min(flow.touched_at + self.idle, flow.started_at + self.lifetime)
        if flow.posted_at is None:
            until = min(until, flow.started_at + self.early)
        return until

    def holds(self, flow: Holder, now: dt.datetime) -> bool:
        """Whether ``flow`` holds one of the host's slots at ``now``."""
        return not flow.finished and now <= self.freed_at(flow)


@dataclass(frozen=True)
class Occupancy:
    """The host's slots when a new flow of one partner app asks for one: how many
    flows hold a slot and the first instant one of them stops (``freed``), and the
    same of that app's early flows (``client_early``, ``client_freed``)."""

    held: int = 0
    freed: dt.datetime | None = None
    client_early: int = 0
    client_freed: dt.datetime | None = None

    @classmethod
    def of(
        cls, flows: Iterable[Holder], now: dt.datetime, rule: SlotRule, client_id: str
    ) -> Occupancy:
        """The occupancy of ``flows`` at ``now`` for a new flow of ``client_id`` (the
        twin's; the store asks the same of its table in one query)."""
        held = early = 0
        freed: dt.datetime | None = None
        client_freed: dt.datetime | None = None
        for flow in flows:
            if flow.finished:
                continue
            until = rule.freed_at(flow)
            if now > until:
                continue
            held += 1
            freed = until if freed is None else min(freed, until)
            if flow.posted_at is None and flow.client_id == client_id:
                early += 1
                client_freed = until if client_freed is None else min(client_freed, until)
        return cls(held, freed, early, client_freed)


@dataclass(frozen=True)
class Capacity:
    """How many flows the host serves at once, how many of them one partner app's
    early flows may hold (``early_per_client``; None: half the capacity, rounded
    down, at least 1), and the wait the ``congestion`` fault suggests."""

    flows: int = 200
    retry_after: dt.timedelta = dt.timedelta(seconds=60)
    early_per_client: int | None = None

    def __post_init__(self) -> None:
        if self.flows < 1:
            raise ValueError("the host capacity must be at least 1 flow")
        if self.early_per_client is not None and self.early_per_client < 1:
            raise ValueError("a partner app's early flows must be allowed at least 1 slot")

    @property
    def per_client(self) -> int:
        """The slots one partner app's early flows may hold."""
        if self.early_per_client is not None:
            return self.early_per_client
        return max(1, self.flows // 2)

    def retry_at(self, slots: Occupancy, now: dt.datetime) -> dt.datetime | None:
        """None when a new flow may take a slot; else when to try again: the first
        whole second after ``now`` past the instant the rule frees the slot that
        would admit it (for the app's share, the first of its early flows to lapse,
        which frees a slot of the host too), never sooner than a second. Another
        flow may take that slot first; nothing else frees one sooner."""
        if slots.client_early >= self.per_client:
            freed = slots.client_freed
        elif slots.held >= self.flows:
            freed = slots.freed
        else:
            return None
        if freed is None:  # a count without its instant: the fault's wait
            return now + self.retry_after
        seconds = (freed - now) // dt.timedelta(seconds=1) + 1  # whole seconds, floored
        return now + dt.timedelta(seconds=max(1, seconds))


@dataclass(frozen=True)
class ServiceGate:
    calendar: ServiceCalendar
    capacity: Capacity = Capacity()

    def check(self, now: dt.datetime, faults: Faults, slots: Occupancy | None = None) -> None:
        """Raise the R-ERR-SYS error in force at ``now``, if any.

        ``slots`` is given only when a new flow asks for a slot. The ``congestion``
        fault answers its configured wait; a full host the instant a slot frees.
        """
        closure = self.calendar.closure_at(now)
        if closure is not None:
            raise OutOfHours(retry_after=closure.until)
        if faults.service_suspended:
            raise ServiceUnavailable()
        if faults.system_error:
            raise SystemError_()
        if faults.congestion:
            raise Congested(retry_after=now + self.capacity.retry_after)
        if slots is not None:
            retry = self.capacity.retry_at(slots, now)
            if retry is not None:
                raise Congested(retry_after=retry)
