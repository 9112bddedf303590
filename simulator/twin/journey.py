"""Customers' journeys through API連携認証, as SimPy processes (plain generators).

:func:`arrivals` starts journeys over the day as a Poisson process whose rate
follows the profile's hourly weights, plus the surges; :func:`journey` is one
customer: the partner app's authorization request, then screen by screen
(① account, ② details, ③ phone, ④ the call, ⑤ PIN, ⑥ consent) with the
mistakes, delays and second thoughts the profile gives. Every button is a call
into the core of the customer's bank through :meth:`Twin.act`; this module
decides only what the customer does next, never what the bank answers. On a
platform each arrival is first drawn a bank (by the banks' shares), then one of
that bank's customers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, Final

from renkei.contract.errors import REFUSALS
from renkei.contract.screens import SCREEN_IDS
from renkei.contract.telephony import WITHHOLD_PREFIX
from simulator.core.flow import FlowState
from simulator.core.screens import Screen
from simulator.core.telephony import InboundCall
from simulator.population import BulkAccount, BulkCustomer
from simulator.scenario_model import Client
from simulator.twin.model import Bank, Process, Tally, Twin

#: A journey presses at most this many buttons (a loop breaker, never reached in practice).
MAX_ACTIONS: Final = 60
#: Seconds between the verifying call and 「確定する」 when the profile has no think time for ④.
AFTER_CALL: Final = 5.0


def run(twin: Twin) -> Tally:
    """Run the whole horizon; the progress callback, if any, hears each simulated hour."""
    twin.env.process(arrivals(twin))
    hour = 3600.0
    t = 0.0
    while t < twin.horizon:
        t = min(t + hour, twin.horizon)
        twin.env.run(until=t)
        if twin.progress is not None:
            twin.progress(t / twin.horizon)
    return twin.tally


def lognormal(twin: Twin, median: float, sigma: float) -> float:
    if median <= 0:
        return 0.0
    return twin.rng.lognormvariate(math.log(median), sigma)


def arrivals(twin: Twin) -> Process:
    """Start each day's journeys at their arrival instants, in order."""
    profile = twin.profile
    rng = twin.rng
    weights = profile.hourly
    total = sum(weights)
    clients = list(profile.clients)
    shares = [profile.clients[c] for c in clients]
    # Only a platform of several banks draws a bank, so that a one-bank run draws
    # exactly what it did before platforms.
    banks = [bank for bank in twin.banks if bank.share > 0]
    bank_shares = [bank.share for bank in banks]
    only = banks[0] if len(banks) == 1 else None
    for day in range(twin.days):
        base = day * 86_400.0
        times: list[float] = []
        for hour, weight in enumerate(weights):
            rate = profile.customers * weight / total / 3600.0  # arrivals per second
            if rate <= 0:
                continue
            t, end = base + hour * 3600.0, base + (hour + 1) * 3600.0
            while True:
                t += rng.expovariate(rate)
                if t >= end:
                    break
                times.append(t)
        for surge in profile.surges:
            at = base + surge.at.hour * 3600.0 + surge.at.minute * 60.0 + surge.at.second
            times.extend(at + rng.random() * surge.minutes * 60.0 for _ in range(surge.customers))
        times.sort()
        for t in times:
            if t > twin.env.now:
                yield twin.env.timeout(t - twin.env.now)
            bank = only or rng.choices(banks, bank_shares)[0]
            person = rng.choice(bank.people)
            if twin.one_at_a_time and person.customer.customer_id in bank.busy:
                person = free_customer(twin, bank)
            client = rng.choices(clients, shares)[0]
            start(twin, bank, person, client)


def free_customer(twin: Twin, bank: Bank) -> BulkCustomer:
    """One of ``bank``'s customers without a journey under way, drawn evenly; when
    every one of them is busy, any of them (the profile then asks for more traffic
    than the bank's customers can make: :attr:`Twin.overlapping` counts those)."""
    free = [p for p in bank.people if p.customer.customer_id not in bank.busy]
    if not free:
        twin.overlapping += 1
        return twin.rng.choice(bank.people)
    return twin.rng.choice(free)


def start(twin: Twin, bank: Bank, person: BulkCustomer, client_id: str) -> None:
    for tally in bank.tallies:
        tally.journeys += 1
    number = twin.tally.journeys
    if twin.one_at_a_time:
        twin.env.process(one_at_a_time(twin, bank, number, person, client_id))
    else:
        twin.env.process(journey(twin, bank, number, person, client_id))


def one_at_a_time(
    twin: Twin, bank: Bank, number: int, person: BulkCustomer, client_id: str
) -> Process:
    """:func:`journey`, with the customer busy at ``bank`` until it ends (a platform's)."""
    customer_id = person.customer.customer_id
    bank.busy.add(customer_id)
    try:
        yield from journey(twin, bank, number, person, client_id)
    finally:
        bank.busy.discard(customer_id)


