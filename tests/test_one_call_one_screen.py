"""One call answers one screen (R-FLOW-4; issue 16 item 7), in the core.

A phone may be on ④ in several flows at once (two tabs, two partner apps). ④
draws its 認証先電話番号 among the pool's numbers that no other pending challenge
of the phone shows, while any is left; with none pending the draw is the pool's,
as before. A call verifies at most one challenge: among the pending ones it fits,
the one shown last. Over HTTP: tests/test_phone_check.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

from helpers import OPEN_INSTANT, advance, walk_to

from simulator.core.bank import BankRules
from simulator.core.clock import FixedClock
from simulator.core.flow import ConnectFlow, Event, FlowState
from simulator.core.host import PinVault
from simulator.core.memory import MemoryHost
from simulator.core.screens import Screen
from simulator.core.telephony import (
    CallChallenge,
    CallVerdict,
    InboundCall,
    answered,
    issue_challenge,
)

PHONE = "09012343333"
POOL = ("0120111111", "0120222222", "0120333333")


def challenge(to: str, seq: int = 0, **more: object) -> CallChallenge:
    return dataclasses.replace(CallChallenge(PHONE, to, OPEN_INSTANT), seq=seq, **more)


def test_without_another_pending_challenge_the_draw_is_the_pools() -> None:
    """The same generator draws the same number as ``rng.choice(pool)`` did (so the
    twin's days are unchanged); an other challenge verified, too late, or of another
    phone takes no number away."""
    others = [
        challenge(POOL[0], verified_at=OPEN_INSTANT),
        dataclasses.replace(challenge(POOL[1]), shown_at=OPEN_INSTANT - dt.timedelta(seconds=121)),
        CallChallenge("09099998888", POOL[2], OPEN_INSTANT),
    ]
    for seed in range(20):
        expected = random.Random(seed).choice(POOL)
        drawn = issue_challenge(POOL, PHONE, OPEN_INSTANT, random.Random(seed), others=others)
        assert (drawn.to_number, drawn.seq) == (expected, 0), seed
        alone = issue_challenge(POOL, PHONE, OPEN_INSTANT, random.Random(seed))
        assert alone.to_number == expected


def test_a_second_pending_challenge_of_the_phone_gets_another_number() -> None:
    for seed in range(20):
        first = issue_challenge(POOL, PHONE, OPEN_INSTANT, random.Random(seed))
        second = issue_challenge(POOL, PHONE, OPEN_INSTANT, random.Random(seed), others=[first])
        third = issue_challenge(
            POOL, PHONE, OPEN_INSTANT, random.Random(seed), others=[first, second]
        )
        assert len({first.to_number, second.to_number, third.to_number}) == 3, seed
        assert (first.seq, second.seq, third.seq) == (0, 1, 2)


def test_when_every_number_is_shown_the_draw_is_from_the_whole_pool() -> None:
    shown = [challenge(n, seq=i) for i, n in enumerate(POOL)]
    drawn = {
        issue_challenge(POOL, PHONE, OPEN_INSTANT, random.Random(seed), others=shown).to_number
        for seed in range(30)
    }
    assert drawn == set(POOL)
    assert issue_challenge(POOL, PHONE, OPEN_INSTANT, random.Random(1), others=shown).seq == 3


def test_a_call_verifies_only_the_pending_challenge_shown_last_that_it_fits() -> None:
    """By ``seq`` first (a frozen clock gives all the same ``shown_at``), then by
    ``shown_at``; one verified before is left as it was; one of another number is
    judged as before."""
    call = InboundCall(PHONE, POOL[0])
    older, newer, other = challenge(POOL[0], 0), challenge(POOL[0], 1), challenge(POOL[1], 2)
    chosen, verdicts = answered(call, [newer, older, other], OPEN_INSTANT)
    assert chosen == 0
    assert verdicts == [
        CallVerdict.VERIFIED,
        CallVerdict.ANOTHER_CHALLENGE,
        CallVerdict.WRONG_NUMBER,
    ]
    done = dataclasses.replace(newer, verified_at=OPEN_INSTANT)
    chosen, verdicts = answered(call, [done, older], OPEN_INSTANT)
    assert chosen == 1
    assert verdicts == [CallVerdict.ALREADY_VERIFIED, CallVerdict.VERIFIED]
    later = dataclasses.replace(older, shown_at=OPEN_INSTANT + dt.timedelta(seconds=5))
    assert answered(call, [later, challenge(POOL[0], 0)], later.shown_at)[0] == 0
    assert answered(call, [done], OPEN_INSTANT) == (None, [CallVerdict.ALREADY_VERIFIED])
    assert answered(InboundCall(PHONE, "184" + POOL[0]), [older], OPEN_INSTANT)[0] is None


def engine_of(
    host: MemoryHost, vault: PinVault, clock: FixedClock, journal: list[Event], pool: int
) -> ConnectFlow:
    """The conftest's engine with the first ``pool`` numbers of the default pool."""
    rules = dataclasses.replace(BankRules(), call_pool=POOL[:pool])
    return ConnectFlow(rules, host, host, vault, clock, random.Random(7), journal=journal.append)


def on_call(
    engine: ConnectFlow, count: int, flows: list[FlowState] | None = None
) -> list[FlowState]:
    """``count`` more flows of the manual's customer brought to ④ one after the other
    (added to ``flows``), each ③ given the phone's flows already on ④ (as the store
    finds them)."""
    flows = [] if flows is None else flows
    for _ in range(count):
        flow = engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), None, "c")
        walk_to(engine, flow, Screen.PHONE)
        engine.decide_phone(flow, flows)
        flows.append(flow)
    return flows


