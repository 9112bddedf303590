"""INTERFACE.md §6: the sandbox and operator controls, with the admin token as bearer.

Each path is written once here; the ones naming a thing are functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from renkei.contract.screens import SCREENS, Screen

CLOCK_PATH: Final = "/sandbox/clock"
CLOCK_ADVANCE_PATH: Final = "/sandbox/clock/advance"
FAULTS_PATH: Final = "/sandbox/faults"
#: ``PUT /sandbox/faults``' switches: R-ERR-SYS-2, R-ERR-SYS-3, R-ERR-SYS-4.
CONGESTION: Final = "congestion"
SYSTEM_ERROR: Final = "system_error"
SERVICE_SUSPENDED: Final = "service_suspended"
#: The switches of ``PUT /sandbox/faults``.
FAULT_SWITCHES: Final = (CONGESTION, SYSTEM_ERROR, SERVICE_SUSPENDED)
MAINTENANCE_PATH: Final = "/sandbox/maintenance"
RESET_PATH: Final = "/sandbox/reset"
MAIL_PATH: Final = "/sandbox/mail"
OPLOG_PATH: Final = "/sandbox/oplog"
LOCKS_PATH: Final = "/admin/locks"
GRANTS_PATH: Final = "/admin/grants"
MOVE_PATH: Final = "/admin/accounts/move"

#: ①'s fields, which name an account in the bodies of the controls (``from``, ``to``).
ACCOUNT_FIELDS: Final = SCREENS[Screen.ACCOUNT].field_names


def account_id(account: Mapping[str, str]) -> str:
    """How the controls name an account in a path or an answer (a lock's or a
    grant's ``account``): ①'s three fields joined by ``-``, as ``115-1-1100026``."""
    return "-".join(account[name] for name in ACCOUNT_FIELDS)


def account_fields(account: str) -> dict[str, str]:
    """An account named as :func:`account_id` names it, back into ①'s fields."""
    parts = account.split("-")
    if len(parts) != len(ACCOUNT_FIELDS):
        raise ValueError(f"not an account {account!r}: expected BRANCH-TYPE-NUMBER")
    return dict(zip(ACCOUNT_FIELDS, parts, strict=True))


def lock_path(account: str) -> str:
    """An operator's unlock of ``{branch_no}-{account_type}-{account_no}``."""
    return f"{LOCKS_PATH}/{account}"


def revoke_path(grant_id: str) -> str:
    """Revocation of a grant by the bank (R-AUTHZ-3)."""
    return f"{GRANTS_PATH}/{grant_id}/revoke"


def uninstall_path(grant_id: str) -> str:
    """The partner's report that its app was uninstalled, which starts the grant's
    grace period (R-AUTHZ-4; renkei's own control, not one of the manual's)."""
    return f"/sandbox/grants/{grant_id}/uninstall"