def _later(twin: Twin, delay: float, bank: Bank, person: BulkCustomer, client_id: str) -> Process:
    """A customer's return: after a lock the same day, or after the 認可期間 (on a
    platform, not while another journey of theirs is under way: they are at it)."""
    yield twin.env.timeout(delay)
    if twin.one_at_a_time and person.customer.customer_id in bank.busy:
        return
    start(twin, bank, person, client_id)


def come_back(twin: Twin, delay: float, bank: Bank, person: BulkCustomer, client_id: str) -> None:
    if twin.env.now + delay < twin.horizon:
        twin.env.process(_later(twin, delay, bank, person, client_id))


def journey(twin: Twin, bank: Bank, number: int, person: BulkCustomer, client_id: str) -> Process:
    """One customer linking one account of ``bank`` for one partner app."""
    b = twin.profile.behaviour
    client = twin.clients[client_id]
    tries = 0
    while True:
        for tally in bank.tallies:
            tally.attempts += 1
        flow, out = authorize(twin, bank, number, client)
        if flow is not None:
            break
        # A refusal of the service (R-ERR-SYS-*: the contract's REFUSALS) may be tried again.
        if out in REFUSALS and tries < b.max_retries and twin.rng.random() < b.retry_refused:
            tries += 1
            yield twin.env.timeout(lognormal(twin, b.retry_median_minutes * 60.0, 0.5))
            continue
        for tally in bank.tallies:
            tally.outcomes[out] += 1
        return
    slot = twin.take_slot(bank, flow)
    walk = Walk(twin, bank, number, person, flow)
    try:
        outcome = yield from walk.run()
    finally:
        twin.free_slot(bank, flow, slot)
    for tally in bank.tallies:
        tally.outcomes[outcome] += 1
    if outcome == "locked_now" and twin.rng.random() < b.comes_back_locked:
        delay = lognormal(twin, b.retry_median_minutes * 60.0, 0.5)
        come_back(twin, delay, bank, person, client_id)
    if outcome == "granted" and walk.expires_in is not None and twin.rng.random() < b.reauthorize:
        come_back(twin, walk.expires_in + twin.rng.random() * 6 * 3600.0, bank, person, client_id)


def authorize(twin: Twin, bank: Bank, number: int, client: Client) -> tuple[FlowState | None, str]:
    """The partner app's authorization request at ``bank``: a new flow at ① (or None
    when refused) and the answer. The capacity gate counts the platform's flows in
    progress, every bank's together (R-PLAT-3), and the app's early ones among them."""
    started: list[FlowState] = []
    slots = twin.occupancy(client.client_id)

    def request() -> str:
        started.append(
            bank.engine.start(
                client.client_id,
                client.redirect_uris[0],
                client.scopes,
                "twin",
                "twin",
                slots,
            )
        )
        return Screen.ACCOUNT.value

    out = twin.act(bank, number, "authorize", {"client_id": client.client_id}, request)
    return (started[0] if started else None), out


