"""Telephone verification of screen ④ SOA209 (R-FLOW-4, R-ERR-CALL-1..3).

When ③ is confirmed the host picks a toll-free 認証先電話番号 at random from a
pool (「認証システムの電話番号は数種あり、操作の都度、ランダムに選定されます」) and
shows it with the registered phone masked. The customer must call it from
the registered phone, caller ID shown, within 120 s of ④ being shown. The line
is never answered: it rings 2–3 times and hangs up, and the call is free.
A leading 186 shows the caller ID and 184 withholds it, whatever the phone's
setting (※3 of 画面④).

One phone may be on ④ in several flows at once (two tabs, two partner apps).
A call then answers one screen, never all of them: ④ draws its number among
those no other pending challenge of the phone shows, while any is left
(:func:`issue_challenge`), and a call verifies at most one challenge, the one
shown last among those it fits (:func:`answered`).
"""

from __future__ import annotations

import datetime as dt
import enum
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from renkei.contract.telephony import SHOW_PREFIX, SHOWN, WITHHOLD_PREFIX

#: R-FLOW-4: 「本画面が表示されてから120秒以内に、お電話ください。」
CALL_WINDOW: Final = dt.timedelta(seconds=120)


def mask_phone(phone: str) -> str:
    """③/④: every digit but the last four as ``*`` (``*******3333``)."""
    return "*" * (len(phone) - 4) + phone[-4:]


@dataclass(frozen=True)
class CallChallenge:
    """What screen ④ asks for: a call from ``from_number`` to ``to_number``."""

    from_number: str
    to_number: str
    shown_at: dt.datetime
    window: dt.timedelta = CALL_WINDOW
    verified_at: dt.datetime | None = None
    #: Its place among the phone's challenges pending when it was drawn: one more
    #: than the highest of theirs (0 when none was). Which of them was shown last,
    #: even when a frozen or moved sandbox clock gives them the same ``shown_at``.
    seq: int = 0

    @property
    def deadline(self) -> dt.datetime:
        return self.shown_at + self.window

    def open_at(self, now: dt.datetime) -> bool:
        """Within the window: 120 s is still in time, more is not (R-ERR-CALL-2)."""
        return now <= self.deadline

    def pending_at(self, now: dt.datetime) -> bool:
        """Still waiting for its call: not verified yet, and within the window."""
        return self.verified_at is None and self.open_at(now)


def issue_challenge(
    pool: tuple[str, ...],
    registered_phone: str,
    now: dt.datetime,
    rng: random.Random,
    window: dt.timedelta = CALL_WINDOW,
    others: Iterable[CallChallenge] = (),
) -> CallChallenge:
    """A new challenge for one attempt, its number drawn from ``rng`` among the
    pool's numbers that none of ``others`` (the phone's other challenges) shows
    while it is pending, so that one call cannot fit two screens; from the whole
    pool when every number is shown (then :func:`answered` still picks one). With
    no other pending challenge the draw is the pool's, as it always was."""
    if not pool:
        raise ValueError("the 認証先電話番号 pool is empty")
    pending = [c for c in others if c.from_number == registered_phone and c.pending_at(now)]
    shown = {c.to_number for c in pending}
    free = tuple(n for n in pool if n not in shown)
    seq = max((c.seq for c in pending), default=-1) + 1
    return CallChallenge(registered_phone, rng.choice(free or pool), now, window, seq=seq)


class CallVerdict(enum.Enum):
    """How the host judged an inbound call against a pending challenge."""

    VERIFIED = "verified"
    WITHHELD = "caller_id_withheld"
    WRONG_CALLER = "wrong_caller"
    WRONG_NUMBER = "wrong_number"
    TOO_LATE = "too_late"
    #: The call fits, but this challenge was verified before (by an earlier call).
    ALREADY_VERIFIED = "already_verified"
    #: The call fits, but answers another pending challenge of the phone, shown later.
    ANOTHER_CHALLENGE = "another_challenge"


@dataclass(frozen=True)
class InboundCall:
    """One call as the carrier reports it (INTERFACE.md §4)."""

    from_number: str
    dialled: str
    caller_id: str = SHOWN

    @property
    def destination(self) -> str:
        """The number reached: the digits dialled without a 184/186 prefix."""
        for prefix in (SHOW_PREFIX, WITHHOLD_PREFIX):
            if self.dialled.startswith(prefix):
                return self.dialled[len(prefix) :]
        return self.dialled

    @property
    def caller_id_shown(self) -> bool:
        """186 shows and 184 withholds, whatever the phone's own setting says."""
        if self.dialled.startswith(SHOW_PREFIX):
            return True
        if self.dialled.startswith(WITHHOLD_PREFIX):
            return False
        return self.caller_id == SHOWN


def judge_call(call: InboundCall, challenge: CallChallenge, now: dt.datetime) -> CallVerdict:
    """R-ERR-CALL-3: a call verifies only from the registered number, caller ID
    shown, to the number ④ displayed, within the window (R-ERR-CALL-2)."""
    if not call.caller_id_shown:
        return CallVerdict.WITHHELD
    if call.from_number != challenge.from_number:
        return CallVerdict.WRONG_CALLER
    if call.destination != challenge.to_number:
        return CallVerdict.WRONG_NUMBER
    if not challenge.open_at(now):
        return CallVerdict.TOO_LATE
    return CallVerdict.VERIFIED


def answered(
    call: InboundCall, challenges: Sequence[CallChallenge], now: dt.datetime
) -> tuple[int | None, list[CallVerdict]]:
    """Which of the calling phone's ``challenges`` the call verifies, by its index
    (None: none), and the verdict for each. A call verifies at most one: among the
    pending challenges it fits (:func:`judge_call`), the one shown last — the
    screen the customer is looking at — by ``seq``, then ``shown_at``, then the
    last of ``challenges``. A fitting challenge verified before stays as it was."""
    verdicts = [judge_call(call, c, now) for c in challenges]
    fitting = [
        i
        for i, (c, v) in enumerate(zip(challenges, verdicts, strict=True))
        if v is CallVerdict.VERIFIED and c.verified_at is None
    ]

    def shown_last(i: int) -> tuple[int, dt.datetime, int]:
        return challenges[i].seq, challenges[i].shown_at, i

    chosen = max(fitting, key=shown_last, default=None)
    for i, verdict in enumerate(verdicts):
        if verdict is CallVerdict.VERIFIED and i != chosen:
            verdicts[i] = (
                CallVerdict.ALREADY_VERIFIED
                if challenges[i].verified_at is not None
                else CallVerdict.ANOTHER_CHALLENGE
            )
    return chosen, verdicts


def verified(challenge: CallChallenge, now: dt.datetime) -> CallChallenge:
    return replace(challenge, verified_at=now)


@dataclass(frozen=True)
class CallAnswer:
    """What the line did (INTERFACE.md §4): rang, was never answered, hung up."""

    rings: int
    verified: bool
    answered: bool = False


def rings(rng: random.Random) -> int:
    """「2〜3コール後、自動で電話が切れ」: two or three rings."""
    return rng.choice((2, 3))
