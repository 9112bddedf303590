"""The API連携認証 flow: screens ① to ⑥ run against the host (R-FLOW-1..9).

:class:`ConnectFlow` carries out the moves of :mod:`simulator.core.screens` on
a :class:`FlowState`, the one record of a customer's progress. Each method is
one button; it either moves the flow on or raises the error the manual shows,
having left the flow where INTERFACE.md §2 says it goes:

* system state (R-ERR-SYS-*): the flow stays where it was;
* input (R-ERR-INPUT-*): the same screen;
* account unusable (R-ERR-HOST-1): back to ①, not counted;
* identity (R-ERR-HOST-2): the same screen, counted; at the threshold
  R-ERR-HOST-3 and the flow ends; B84 ends it too;
* call too late (R-ERR-CALL-2): back to ①, progress forgotten.

The adapters (web, SimPy twin) load and save the state around each call; the
engine itself keeps nothing between calls.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.core import inputs
from simulator.core.bank import BankRules, HostDirectory
from simulator.core.clock import Clock, jst_day
from simulator.core.errors import (
    BY_CODE,
    AccountUnavailable,
    CallExpired,
    CallPending,
    FlowLost,
    OutOfOrder,
    RenkeiError,
)
from simulator.core.faults import Faults, ServiceGate
from simulator.core.grants import Grant
from simulator.core.host import AccountKey, PinVault, identity_matches, unusable_reason
from simulator.core.hours import ServiceCalendar
from simulator.core.lockout import LockLedger
from simulator.core.screens import Action, End, Move, Screen, detour, move
from simulator.core.telephony import (
    CallAnswer,
    CallChallenge,
    CallVerdict,
    InboundCall,
    issue_challenge,
    judge,
    rings,
    verified,
)


@dataclass(frozen=True)
class Event:
    """One line of the operation log (R-AUTHZ-6 keeps the kana name and e-mail here)."""

    at: dt.datetime
    flow_id: str
    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)


Journal = Callable[[Event], None]


def _discard(event: Event) -> None:
    """The journal when nobody listens."""


@dataclass
class FlowState:
    """Where one customer is in API連携認証, and what the app asked for."""

    flow_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str
    started_at: dt.datetime
    touched_at: dt.datetime
    screen: Screen | None = Screen.ACCOUNT
    end: End | None = None
    #: The machine code the flow ended with (``error_description``), if any.
    end_code: str | None = None
    account: AccountKey | None = None
    customer_id: str | None = None
    registered_phone: str | None = None
    name_kana: str | None = None
    email: str | None = None
    challenge: CallChallenge | None = None
    grant_id: str | None = None
    #: The error the current screen shows, for 「連携元画面へ」 beside a retry.
    shown_error: str | None = None
    #: The store's revision of this record (0: never stored). Not part of the
    #: record: a store uses it to refuse a save over a newer one (lost update).
    revision: int = field(default=0, compare=False)

    @property
    def finished(self) -> bool:
        return self.end is not None

    def holds_slot(self, now: dt.datetime, timeout: dt.timedelta) -> bool:
        """Whether the flow holds one of the host's slots at ``now`` (R-ERR-SYS-2):
        from its start until it ends, or until ``timeout`` after it was last
        touched, when it is lost (R-ERR-CALL-4). The store counts the same in SQL
        (``SqlFlows.in_progress``); the twin frees the slot at :meth:`slot_freed_at`.
        """
        return not self.finished and now - self.touched_at <= timeout

    def slot_freed_at(self, timeout: dt.timedelta) -> dt.datetime:
        """When an unfinished flow nobody touches again stops holding its slot."""
        return self.touched_at + timeout

    def oauth_return(self) -> dict[str, str]:
        """The query 「連携元画面へ」 returns to the app with (INTERFACE.md §1), less the code."""
        params: dict[str, str] = {}
        if self.end is End.CANCELLED:
            params["error"] = "access_denied"
        elif self.end is End.FAILED:
            cls = BY_CODE.get(self.end_code or "")
            params["error"] = cls.oauth_error if cls else "server_error"
            params["error_description"] = self.end_code or "system_error"
        if self.state is not None:
            params["state"] = self.state
        return params

    def to_record(self) -> dict[str, Any]:
        """The state as JSON-ready values, for a store to keep between requests."""

        def instant(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        c = self.challenge
        return {
            "flow_id": self.flow_id,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
            "state": self.state,
            "code_challenge": self.code_challenge,
            "started_at": instant(self.started_at),
            "touched_at": instant(self.touched_at),
            "screen": self.screen.value if self.screen else None,
            "end": self.end.value if self.end else None,
            "end_code": self.end_code,
            "account": str(self.account) if self.account else None,
            "customer_id": self.customer_id,
            "registered_phone": self.registered_phone,
            "name_kana": self.name_kana,
            "email": self.email,
            "challenge": None
            if c is None
            else {
                "from_number": c.from_number,
                "to_number": c.to_number,
                "shown_at": instant(c.shown_at),
                "window_seconds": c.window.total_seconds(),
                "verified_at": instant(c.verified_at),
            },
            "grant_id": self.grant_id,
            "shown_error": self.shown_error,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> FlowState:
        """The inverse of :meth:`to_record`."""

        def instant(value: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(value) if value is not None else None

        c = record.get("challenge")
        challenge = None
        if c is not None:
            shown_at = instant(c["shown_at"])
            assert shown_at is not None
            challenge = CallChallenge(
                c["from_number"],
                c["to_number"],
                shown_at,
                dt.timedelta(seconds=c["window_seconds"]),
                instant(c["verified_at"]),
            )
        started_at, touched_at = instant(record["started_at"]), instant(record["touched_at"])
        assert started_at is not None and touched_at is not None
        return cls(
            flow_id=record["flow_id"],
            client_id=record["client_id"],
            redirect_uri=record["redirect_uri"],
            scopes=tuple(record["scopes"]),
            state=record["state"],
            code_challenge=record["code_challenge"],
            started_at=started_at,
            touched_at=touched_at,
            screen=Screen(record["screen"]) if record["screen"] else None,
            end=End(record["end"]) if record["end"] else None,
            end_code=record["end_code"],
            account=AccountKey.parse(record["account"]) if record["account"] else None,
            customer_id=record["customer_id"],
            registered_phone=record["registered_phone"],
            name_kana=record["name_kana"],
            email=record["email"],
            challenge=challenge,
            grant_id=record["grant_id"],
            shown_error=record["shown_error"],
        )

    def restart(self) -> None:
        """Back to ① with everything learnt forgotten (R-ERR-CALL-2)."""
        self.screen = Screen.ACCOUNT
        self.account = self.customer_id = self.registered_phone = None
        self.name_kana = self.email = None
        self.challenge = None


class ConnectFlow:
    """The rules of API連携認証 over one bank, one clock and one random generator."""

    def __init__(
        self,
        rules: BankRules,
        host: HostDirectory,
        locks: LockLedger,
        pins: PinVault,
        clock: Clock,
        rng: random.Random,
        calendar: ServiceCalendar | None = None,
        faults: Callable[[], Faults] = Faults,
        journal: Journal = _discard,
    ) -> None:
        self.rules = rules
        self.host = host
        self.locks = locks
        self.pins = pins
        self.clock = clock
        self.rng = rng
        self.gate = ServiceGate(calendar or ServiceCalendar(rules.windows), rules.capacity)
        self.faults = faults
        self.journal = journal

    # -- bookkeeping shared by every button ---------------------------------------------

    def new_id(self) -> str:
        """An unguessable id (give the engine ``random.SystemRandom`` in a server)."""
        return f"{self.rng.getrandbits(128):032x}"

    def _log(self, flow: FlowState, kind: str, **detail: Any) -> None:
        self.journal(Event(self.clock.now(), flow.flow_id, kind, detail))

    def _fail(self, flow: FlowState, error: RenkeiError) -> RenkeiError:
        """Log ``error`` and send the flow where :data:`DETOURS` says."""
        flow.shown_error = error.code
        target = detour(flow.screen, error.code)
        if isinstance(target, End):
            flow.screen, flow.end, flow.end_code = None, target, error.code
        elif target is not None:
            flow.restart()
            flow.screen = target
        self._log(flow, "error", code=error.code, screen=flow.screen and flow.screen.value)
        return error

    def _enter(self, flow: FlowState | None, screen: Screen | None = None) -> dt.datetime:
        """Checks before any screen is shown or any button acts; answers now."""
        now = self.clock.now()
        if flow is None:
            raise FlowLost()
        if flow.finished:
            raise OutOfOrder()
        if now - flow.touched_at > self.rules.flow_timeout:
            raise self._fail(flow, FlowLost())
        try:
            self.gate.check(now, self.faults())
        except RenkeiError as error:
            raise self._fail(flow, error) from None
        if screen is not None and flow.screen is not screen:
            raise self._fail(flow, OutOfOrder())
        flow.touched_at = now
        return now

    def _press(
        self, flow: FlowState | None, screen: Screen, action: Action
    ) -> tuple[FlowState, Move, dt.datetime]:
        """A button on ``screen``: refused unless the flow is on it (R-FLOW-8)."""
        now = self._enter(flow, screen)
        assert flow is not None
        step = move(screen, action)
        if step is None:  # a button the screen does not have
            raise self._fail(flow, OutOfOrder())
        flow.shown_error = None
        return flow, step, now

    def _arrive(self, flow: FlowState, step: Move) -> None:
        """Follow ``step`` to its target screen or end."""
        if isinstance(step.target, Screen):
            flow.screen = step.target
        else:
            flow.screen, flow.end = None, step.target

    # -- the app's request and the screens ----------------------------------------------

    def start(
        self,
        client_id: str,
        redirect_uri: str,
        scopes: tuple[str, ...],
        state: str | None,
        code_challenge: str,
        flows_in_progress: int = 0,
    ) -> FlowState:
        """``/oauth/authorize`` accepted by the OAuth layer: a new flow at ①.

        The host checks its hours, faults and capacity first (R-ERR-SYS-*).
        """
        now = self.clock.now()
        self.gate.check(now, self.faults(), flows_in_progress)
        flow = FlowState(
            self.new_id(), client_id, redirect_uri, scopes, state, code_challenge, now, now
        )
        self._log(flow, "start", client_id=client_id)
        return flow

    def show(self, flow: FlowState | None, screen: Screen) -> FlowState:
        """GET of a screen: only the screen the flow is on (R-FLOW-8)."""
        self._enter(flow, screen)
        assert flow is not None
        return flow

    def submit_account(self, flow: FlowState | None, form: inputs.Form) -> FlowState:
        """① SOA201 「次へ」: the account is only read here; the host checks it on ②."""
        flow, step, _ = self._press(flow, Screen.ACCOUNT, Action.NEXT)
        try:
            flow.account = inputs.read_account(form)
        except RenkeiError as error:
            raise self._fail(flow, error) from None
        self._arrive(flow, step)
        return flow

    def submit_customer(self, flow: FlowState | None, form: inputs.Form) -> FlowState:
        """② SOA202 「次へ」: input, account usable, not locked, then identity."""
        flow, step, now = self._press(flow, Screen.CUSTOMER, Action.NEXT)
        assert flow.account is not None
        try:
            entry = inputs.read_customer(form, jst_day(now))
        except RenkeiError as error:
            raise self._fail(flow, error) from None
        account = self.host.account(flow.account)
        reason = unusable_reason(account, jst_day(now))
        if account is None or reason is not None:
            self._log(flow, "account_unavailable", account=str(flow.account), reason=reason)
            raise self._fail(flow, AccountUnavailable())
        customer = self.host.customer(account.customer_id)
        try:
            self.rules.lockout.refuse_if_locked(self.locks, account.key, now)
        except RenkeiError as error:
            raise self._fail(flow, error) from None
        if customer is None or not identity_matches(
            customer, entry.name_kana, entry.birth_date, entry.phone
        ):
            raise self._fail(flow, self.rules.lockout.failure(self.locks, account.key, now))
        flow.customer_id = customer.customer_id
        flow.registered_phone = customer.phone
        flow.name_kana, flow.email = entry.name_kana, entry.email
        self._arrive(flow, step)
        self._log(
            flow,
            "identified",
            account=str(account.key),
            name_kana=entry.name_kana,
            email=entry.email,
        )
        return flow

    def decide_phone(self, flow: FlowState | None) -> FlowState:
        """③ SOA208 「電話番号の決定」: ④ is shown with a number drawn for this attempt."""
        flow, step, now = self._press(flow, Screen.PHONE, Action.DECIDE_PHONE)
        assert flow.registered_phone is not None
        flow.challenge = issue_challenge(
            self.rules.call_pool, flow.registered_phone, now, self.rng, self.rules.call_window
        )
        self._arrive(flow, step)
        self._log(flow, "call_shown", to=flow.challenge.to_number)
        return flow

    def confirm_call(self, flow: FlowState | None) -> FlowState:
        """④ SOA209 「確定する」: in time and after the verifying call (R-ERR-CALL-1/2)."""
        flow, step, now = self._press(flow, Screen.CALL, Action.CONFIRM)
        challenge = flow.challenge
        assert challenge is not None
        if not challenge.open_at(now):
            raise self._fail(flow, CallExpired())
        if challenge.verified_at is None:
            raise self._fail(flow, CallPending())
        self._arrive(flow, step)
        return flow

    def receive_call(self, call: InboundCall, waiting: Iterable[FlowState]) -> CallAnswer:
        """The telephony gateway's inbound call, judged against every flow on ④ that
        could be waiting for it (the store finds them by the calling number).

        The line rings 2–3 times and hangs up whatever the verdict.
        """
        now = self.clock.now()
        verified_any = False
        for flow in waiting:
            if flow.screen is not Screen.CALL or flow.challenge is None:
                continue
            verdict = judge(call, flow.challenge, now)
            self._log(flow, "call", verdict=verdict.value, to=call.dialled)
            if verdict is CallVerdict.VERIFIED:
                flow.challenge = verified(flow.challenge, now)
                verified_any = True
        return CallAnswer(rings=rings(self.rng), verified=verified_any)

    def submit_pin(self, flow: FlowState | None, form: inputs.Form) -> FlowState:
        """⑤ SOA211 「次へ」: input, not locked, then the PIN (R-FLOW-5)."""
        flow, step, now = self._press(flow, Screen.PIN, Action.NEXT)
        assert flow.account is not None
        try:
            pin = inputs.read_pin(form)
        except RenkeiError as error:
            raise self._fail(flow, error) from None
        account = self.host.account(flow.account)
        if account is None or unusable_reason(account, jst_day(now)) is not None:
            raise self._fail(flow, AccountUnavailable())
        try:
            self.rules.lockout.refuse_if_locked(self.locks, account.key, now)
        except RenkeiError as error:
            raise self._fail(flow, error) from None
        if not self.pins.verify(account, pin):
            raise self._fail(flow, self.rules.lockout.failure(self.locks, account.key, now))
        self._arrive(flow, step)
        return flow

    def decide(self, flow: FlowState | None, form: inputs.Form) -> Grant | None:
        """⑥ SOA206 「許可する」 (agreement ticked) grants; 「拒否する」 cancels (R-FLOW-6/7)."""
        self._enter(flow, Screen.CONSENT)
        assert flow is not None
        try:
            allow = inputs.read_consent(form)
        except RenkeiError as error:
            raise self._fail(flow, error) from None
        if not allow:
            self.cancel(flow)
            return None
        flow, step, now = self._press(flow, Screen.CONSENT, Action.ALLOW)
        assert flow.account is not None
        grant = self.rules.grants.grant(
            self.new_id(), flow.client_id, flow.account, flow.scopes, now
        )
        flow.grant_id = grant.grant_id
        self._arrive(flow, step)
        self._log(
            flow,
            "granted",
            grant_id=grant.grant_id,
            account=str(flow.account),
            scopes=list(flow.scopes),
        )
        return grant

    def cancel(self, flow: FlowState | None) -> FlowState:
        """「中止する」 on ②–⑤, 「拒否する」 on ⑥: 「API連携認証を中止しました。」 (R-FLOW-7)."""
        screen = flow.screen if flow is not None else None
        action = Action.DENY if screen is Screen.CONSENT else Action.CANCEL
        if screen is None:
            self._enter(flow)  # lost or finished: the matching error
            raise OutOfOrder()
        flow, step, _ = self._press(flow, screen, action)
        self._arrive(flow, step)
        self._log(flow, "cancelled")
        return flow

    def return_to_app(self, flow: FlowState | None) -> FlowState:
        """「連携元画面へ」: after the flow ended, or from a screen showing an error,
        which then ends the flow with that error's code (INTERFACE.md §1)."""
        if flow is None:
            raise FlowLost()
        if not flow.finished:
            if flow.shown_error is None:
                raise OutOfOrder()  # the link is offered only beside an error
            flow.screen, flow.end, flow.end_code = None, End.FAILED, flow.shown_error
            self._log(flow, "returned", code=flow.shown_error)
        return flow