class Walk:
    """The screens of one flow, with this customer's habits drawn once per journey."""

    def __init__(
        self, twin: Twin, bank: Bank, number: int, person: BulkCustomer, flow: FlowState
    ) -> None:
        b = twin.profile.behaviour
        rng = twin.rng
        self.twin, self.bank, self.number, self.person, self.flow = twin, bank, number, person, flow
        self.accounts = list(person.accounts)
        rng.shuffle(self.accounts)
        self.account: BulkAccount = self.accounts.pop()
        c = person.customer
        self.email = f"{c.customer_id.lower()}@example.jp"
        self.typo = rng.random() < b.account_typo
        self.mistake = rng.random() < b.input_mistake
        self.forgot = rng.random() < b.forgot_phone
        self.confirm_first = rng.random() < b.confirm_first
        self.withheld = rng.random() < b.withheld
        self.wrong_pin = rng.random() < b.wrong_pin
        self.expires_in: float | None = None

    # -- what the customer types --------------------------------------------------------------

    def account_form(self) -> dict[str, str]:
        key = self.account.key
        number = key.account_no[:-1] if self.typo else key.account_no  # 6 digits
        self.typo = False
        return {"branch_no": key.branch_no, "account_type": key.account_type, "account_no": number}

    def customer_form(self) -> dict[str, str]:
        c = self.person.customer
        phone = c.phone
        if self.forgot:
            # Another number the customer has (an old mobile): 090 and 8 drawn digits.
            phone = f"090{self.twin.rng.randrange(10**8):08d}"
            self.forgot = self.twin.rng.random() < self.twin.profile.behaviour.keeps_guessing
        confirm = self.email
        if self.mistake:
            confirm = self.email.replace("@", ".@", 1)
            self.mistake = False
        return {
            "name_kana": c.name_kana,
            "birth_year": f"{c.birth_date.year:04d}",
            "birth_month": f"{c.birth_date.month:02d}",
            "birth_day": f"{c.birth_date.day:02d}",
            "phone": phone,
            "email": self.email,
            "email_confirm": confirm,
        }

    # -- the walk ----------------------------------------------------------------------------

    def press(
        self, do: str, inputs: dict[str, str], button: Callable[[], object], out: str = ""
    ) -> str:
        """A button: the core's answer is the screen shown next (or ``out``) or an error code."""

        def pressed() -> str:
            button()
            return out or self.shown()

        return self.twin.act(self.bank, self.number, do, inputs, pressed)

    def shown(self) -> str:
        """The screen the flow is on, or how it ended."""
        f = self.flow
        if f.screen is not None:
            return f.screen.value
        return f.end_code or (f.end.value if f.end is not None else "")

    def run(self) -> Generator[Any, Any, str]:
        twin, flow = self.twin, self.flow
        b = twin.profile.behaviour
        last = ""
        for _ in range(MAX_ACTIONS):
            if flow.finished:
                return self.shown()
            screen = flow.screen
            assert screen is not None
            if screen is not Screen.CALL:
                yield twin.env.timeout(lognormal(twin, b.think[screen.value], b.think_sigma))
            if twin.rng.random() < b.abandon.get(screen.value, 0.0):
                # Leaving right after an error counts as that error's outcome.
                return last if last not in ("", *SCREEN_IDS) else "abandoned"
            if screen not in (Screen.ACCOUNT, Screen.CONSENT) and twin.rng.random() < b.cancel:
                return self.press("cancel", {}, partial(self.bank.engine.cancel, flow), "cancelled")
            if screen is Screen.CALL:
                last = yield from self.call()
            else:
                last = self.on(screen)
            if last in REFUSALS:
                return last  # the host refused mid-way: the customer gives up for now
            if last == "account_unavailable" and flow.screen is Screen.ACCOUNT:
                if not self.accounts:
                    return last
                self.account = self.accounts.pop()  # tries the customer's other account
        return "abandoned"

    def on(self, screen: Screen) -> str:
        """The button of ``screen`` (all but ④), with what this customer types."""
        engine, flow = self.bank.engine, self.flow
        if screen is Screen.ACCOUNT:
            form = self.account_form()
            return self.press("account", form, partial(engine.submit_account, flow, form))
        if screen is Screen.CUSTOMER:
            form = self.customer_form()
            return self.press("customer", form, partial(engine.submit_customer, flow, form))
        if screen is Screen.PHONE:
            assert flow.registered_phone is not None
            waiting = self.bank.waiting_for_call_from(flow.registered_phone)
            out = self.press("phone", {}, partial(engine.decide_phone, flow, waiting))
            if flow.screen is Screen.CALL:
                self.bank.wait_for_call(flow)
            return out
        if screen is Screen.PIN:
            form = {"pin": self.pin()}
            return self.press("pin", form, partial(engine.submit_pin, flow, form))
        return self.consent()

    def pin(self) -> str:
        pin = self.account.pin or ""
        if self.wrong_pin:
            self.wrong_pin = False
            return f"{(int(pin or '0') + 1 + self.twin.rng.randrange(9_999)) % 10_000:04d}"
        return pin

    def call(self) -> Generator[Any, Any, str]:
        """④: the number is on the screen; the customer dials it, then 「確定する」."""
        twin, flow, engine = self.twin, self.flow, self.bank.engine
        b = twin.profile.behaviour
        challenge = flow.challenge
        assert challenge is not None and flow.registered_phone is not None
        if self.confirm_first:
            self.confirm_first = False
            yield twin.env.timeout(lognormal(twin, AFTER_CALL, 0.5))
            out = self.press("confirm", {}, partial(engine.confirm_call, flow))
            if flow.screen is not Screen.CALL:
                return out
        yield twin.env.timeout(lognormal(twin, b.call_median, b.call_sigma))
        phone = flow.registered_phone
        if self.withheld:
            self.withheld = False
            self.dial(phone, challenge.to_number, WITHHOLD_PREFIX)
            yield twin.env.timeout(lognormal(twin, b.call_median / 2, b.call_sigma))
        self.dial(phone, challenge.to_number, "")
        yield twin.env.timeout(
            lognormal(twin, b.think.get(Screen.CALL.value, AFTER_CALL), b.think_sigma)
        )
        return self.press("confirm", {}, partial(engine.confirm_call, flow))

    def dial(self, phone: str, number: str, prefix: str) -> str:
        """The phone calls ``prefix`` + the number ④ shows; the gateway judges it (§4)."""
        bank = self.bank

        def ring() -> str:
            call = InboundCall(phone, prefix + number)
            answer = bank.engine.receive_call(call, bank.waiting_for_call_from(phone))
            return "verified" if answer.verified else "not_verified"

        return self.twin.act(bank, self.number, "call", {"from": phone, "prefix": prefix}, ring)

    def consent(self) -> str:
        twin, flow, engine = self.twin, self.flow, self.bank.engine
        if twin.rng.random() < twin.profile.behaviour.deny:
            deny = {"decision": "deny"}
            return self.press("consent", deny, partial(engine.decide, flow, deny), "cancelled")
        allow = {"decision": "allow", "agree": "1"}

        def granted() -> None:
            grant = engine.decide(flow, allow)
            assert grant is not None
            self.expires_in = (grant.expires_at - twin.clock.now()).total_seconds()

        return self.press("consent", allow, granted, "granted")
