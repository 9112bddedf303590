"""The lockout ledger's rules (R-ERR-HOST-2/3/4, R-ACCT-5, 画面② 3/4, FAQ 2-Q1/Q2).

Identity failures on ② and ⑤ count per account per JST day. The failure that
reaches the threshold answers 「お取扱いができなくなりました。」 (``locked_now``)
and any attempt after it, that day, answers reason code B84. Because the count
is kept per JST day, the lock ends by construction at exactly the next 0:00
JST, and an operator's unlock is clearing that day's count.

The lock blocks only API連携認証 (R-ACCT-5): nothing else in renkei consults it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from simulator.core.clock import jst_day, next_jst_midnight
from simulator.core.errors import B84, IdentityMismatch, LockedNow, RenkeiError
from simulator.core.host import AccountKey

DEFAULT_THRESHOLD = 5


class LockLedger(Protocol):
    """Where failure counts live. ``add_failure`` must be atomic across processes."""

    def failures(self, account: AccountKey, day: dt.date) -> int: ...

    def add_failure(self, account: AccountKey, day: dt.date, ceiling: int) -> int | None:
        """Count one more failure unless the day's count has reached ``ceiling``:
        answer the count after it, or None when it was not counted."""
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
        """R-ERR-HOST-4: raise B84 for any attempt while locked."""
        until = self.locked_until(ledger, account, now)
        if until is not None:
            raise B84(retry_after=until)

    def failure(self, ledger: LockLedger, account: AccountKey, now: dt.datetime) -> RenkeiError:
        """Record one identity failure and answer the error to show for it.

        R-ERR-HOST-2 below the threshold, R-ERR-HOST-3 for the failure that
        reaches it, and B84 for one that found the account locked by a
        concurrent request (it passed :meth:`refuse_if_locked` before the lock).
        The count comes from the ledger's atomic, capped increment, never from a
        read before it: whatever the number of concurrent failures, exactly the
        threshold is counted, one answers ``locked_now`` and none slips through.
        """
        count = ledger.add_failure(account, jst_day(now), self.threshold)
        if count is None:
            return B84(retry_after=next_jst_midnight(now))
        if count < self.threshold:
            return IdentityMismatch()
        return LockedNow(retry_after=next_jst_midnight(now))
