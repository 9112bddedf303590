"""The lockout ledger's rules (R-ERR-HOST-2/3/4, R-ACCT-5, 画面② 3/4, FAQ 2-Q1/Q2).

Identity failures on ② and ⑤ count per account per JST day. The failure that
reaches the threshold answers 「お取扱いができなくなりました。」 (``locked_now``)
and any attempt after it, that day, answers reason code B84. Because the count
is kept per JST day, the lock ends by construction at exactly the next 0:00
JST, and an operator's unlock is clearing that day's count.

An answer is judged inside the atomic step that counts its failure
(:meth:`Lockout.judge`): with k failures counted, at most threshold − k wrong
answers are judged, however many race and however long the database takes to
write, and a right one only while a failure is left.

The lock blocks only API連携認証 (R-ACCT-5): nothing else in renkei consults it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from simulator.core.clock import jst_day, next_jst_midnight
from simulator.core.errors import B84, IdentityMismatch, LockedNow, RenkeiError
from simulator.core.host import AccountKey

DEFAULT_THRESHOLD = 5


@dataclass
class Reservation:
    """A failure counted in an atomic step of the ledger that is still open.

    ``count`` is the day's count with it, or None when the count had reached the
    ceiling and nothing was counted. :meth:`give_back` asks the ledger to undo it
    when the step ends (a right answer): then nothing was ever counted."""

    count: int | None
    given_back: bool = False

    def give_back(self) -> None:
        self.given_back = True


class FailureStep(Protocol):
    """An atomic step of the ledger, held open by ``with`` (:meth:`LockLedger.reserve_failure`)."""

    def __enter__(self) -> Reservation: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: Any, /
    ) -> bool | None: ...


class LockLedger(Protocol):
    """Where failure counts live. ``add_failure`` and ``reserve_failure`` must be
    atomic across processes."""

    def failures(self, account: AccountKey, day: dt.date) -> int: ...

    def add_failure(self, account: AccountKey, day: dt.date, ceiling: int) -> int | None:
        """Count one more failure unless the day's count has reached ``ceiling``:
        answer the count after it, or None when it was not counted."""
        ...

    def reserve_failure(self, account: AccountKey, day: dt.date, ceiling: int) -> FailureStep:
        """:meth:`add_failure` as one atomic step held open while the block runs: it
        ends when the block does, keeping the failure, or undoing it when the block
        gave it back or raised. Until then a concurrent reservation of the account
        waits; the block must not use the ledger (or its database) itself."""
        ...

    def clear(self, account: AccountKey, day: dt.date) -> None: ...


@dataclass(frozen=True)
class Lockout:
    """The rule: ``threshold`` identity failures in one JST day lock the account."""

    threshold: int = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("the lockout threshold must be at least 1")

    def locked_until(
        self, ledger: LockLedger, account: AccountKey, now: dt.datetime
    ) -> dt.datetime | None:
        """When the lock on ``account`` ends, or None when it is not locked."""
        if ledger.failures(account, jst_day(now)) >= self.threshold:
            return next_jst_midnight(now)
        return None

    def refuse_if_locked(self, ledger: LockLedger, account: AccountKey, now: dt.datetime) -> None:
        """R-ERR-HOST-4: raise B84 for any attempt while locked.

        A read, so it refuses a locked account without a write; it decides nothing
        under concurrency, since many attempts can pass it before any failure is
        written: :meth:`judge`'s reservation does."""
        until = self.locked_until(ledger, account, now)
        if until is not None:
            raise B84(retry_after=until)

    def judge(
        self, ledger: LockLedger, account: AccountKey, now: dt.datetime, right: Callable[[], bool]
    ) -> None:
        """Judge one identity answer on ② or ⑤ (``right``: whether it matches the
        host's data, a pure check): return when right, else raise the error to show.

        The answer is judged inside the ledger's atomic step that counts its
        failure (capped at the threshold), and a right answer undoes the count
        before the step ends. When the count has reached the threshold nothing is
        counted and the answer is not judged: B84 (R-ERR-HOST-4). Concurrent
        answers on the account wait for the step and find the count it left: with
        k failures counted, at most threshold − k wrong answers are judged,
        however many submissions passed :meth:`refuse_if_locked` while the
        database's writes stalled, and a right answer is accepted only while a
        failure was left. (Judging first and counting after judged every one of
        them, and accepted a right PIN among more than threshold − k tries.)

        The error is raised once the step has ended: a failure the customer is
        told of is counted. A process dying inside the step counts nothing, and
        answers nothing either.
        """
        with ledger.reserve_failure(account, jst_day(now), self.threshold) as reserved:
            if reserved.count is not None and right():
                reserved.give_back()
        if reserved.count is None:
            raise B84(retry_after=next_jst_midnight(now))
        if not reserved.given_back:
            raise self._verdict(reserved.count, now)

    def failure(self, ledger: LockLedger, account: AccountKey, now: dt.datetime) -> RenkeiError:
        """Record one identity failure and answer the error to show for it: an answer
        :meth:`judge` finds wrong.

        R-ERR-HOST-2 below the threshold, R-ERR-HOST-3 for the failure that
        reaches it, and B84 when the count had reached it already. The count comes
        from the ledger's atomic, capped increment, never from a read before it:
        whatever the number of concurrent failures, exactly the threshold is
        counted, one answers ``locked_now`` and none slips through.
        """
        return self._verdict(ledger.add_failure(account, jst_day(now), self.threshold), now)

    def _verdict(self, count: int | None, now: dt.datetime) -> RenkeiError:
        """The error of a failure counted as the ``count``-th (None: not counted)."""
        if count is None:
            return B84(retry_after=next_jst_midnight(now))
        if count < self.threshold:
            return IdentityMismatch()
        return LockedNow(retry_after=next_jst_midnight(now))
