"""The six screens of API連携認証 and the moves between them, in one place.

Read top to bottom, this is the screen map of the manual (sections 4–9):
which screen follows which, on which button, and which checks
(:mod:`simulator.core.guards`) run first. The engine in
:mod:`simulator.core.flow` runs exactly these guards, refuses any move not
listed here (R-FLOW-8) and sends the flow where :data:`DETOURS` says after an
error, by the error's class; :func:`mermaid` draws the map for the README from
the same objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from renkei.contract.oauth import AUTHORIZE_PATH
from renkei.contract.screens import SCREENS as CONTRACT_SCREENS
from renkei.contract.screens import Screen, ScreenContract
from simulator.core import guards
from simulator.core.errors import (
    B84,
    AccountUnavailable,
    CallExpired,
    FlowLost,
    LockedNow,
    RenkeiError,
)
from simulator.core.guards import Guard

__all__ = [
    "DETOURS",
    "MOVES",
    "SCREENS",
    "Action",
    "Detour",
    "End",
    "Move",
    "Screen",
    "ScreenSpec",
    "detour",
    "move",
]


class End(enum.Enum):
    """Where a flow ends: back to the partner app with a code, or with an error."""

    GRANTED = "granted"  # 「許可する」: redirect with code
    CANCELLED = "cancelled"  # 「中止する」/「拒否する」: access_denied (R-FLOW-7)
    FAILED = "failed"  # a terminal error, or 「連携元画面へ」 from an error


@dataclass(frozen=True)
class ScreenSpec:
    """A screen of the contract (its id, path and fields) with the manual's title."""

    contract: ScreenContract
    title: str

    @property
    def screen(self) -> Screen:
        return self.contract.screen

    @property
    def number(self) -> str:
        return self.contract.number

    @property
    def path(self) -> str:
        return self.contract.path

    @property
    def fields(self) -> tuple[str, ...]:
        return self.contract.field_names

    @property
    def requirement(self) -> str:
        return self.contract.requirement

    @property
    def full_title(self) -> str:
        return f"API連携認証 （{self.title}）"


#: The manual's title of each screen (sections 4–9).
TITLES: Final[dict[Screen, str]] = {
    Screen.ACCOUNT: "ご利用口座情報入力",
    Screen.CUSTOMER: "お客様情報入力",
    Screen.PHONE: "電話番号の確認",
    Screen.CALL: "電話番号認証",
    Screen.PIN: "キャッシュカード暗証番号認証",
    Screen.CONSENT: "情報連携認可",
}

SCREENS: Final[dict[Screen, ScreenSpec]] = {
    screen: ScreenSpec(contract, TITLES[screen]) for screen, contract in CONTRACT_SCREENS.items()
}


class Action(enum.Enum):
    """The buttons."""

    NEXT = "次へ"
    DECIDE_PHONE = "電話番号の決定"
    CONFIRM = "確定する"
    ALLOW = "許可する"
    DENY = "拒否する"
    CANCEL = "中止する"


@dataclass(frozen=True)
class Move:
    """A button on ``source`` leading to ``target`` once its ``guards`` pass, in order.

    The guards are the checks :class:`~simulator.core.flow.ConnectFlow` runs for
    the button; the diagram prints their labels.
    """

    source: Screen
    action: Action
    target: Screen | End
    guards: tuple[Guard, ...] = ()


#: Every move the flow allows; anything else is R-FLOW-8's refusal. The checks of
#: :data:`~simulator.core.guards.ON_EVERY_REQUEST` (R-ERR-CALL-4, R-ERR-SYS-*,
#: R-FLOW-8) run before every one of them and are not repeated here.
MOVES: Final[tuple[Move, ...]] = (
    Move(Screen.ACCOUNT, Action.NEXT, Screen.CUSTOMER, (guards.account_entered,)),
    Move(
        Screen.CUSTOMER,
        Action.NEXT,
        Screen.PHONE,
        (
            guards.customer_entered,
            guards.account_usable,
            guards.not_locked,
            guards.identity_confirmed,
        ),
    ),
    Move(Screen.CUSTOMER, Action.CANCEL, End.CANCELLED),
    # The 認証先電話番号 is drawn as ④ is shown: an effect of the move, not a check.
    Move(Screen.PHONE, Action.DECIDE_PHONE, Screen.CALL),
    Move(Screen.PHONE, Action.CANCEL, End.CANCELLED),
    Move(Screen.CALL, Action.CONFIRM, Screen.PIN, (guards.call_in_time, guards.call_verified)),
    Move(Screen.CALL, Action.CANCEL, End.CANCELLED),
    Move(
        Screen.PIN,
        Action.NEXT,
        Screen.CONSENT,
        (
            guards.pin_entered,
            guards.account_still_usable,
            guards.not_locked,
            guards.pin_matches,
        ),
    ),
    Move(Screen.PIN, Action.CANCEL, End.CANCELLED),
    Move(Screen.CONSENT, Action.ALLOW, End.GRANTED, (guards.agreement_ticked,)),
    Move(Screen.CONSENT, Action.DENY, End.CANCELLED),
)

