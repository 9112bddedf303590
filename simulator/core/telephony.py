"""Telephone verification of screen ④ SOA209 (R-FLOW-4, R-ERR-CALL-1..3).

When ③ is confirmed the host picks a toll-free 認証先電話番号 at random from a
pool (「認証システムの電話番号は数種あり、操作の都度、ランダムに選定されます」) and
shows it with the registered phone masked. The customer must call it from
the registered phone, caller ID shown, within 120 s of ④ being shown. The line
is never answered: it rings 2–3 times and hangs up, and the call is free.
A leading 186 shows the caller ID and 184 withholds it, whatever the phone's
setting (※3 of 画面④).
"""

from __future__ import annotations

import datetime as dt
import enum
import random
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

    @property
    def deadline(self) -> dt.datetime:
        return self.shown_at + self.window

    def open_at(self, now: dt.datetime) -> bool:
        """Within the window: 120 s is still in time, more is not (R-ERR-CALL-2)."""
        return now <= self.deadline


def issue_challenge(
    pool: tuple[str, ...],
    registered_phone: str,
    now: dt.datetime,
    rng: random.Random,
    window: dt.timedelta = CALL_WINDOW,
) -> CallChallenge:
    """A new challenge for one attempt, its number drawn from ``rng``."""
    if not pool:
        raise ValueError("the 認証先電話番号 pool is empty")
    return CallChallenge(registered_phone, rng.choice(pool), now, window)


class CallVerdict(enum.Enum):
    """How the host judged an inbound call against a pending challenge."""

    VERIFIED = "verified"
    WITHHELD = "caller_id_withheld"
    WRONG_CALLER = "wrong_caller"
    WRONG_NUMBER = "wrong_number"
    TOO_LATE = "too_late"


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
