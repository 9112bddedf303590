"""INTERFACE.md §6: the sandbox and operator controls, with the admin token as bearer.

Each path is written once here; the ones naming a thing are functions.
"""

from __future__ import annotations

from typing import Final

CLOCK_PATH: Final = "/sandbox/clock"
CLOCK_ADVANCE_PATH: Final = "/sandbox/clock/advance"
FAULTS_PATH: Final = "/sandbox/faults"
#: The switches of ``PUT /sandbox/faults``.
FAULT_SWITCHES: Final = ("congestion", "system_error", "service_suspended")
MAINTENANCE_PATH: Final = "/sandbox/maintenance"
RESET_PATH: Final = "/sandbox/reset"
MAIL_PATH: Final = "/sandbox/mail"
OPLOG_PATH: Final = "/sandbox/oplog"
LOCKS_PATH: Final = "/admin/locks"
GRANTS_PATH: Final = "/admin/grants"
MOVE_PATH: Final = "/admin/accounts/move"


def lock_path(account: str) -> str:
    """An operator's unlock of ``{branch_no}-{account_type}-{account_no}``."""
    return f"{LOCKS_PATH}/{account}"


def revoke_path(grant_id: str) -> str:
    """Revocation of a grant by the bank (R-AUTHZ-3)."""
    return f"{GRANTS_PATH}/{grant_id}/revoke"
