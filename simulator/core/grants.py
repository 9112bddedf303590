"""The link after 「許可する」: the 30-day 認可期間 and its end (R-AUTHZ, R-FLOW-9).

* R-AUTHZ-1: a grant gives the partner app the account's information for the
  認可期間, 30 days from 「許可する」 (configurable); then the app must send the
  customer through the flow again (R-FLOW-9).
* R-AUTHZ-3: the bank can end it at the customer's request, at once.
* R-AUTHZ-4: uninstalling the app does not end it at once (「一定期間は連携が継続
  されます」). The manual gives no length; renkei's rule is that when the partner
  reports the uninstall, the grant goes on for ``uninstall_grace`` (default 14
  days) and then ends, never later than its own 認可期間.
* R-ACCT-3: a grant on an account that has since moved branch is no good.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Final, Literal

from simulator.core.errors import AccountMoved, GrantInactive
from simulator.core.host import Account, AccountKey, AccountStatus

GRANT_DAYS: Final = 30
UNINSTALL_GRACE: Final = dt.timedelta(days=14)

RevokedBy = Literal["app", "bank"]


@dataclass(frozen=True)
class Grant:
    grant_id: str
    client_id: str
    account: AccountKey
    scopes: tuple[str, ...]
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_by: RevokedBy | None = None
    uninstalled_at: dt.datetime | None = None


@dataclass(frozen=True)
class GrantPolicy:
    days: int = GRANT_DAYS
    uninstall_grace: dt.timedelta = UNINSTALL_GRACE

    def grant(
        self,
        grant_id: str,
        client_id: str,
        account: AccountKey,
        scopes: tuple[str, ...],
        now: dt.datetime,
    ) -> Grant:
        """R-AUTHZ-1: the grant made by 「許可する」 on ⑥."""
        return Grant(grant_id, client_id, account, scopes, now, now + dt.timedelta(days=self.days))

    def ends_at(self, grant: Grant) -> dt.datetime:
        """When the grant stops working, whichever comes first."""
        end = grant.expires_at
        if grant.revoked_at is not None:
            end = min(end, grant.revoked_at)
        if grant.uninstalled_at is not None:
            end = min(end, grant.uninstalled_at + self.uninstall_grace)
        return end

    def is_active(self, grant: Grant, now: dt.datetime) -> bool:
        return now < self.ends_at(grant)

    def revoke(self, grant: Grant, now: dt.datetime, by: RevokedBy) -> Grant:
        """R-AUTHZ-3 (by the bank) or RFC 7009 (by the app): ends at once."""
        if grant.revoked_at is not None:
            return grant
        return replace(grant, revoked_at=now, revoked_by=by)

    def uninstalled(self, grant: Grant, now: dt.datetime) -> Grant:
        """R-AUTHZ-4: the partner reports the app uninstalled; the grace period starts."""
        if grant.uninstalled_at is not None:
            return grant
        return replace(grant, uninstalled_at=now)

    def check(self, grant: Grant, account: Account | None, now: dt.datetime) -> None:
        """Raise unless the grant can be used now for its account."""
        if not self.is_active(grant, now):
            raise GrantInactive()
        if account is not None and account.status is AccountStatus.MOVED:
            raise AccountMoved()  # R-ACCT-3: the old branch/number is no longer served
        if account is None or account.status is not AccountStatus.OPEN:
            raise GrantInactive()
