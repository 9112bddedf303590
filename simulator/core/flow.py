"""The API連携認証 flow: screens ① to ⑥ run against the host (R-FLOW-1..9).

:class:`ConnectFlow` carries out the moves of :mod:`simulator.core.screens` on
a :class:`FlowState`, the one record of a customer's progress. Each method is
one button: it runs the checks every request passes, then the guards the
screen table lists for that move (:mod:`simulator.core.guards`), in order, and
applies the move. It either moves the flow on or raises the error the manual
shows, having left the flow where the table's detours say (INTERFACE.md §2):

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
from simulator.core.clock import Clock
from simulator.core.errors import BY_CODE, FlowLost, OutOfOrder, RenkeiError
from simulator.core.faults import Faults, Occupancy, ServiceGate, SlotRule
from simulator.core.grants import Grant
from simulator.core.guards import ON_EVERY_REQUEST, Attempt, Guard
from simulator.core.host import AccountKey, PinVault
from simulator.core.hours import ServiceCalendar
from simulator.core.lockout import LockLedger
from simulator.core.screens import Action, End, Move, Screen, detour, move
from simulator.core.telephony import (
    CallAnswer,
    CallChallenge,
    InboundCall,
    answered,
    issue_challenge,
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


#: The form of a button that posts none (③, ④, 「中止する」); read-only as a Mapping.
_NO_FORM: inputs.Form = {}


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
    #: When a screen of the flow was first posted; None while it is early, holding
    #: its slot only briefly (:class:`~simulator.core.faults.SlotRule`).
    posted_at: dt.datetime | None = None
    #: The store's revision of this record (0: never stored). Not part of the
    #: record: a store uses it to refuse a save over a newer one (lost update).
    revision: int = field(default=0, compare=False)

    @property
    def finished(self) -> bool:
        return self.end is not None

    def holds_slot(self, now: dt.datetime, rule: SlotRule) -> bool:
        """Whether the flow holds one of the host's slots at ``now`` (R-ERR-SYS-2):
        from its start until it ends, or until ``rule`` says it is lost
        (R-ERR-CALL-4). The store counts the same in SQL (``SqlFlows.occupancy``);
        the twin frees the slot at :meth:`slot_freed_at`.
        """
        return rule.holds(self, now)

    def slot_freed_at(self, rule: SlotRule) -> dt.datetime:
        """When an unfinished flow nobody touches again stops holding its slot."""
        return rule.freed_at(self)

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
                "seq": c.seq,
            },
            "grant_id": self.grant_id,
            "shown_error": self.shown_error,
            "posted_at": instant(self.posted_at),
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
                c.get("seq", 0),  # a record saved before the rule of one call, one screen
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
            # A record saved before early flows: the idle timeout alone, as it was.
            posted_at=instant(record["posted_at"]) if "posted_at" in record else started_at,
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

    def log(self, flow: FlowState, kind: str, **detail: Any) -> None:
        """One line of the operation log for ``flow``, to :attr:`journal`."""
        self.journal(Event(self.clock.now(), flow.flow_id, kind, detail))

    def _fail(self, flow: FlowState, error: RenkeiError) -> RenkeiError:
        """Log ``error`` and send the flow where :data:`DETOURS` says for its class."""
        flow.shown_error = error.code
        target = detour(flow.screen, error)
        if isinstance(target, End):
            flow.screen, flow.end, flow.end_code = None, target, error.code
        elif target is not None:
            flow.restart()
            flow.screen = target
        self.log(flow, "error", code=error.code, screen=flow.screen and flow.screen.value)
        return error

    def _run(self, attempt: Attempt, checks: tuple[Guard, ...]) -> None:
        """Run ``checks`` in order; the first error goes through :meth:`_fail`."""
        for check in checks:
            try:
                check(attempt)
            except RenkeiError as error:
                raise self._fail(attempt.flow, error) from None

    def _enter(
        self, flow: FlowState | None, screen: Screen | None = None, form: inputs.Form = _NO_FORM
    ) -> Attempt:
        """Checks before any screen is shown or any button acts (:data:`ON_EVERY_REQUEST`);
        answers the attempt, at the instant it was made."""
        now = self.clock.now()
        if flow is None:
            raise FlowLost()
        if flow.finished:
            raise OutOfOrder()
        attempt = Attempt(self, flow, now, screen, form)
        self._run(attempt, ON_EVERY_REQUEST)
        flow.touched_at = now
        return attempt

    def _press(
        self, flow: FlowState | None, screen: Screen, action: Action, form: inputs.Form = _NO_FORM
    ) -> tuple[Move, Attempt]:
        """A button on ``screen``: refused unless the flow is on it (R-FLOW-8), then
        the move's guards from :data:`~simulator.core.screens.MOVES`, in order."""
        attempt = self._enter(flow, screen, form)
        if attempt.flow.posted_at is None:  # no longer early (SlotRule), accepted or not
            attempt.flow.posted_at = attempt.now
        step = move(screen, action)
        if step is None:  # a button the screen does not have
            raise self._fail(attempt.flow, OutOfOrder())
        attempt.flow.shown_error = None
        self._run(attempt, step.guards)
        return step, attempt

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
        slots: Occupancy | None = None,
    ) -> FlowState:
        """``/oauth/authorize`` accepted by the OAuth layer: a new flow at ①.

        The host checks its hours, faults and capacity first (R-ERR-SYS-*): ``slots``
        is what the store found of its slots for this app (none held when not given).
        """
        now = self.clock.now()
        self.gate.check(now, self.faults(), slots or Occupancy())
        flow = FlowState(
            self.new_id(), client_id, redirect_uri, scopes, state, code_challenge, now, now
        )
        self.log(flow, "start", client_id=client_id)
        return flow

    def show(self, flow: FlowState | None, screen: Screen) -> FlowState:
        """GET of a screen: only the screen the flow is on (R-FLOW-8)."""
        return self._enter(flow, screen).flow

    def submit_account(self, flow: FlowState | None, form: inputs.Form) -> FlowState:
        """① SOA201 「次へ」: the account is only read here; the host checks it on ②."""
        step, a = self._press(flow, Screen.ACCOUNT, Action.NEXT, form)
        a.flow.account = a.account_key
        self._arrive(a.flow, step)
        return a.flow

    def submit_customer(self, flow: FlowState | None, form: inputs.Form) -> FlowState:
        """② SOA202 「次へ」: input, account usable, not locked, then identity."""
        step, a = self._press(flow, Screen.CUSTOMER, Action.NEXT, form)
        account, entry, customer = a.found_account(), a.entry, a.customer
        assert entry is not None and customer is not None  # the guards read them
        a.flow.customer_id = customer.customer_id
        a.flow.registered_phone = customer.phone
        a.flow.name_kana, a.flow.email = entry.name_kana, entry.email
        self._arrive(a.flow, step)
        self.log(
            a.flow,
            "identified",
            account=str(account.key),
            name_kana=entry.name_kana,
            email=entry.email,
        )
        return a.flow

    def decide_phone(self, flow: FlowState | None, waiting: Iterable[FlowState] = ()) -> FlowState:
        """③ SOA208 「電話番号の決定」: ④ is shown with a number drawn for this attempt,
        apart from those the phone's other flows on ④ (``waiting``, found by the
        store as for :meth:`receive_call`) show while pending."""
        step, a = self._press(flow, Screen.PHONE, Action.DECIDE_PHONE)
        assert a.flow.registered_phone is not None
        others = [
            f.challenge
            for f in waiting
            if f.flow_id != a.flow.flow_id and f.screen is Screen.CALL and f.challenge is not None
        ]
        a.flow.challenge = issue_challenge(
            self.rules.call_pool,
            a.flow.registered_phone,
            a.now,
            self.rng,
            self.rules.call_window,
            others,
        )
        self._arrive(a.flow, step)
        self.log(a.flow, "call_shown", to=a.flow.challenge.to_number)
        return a.flow

    def confirm_call(self, flow: FlowState | None) -> FlowState:
        """④ SOA209 「確定する」: in time and after the verifying call (R-ERR-CALL-1/2)."""
        step, a = self._press(flow, Screen.CALL, Action.CONFIRM)
        self._arrive(a.flow, step)
        return a.flow

    def receive_call(self, call: InboundCall, waiting: Iterable[FlowState]) -> CallAnswer:
        """The telephony gateway's inbound call, judged against every flow on ④ that
        could be waiting for it (the store finds them by the calling number); it
        verifies at most one of them, the one :func:`~simulator.core.telephony.answered`
        picks, and each is logged with its verdict.

        The line rings 2–3 times and hangs up whatever the verdict.
        """
        now = self.clock.now()
        on_call = [f for f in waiting if f.screen is Screen.CALL and f.challenge is not None]
        chosen, verdicts = answered(call, [f.challenge for f in on_call if f.challenge], now)
        for flow, verdict in zip(on_call, verdicts, strict=True):
            self.log(flow, "call", verdict=verdict.value, to=call.dialled)
        if chosen is not None:
            flow = on_call[chosen]
            assert flow.challenge is not None
            flow.challenge = verified(flow.challenge, now)
        return CallAnswer(rings=rings(self.rng), verified=chosen is not None)

    def submit_pin(self, flow: FlowState | None, form: inputs.Form) -> FlowState:
        """⑤ SOA211 「次へ」: input, account still usable, not locked, then the PIN (R-FLOW-5)."""
        step, a = self._press(flow, Screen.PIN, Action.NEXT, form)
        self._arrive(a.flow, step)
        return a.flow

    def decide(self, flow: FlowState | None, form: inputs.Form) -> Grant | None:
        """⑥ SOA206 「許可する」 (agreement ticked) grants; 「拒否する」 cancels (R-FLOW-6/7).

        The form's ``decision`` says which button was pressed.
        """
        if _consent_button(form) is Action.DENY:
            self._cancel(flow, Screen.CONSENT, Action.DENY, form)
            return None
        step, a = self._press(flow, Screen.CONSENT, Action.ALLOW, form)
        assert a.flow.account is not None
        grant = self.rules.grants.grant(
            self.new_id(), a.flow.client_id, a.flow.account, a.flow.scopes, a.now
        )
        a.flow.grant_id = grant.grant_id
        self._arrive(a.flow, step)
        self.log(
            a.flow,
            "granted",
            grant_id=grant.grant_id,
            account=str(a.flow.account),
            scopes=list(a.flow.scopes),
        )
        return grant

    def cancel(self, flow: FlowState | None) -> FlowState:
        """「中止する」 on ②–⑤, 「拒否する」 on ⑥: 「API連携認証を中止しました。」 (R-FLOW-7)."""
        screen = flow.screen if flow is not None else None
        action = Action.DENY if screen is Screen.CONSENT else Action.CANCEL
        if screen is None:
            self._enter(flow)  # lost or finished: the matching error
            raise OutOfOrder()
        return self._cancel(flow, screen, action)

    def _cancel(
        self, flow: FlowState | None, screen: Screen, action: Action, form: inputs.Form = _NO_FORM
    ) -> FlowState:
        step, a = self._press(flow, screen, action, form)
        self._arrive(a.flow, step)
        self.log(a.flow, "cancelled")
        return a.flow

    def return_to_app(self, flow: FlowState | None) -> FlowState:
        """「連携元画面へ」: after the flow ended, or from a screen showing an error,
        which then ends the flow with that error's code (INTERFACE.md §1)."""
        if flow is None:
            raise FlowLost()
        if not flow.finished:
            if flow.shown_error is None:
                raise OutOfOrder()  # the link is offered only beside an error
            flow.screen, flow.end, flow.end_code = None, End.FAILED, flow.shown_error
            self.log(flow, "returned", code=flow.shown_error)
        return flow


def _consent_button(form: inputs.Form) -> Action:
    """Which of ⑥'s buttons the form names: 「拒否する」 for ``decision=deny``, read as
    the input rules read a field (trimmed); anything else is 「許可する」, whose guard
    refuses a decision missing or in the wrong form."""
    return Action.DENY if inputs.field_text(form, "decision") == "deny" else Action.ALLOW