_BY_SOURCE: Final = {(m.source, m.action): m for m in MOVES}


@dataclass(frozen=True)
class Detour:
    """Where an error of class ``error`` (or a subclass) sends the flow; an error
    with no detour leaves it where it was. ``source`` None means on any screen.
    """

    source: Screen | None
    error: type[RenkeiError]
    target: Screen | End

    def applies(self, screen: Screen | None, error: RenkeiError | type[RenkeiError]) -> bool:
        cls = error if isinstance(error, type) else type(error)
        return issubclass(cls, self.error) and self.source in (None, screen)


#: INTERFACE.md §2, "Where the checks run and what follows". The first that
#: applies is taken.
DETOURS: Final[tuple[Detour, ...]] = (
    # R-ERR-HOST-1: back to ① to correct 科目/口座番号 (not counted).
    Detour(Screen.CUSTOMER, AccountUnavailable, Screen.ACCOUNT),
    # The account moved or closed while the customer was on the phone.
    Detour(Screen.PIN, AccountUnavailable, Screen.ACCOUNT),
    # R-ERR-CALL-2: 「API連携認証の最初に戻って操作してください。」
    Detour(Screen.CALL, CallExpired, Screen.ACCOUNT),
    # R-ERR-HOST-3/4: terminal; only 「連携元画面へ」 remains.
    Detour(Screen.CUSTOMER, LockedNow, End.FAILED),
    Detour(Screen.CUSTOMER, B84, End.FAILED),
    Detour(Screen.PIN, LockedNow, End.FAILED),
    Detour(Screen.PIN, B84, End.FAILED),
    # R-ERR-CALL-4: the flow timed out.
    Detour(None, FlowLost, End.FAILED),
)


def detour(screen: Screen | None, error: RenkeiError | type[RenkeiError]) -> Screen | End | None:
    """Where ``error`` (an instance or its class) raised on ``screen`` sends the
    flow, or None to stay."""
    for d in DETOURS:
        if d.applies(screen, error):
            return d.target
    return None


def move(source: Screen, action: Action) -> Move | None:
    """The move ``action`` makes from ``source``, or None when it is not allowed."""
    return _BY_SOURCE.get((source, action))


def mermaid() -> str:
    """The screen map as a Mermaid state diagram, drawn from :data:`MOVES` (each
    button with the labels of the guards it runs), :data:`DETOURS` and
    :data:`~simulator.core.guards.ON_EVERY_REQUEST`."""

    def name(node: Screen | End) -> str:
        return node.value if isinstance(node, Screen) else node.name

    def labels(checks: tuple[Guard, ...]) -> str:
        return ", ".join(g.label for g in checks)

    lines = ["stateDiagram-v2", f"    [*] --> {Screen.ACCOUNT.value}: {AUTHORIZE_PATH}"]
    for spec in SCREENS.values():
        lines.append(f"    {spec.screen.value}: {spec.number} {spec.title}")
    for m in MOVES:
        label = m.action.value + (f" [{labels(m.guards)}]" if m.guards else "")
        lines.append(f"    {name(m.source)} --> {name(m.target)}: {label}")
    for d in DETOURS:
        if d.source is not None:
            lines.append(f"    {name(d.source)} --> {name(d.target)}: error {d.error.code}")
    lines.append(
        f"    note left of {Screen.ACCOUNT.value}: every request first checks"
        f" [{labels(guards.ON_EVERY_REQUEST)}]"
    )
    anywhere = ", ".join(d.error.code for d in DETOURS if d.source is None)
    lines.append(f"    note right of FAILED: also 連携元画面へ beside any error, and {anywhere}")
    for end in End:
        lines.append(f"    {end.name} --> [*]")
    return "\n".join(lines)
