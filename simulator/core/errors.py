"""Errors: one class per machine code of INTERFACE.md §3, in the manner of Authlib.

Each class names its code; the requirement it shows, the HTTP status and the
OAuth error it returns to the app through 「連携元画面へ」 are that code's row
of the contract (:mod:`renkei.contract.errors`), read when the class is made.
What follows an error is on its class, read from the same row: whether
「連携元画面へ」 is offered beside it (``returns_beside``), whether the service
refused before judging anything (``refusal``), whether a 503 is meant
(``deliberate_5xx``), whether it ends the flow (``terminal``). Where each error
leaves the flow is declared once, by class, in
:data:`simulator.core.screens.DETOURS`. A single ``except RenkeiError`` turns
any of them into a screen, a JSON body or a redirect; the adapters add no rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from renkei.contract.errors import ERRORS, TERMINAL, ErrorCode, Kind
from simulator.core import messages


@dataclass(frozen=True)
class FieldError:
    """One error as the screen model lists it: ``field`` is None for a dialog."""

    code: str
    message: str
    field: str | None = None


class RenkeiError(Exception):
    """Base of every error the flow, the host or the API answers.

    A subclass names its ``code``; its requirement, HTTP status, OAuth error and
    what may follow it are that code's row of the contract
    (:data:`renkei.contract.errors.ERRORS`), set when the class is made.
    """

    code: ClassVar[str]
    contract: ClassVar[ErrorCode]
    requirement: ClassVar[str]
    status: ClassVar[int]
    kind: ClassVar[Kind]
    #: The OAuth ``error`` the 「連携元画面へ」 link returns with (INTERFACE.md §1).
    oauth_error: ClassVar[str] = "access_denied"
    #: 「連携元画面へ」 is offered beside the error while the flow stays open
    #: (INTERFACE.md §1: R-ERR-HOST-1 and R-ERR-SYS-*).
    returns_beside: ClassVar[bool] = False
    #: The service refused before judging anything (R-ERR-SYS-*): the same request
    #: may succeed later, so the twin's customers retry it and count it apart.
    refusal: ClassVar[bool] = False
    #: A 5xx answered on purpose, with ``Retry-After`` where the end is known.
    deliberate_5xx: ClassVar[bool] = False
    #: The error ends the flow where it is raised; only 「連携元画面へ」 remains
    #: (R-ERR-HOST-3/4, R-ERR-CALL-4).
    terminal: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if code is not None:
            row = ERRORS[code]
            cls.contract = row
            cls.requirement = row.requirement
            cls.status = row.status
            cls.kind = row.kind
            cls.oauth_error = row.oauth_error
            cls.returns_beside = row.returns_beside
            cls.refusal = row.refusal
            cls.deliberate_5xx = row.deliberate_5xx
            cls.terminal = code in TERMINAL

    def __init__(self, message: str | None = None, *, retry_after: dt.datetime | None = None):
        self.message = message if message is not None else messages.MESSAGES[self.code]
        #: When the condition ends, where it is known (``Retry-After``).
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def errors(self) -> list[FieldError]:
        return [FieldError(self.code, self.message)]


class InputRejected(RenkeiError):
    """R-ERR-INPUT-1/2: fields empty or in the wrong form; the same screen again.

    Build one with :meth:`of`, which picks :class:`RequiredMissing` when any
    field is empty (the manual's dialog 「入力されていない項目があります。」) and
    :class:`InvalidInput` otherwise.
    """

    status = 422
    kind = Kind.INPUT

    def __init__(self, field_errors: list[FieldError]):
        self.field_errors = field_errors
        super().__init__(self.dialog())

    def dialog(self) -> str:
        return self.field_errors[0].message

    @property
    def errors(self) -> list[FieldError]:
        return self.field_errors

    @staticmethod
    def of(field_errors: list[FieldError]) -> InputRejected:
        if any(e.code == RequiredMissing.code for e in field_errors):
            return RequiredMissing(field_errors)
        return InvalidInput(field_errors)


class RequiredMissing(InputRejected):
    """R-ERR-INPUT-1: 「次へ」 with a required field empty (画面① 2/2, 画面② 2/4).

    The manual's dialog 「エラー」「入力されていない項目があります。」 heads the list,
    then 「必ず入力して下さい。」 under each empty field.
    """

    code = "required"

    def dialog(self) -> str:
        return messages.REQUIRED_DIALOG

    @property
    def errors(self) -> list[FieldError]:
        return [FieldError(self.code, messages.REQUIRED_DIALOG), *self.field_errors]


class InvalidInput(InputRejected):
    """R-ERR-INPUT-2: a field in the wrong form; one clear message per field."""

    code = "invalid"


class AccountUnavailable(RenkeiError):
    """R-ERR-HOST-1: 科目/口座番号 do not match an account in use (画面② 3/4 No.1)."""

    code = "account_unavailable"


class IdentityMismatch(RenkeiError):
    """R-ERR-HOST-2: the account is right, the other details are not (画面② 3/4 No.2)."""

    code = "identity_mismatch"


class LockedNow(RenkeiError):
    """R-ERR-HOST-3: the failure that reached the threshold; locked until 0:00 JST."""

    code = "locked_now"


class B84(RenkeiError):
    """R-ERR-HOST-4: any attempt on a locked account (reason code B84)."""

    code = "B84"


class OutOfHours(RenkeiError):
    """R-ERR-SYS-1: outside the service hours of FAQ 3-Q1 (R-HOURS)."""

    code = "out_of_hours"


class Congested(RenkeiError):
    """R-ERR-SYS-2: too many partner-app transactions at once."""

    code = "congested"


class SystemError_(RenkeiError):  # ``SystemError`` is a builtin
    """R-ERR-SYS-3: a system error, injected or real."""

    code = "system_error"


class ServiceUnavailable(RenkeiError):
    """R-ERR-SYS-4: the service asked for is not offered now (suspended)."""

    code = "service_unavailable"


class CallPending(RenkeiError):
    """R-ERR-CALL-1: 「確定する」 before the verifying call arrived."""

    code = "call_pending"


class CallExpired(RenkeiError):
    """R-ERR-CALL-2: more than 120 s since ④ was shown; back to the first screen."""

    code = "call_expired"


class OutOfOrder(RenkeiError):
    """R-FLOW-8: a screen reached before the one before it succeeded."""

    code = "out_of_order"


class CsrfFailed(RenkeiError):
    """A screen's form came back without the token it was served with (INTERFACE.md §2)."""

    code = "csrf_failed"


class FlowLost(RenkeiError):
    """R-ERR-CALL-4: the flow is gone (browser session closed or timed out)."""

    code = "flow_lost"


class AccountMoved(RenkeiError):
    """R-ACCT-3: the linked account moved to another branch; link the new one."""

    code = "account_moved"


class HistoryOutOfRange(RenkeiError):
    """R-ACCT-4: a query reaching further back than the host keeps."""

    code = "history_out_of_range"

    def __init__(self, earliest: dt.date):
        self.earliest = earliest
        super().__init__(messages.message("history_out_of_range", earliest=earliest.isoformat()))


class GrantInactive(RenkeiError):
    """R-FLOW-9, R-AUTHZ-1/3/4: the 認可期間 ended, or the link was revoked."""

    code = "grant_inactive"


class InvalidParameter(RenkeiError):
    """The account API's bad parameters (INTERFACE.md §5: e.g. dateFrom after dateTo)."""

    code = "invalid_parameter"

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(messages.message("invalid_parameter", detail=detail))


#: Every error class by its machine code, for adapters and the harness.
BY_CODE: dict[str, type[RenkeiError]] = {
    cls.code: cls
    for cls in (
        RequiredMissing,
        InvalidInput,
        AccountUnavailable,
        IdentityMismatch,
        LockedNow,
        B84,
        OutOfHours,
        Congested,
        SystemError_,
        ServiceUnavailable,
        CallPending,
        CallExpired,
        OutOfOrder,
        CsrfFailed,
        FlowLost,
        AccountMoved,
        HistoryOutOfRange,
        GrantInactive,
        InvalidParameter,
    )
}