def test_four_flows_on_a_pool_of_three_one_call_verifies_one_then_the_next(
    host: MemoryHost, vault: PinVault, clock: FixedClock, journal: list[Event]
) -> None:
    """The first three get the three numbers; the fourth shares one. A call to it
    verifies the fourth alone (shown last); a second call the earlier one; the flows
    showing the other numbers stay pending throughout."""
    engine = engine_of(host, vault, clock, journal, pool=3)
    flows = on_call(engine, 4)
    numbers = [f.challenge.to_number for f in flows if f.challenge]
    assert len(set(numbers[:3])) == 3
    shared = numbers[3]
    twin = numbers.index(shared)

    def verified() -> list[bool]:
        return [f.challenge is not None and f.challenge.verified_at is not None for f in flows]

    del journal[:]
    answer = engine.receive_call(InboundCall(PHONE, shared), flows)
    assert answer.verified and verified() == [False, False, False, True]
    calls = [(e.flow_id, e.detail["verdict"]) for e in journal if e.kind == "call"]
    assert calls[twin] == (flows[twin].flow_id, "another_challenge")
    assert calls[3] == (flows[3].flow_id, "verified")
    assert sum(v == "wrong_number" for _, v in calls) == 2
    assert engine.receive_call(InboundCall(PHONE, shared), flows).verified
    assert verified() == [i in (twin, 3) for i in range(4)]
    # A third call to that number finds no challenge pending on it.
    assert not engine.receive_call(InboundCall(PHONE, shared), flows).verified
    assert verified().count(True) == 2


def test_two_flows_with_one_number_in_the_pool(
    host: MemoryHost, vault: PinVault, clock: FixedClock, journal: list[Event]
) -> None:
    """A pool of one: both show it, and the call verifies the later; a second call
    finds the earlier's window ended, and verifies nothing."""
    engine = engine_of(host, vault, clock, journal, pool=1)
    both = on_call(engine, 1)
    advance(clock, seconds=100)
    first, second = on_call(engine, 1, both)
    assert second.challenge is not None and second.challenge.seq == 1
    advance(clock, seconds=30)  # the first's window has ended, the second's has not
    assert engine.receive_call(InboundCall(PHONE, POOL[0]), both).verified
    assert second.challenge is not None and second.challenge.verified_at is not None
    assert first.challenge is not None and first.challenge.verified_at is None
    assert not engine.receive_call(InboundCall(PHONE, POOL[0]), both).verified


def test_the_place_of_a_challenge_is_kept_with_the_flow(
    host: MemoryHost, vault: PinVault, clock: FixedClock, journal: list[Event]
) -> None:
    """``seq`` goes through the store's record; a record saved before it reads as 0."""
    engine = engine_of(host, vault, clock, journal, pool=3)
    flow = on_call(engine, 2)[1]
    record = flow.to_record()
    assert record["challenge"]["seq"] == 1
    assert FlowState.from_record(record) == flow
    del record["challenge"]["seq"]
    old = FlowState.from_record(record).challenge
    assert old is not None and old.seq == 0
