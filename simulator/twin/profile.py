"""Traffic profiles: how many customers start API連携認証, when, and how they behave.

A profile is a YAML file in ``scenarios/traffic/`` (schema in
``docs/twin.md``). It may name the scenario whose customers play it (a shipped
one's name or a file beside the profile; ``renkei simulate --scenario`` wins)
and, for a platform scenario of several credit unions (INTERFACE.md §10), each
bank's share of the arrivals. It fixes the simulated day, the number of customers who
start a journey that day, the shape of their arrivals over the 24 hours (JST),
surges on top, the partner apps' shares, and the probabilities of each human
behaviour the manual has an answer for: typing mistakes (R-ERR-INPUT-*), a
forgotten registered phone (R-ERR-HOST-2, then R-ERR-HOST-3/4), calling late or
with caller ID withheld (R-ERR-CALL-*), a wrong PIN, abandoning, refusing
consent. Errors in the file name the file and the field, as scenario files do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from renkei.contract.screens import SCREEN_IDS, Screen
from simulator.fields import Node, Record, ScenarioError, load_yaml
from simulator.scenario_schema import BANK_CODE

#: The screens a customer may leave a journey on (by 画面ID, see core.screens).


@dataclass(frozen=True)
class Surge:
    """Extra arrivals spread evenly over ``minutes`` from ``at`` (e.g. 7:00 after maintenance)."""

    at: dt.time
    minutes: float
    customers: int


@dataclass(frozen=True)
class Behaviour:
    """The chances of each human behaviour, per journey or per screen shown."""

    #: Think time on each screen: median seconds (log-normal with ``think_sigma``).
    think: dict[str, float]
    think_sigma: float
    #: Leaving the journey on a screen, before pressing anything there.
    abandon: dict[str, float]
    account_typo: float  # ① a 6-digit account number: R-ERR-INPUT-2, then typed again
    input_mistake: float  # ② the e-mail confirmation differs: R-ERR-INPUT-2
    forgot_phone: float  # ② types another phone than the registered one: R-ERR-HOST-2
    keeps_guessing: float  # after a mismatch, guesses wrong again rather than checking
    call_median: float  # ④ seconds from seeing the number to dialling
    call_sigma: float
    withheld: float  # ④ dials with 184 first: not verified, calls again
    confirm_first: float  # ④ presses 「確定する」 before calling: call_pending
    wrong_pin: float  # ⑤ R-ERR-HOST-2 counted with ②'s failures
    deny: float  # ⑥ 「拒否する」
    cancel: float  # 「中止する」 on ②–⑤, per screen
    retry_refused: float  # comes back after out_of_hours / congested / system errors
    max_retries: int
    retry_median_minutes: float
    comes_back_locked: float  # a locked customer tries again later the same day: B84
    reauthorize: float  # after the 30-day 認可期間, links again (multi-day runs)


@dataclass(frozen=True)
class TrafficProfile:
    name: str
    description: str
    day: dt.date
    #: Customers starting a journey over the day (retries and returns come on top).
    customers: int
    #: 24 relative weights of arrivals, hour 0 to 23 JST.
    hourly: tuple[float, ...]
    surges: tuple[Surge, ...]
    clients: dict[str, float]
    behaviour: Behaviour
    source: str = ""
    #: The scenario the profile is for, as written (a shipped name or a file beside the
    #: profile); None: the command's default.
    scenario: str | None = None
    #: Each bank's relative share of the arrivals by 金融機関コード, for a platform
    #: scenario; None: in proportion to each bank's bulk customers.
    banks: dict[str, float] | None = None

    def scaled(self, customers: int) -> TrafficProfile:
        """The same day with ``customers`` arrivals (surges scaled alike)."""
        factor = customers / self.customers if self.customers else 0.0
        surges = tuple(Surge(s.at, s.minutes, round(s.customers * factor)) for s in self.surges)
        return replace(self, customers=customers, surges=surges)

    def scenario_path(self) -> Path | None:
        """The file :attr:`scenario` names: a path (with a slash or a YAML suffix)
        beside the profile, else the text as given, for the command to read as a
        shipped name; None when the profile names none."""
        text = self.scenario
        if text is None:
            return None
        if "/" in text or Path(text).suffix in (".yaml", ".yml"):
            return Path(self.source).parent / text
        return Path(text)


def _probability(node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise node.wrong("a probability from 0 to 1")
    return float(value)


def _per_screen(node: Node, seconds: bool = False) -> dict[str, float]:
    record = node.record((), SCREEN_IDS)
    values: dict[str, float] = {}
    for screen in SCREEN_IDS:
        field = record.get(screen)
        if field is not None:
            values[screen] = field.number(0, 86_400) if seconds else _probability(field)
    return values


def _time(node: Node) -> dt.time:
    text = node.line()
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise node.wrong("a time HH:MM (JST)") from None


BEHAVIOUR_KEYS: Final = (
    "think",
    "think_sigma",
    "abandon",
    "account_typo",
    "input_mistake",
    "forgot_phone",
    "keeps_guessing",
    "call_median_seconds",
    "call_sigma",
    "withheld",
    "confirm_first",
    "wrong_pin",
    "deny",
    "cancel",
    "retry_refused",
    "max_retries",
    "retry_median_minutes",
    "comes_back_locked",
    "reauthorize",
)


def _behaviour(r: Record) -> Behaviour:
    p = _probability
    think = _per_screen(r["think"], seconds=True)
    call = Screen.CALL.value  # ④'s time is the call's own (call_median_seconds)
    missing = [s for s in SCREEN_IDS if s != call and s not in think]
    if missing:
        raise r["think"].error(f"needs a median for every screen but {call} (missing {missing})")
    return Behaviour(
        think=think,
        think_sigma=r["think_sigma"].number(0, 5),
        abandon=_per_screen(r["abandon"]),
        account_typo=p(r["account_typo"]),
        input_mistake=p(r["input_mistake"]),
        forgot_phone=p(r["forgot_phone"]),
        keeps_guessing=p(r["keeps_guessing"]),
        call_median=r["call_median_seconds"].number(0, 3600),
        call_sigma=r["call_sigma"].number(0, 5),
        withheld=p(r["withheld"]),
        confirm_first=p(r["confirm_first"]),
        wrong_pin=p(r["wrong_pin"]),
        deny=p(r["deny"]),
        cancel=p(r["cancel"]),
        retry_refused=p(r["retry_refused"]),
        max_retries=r["max_retries"].integer(0, 20),
        retry_median_minutes=r["retry_median_minutes"].number(0, 24 * 60),
        comes_back_locked=p(r["comes_back_locked"]),
        reauthorize=p(r["reauthorize"]),
    )


def _bank_shares(node: Node) -> dict[str, float]:
    """``banks``: 金融機関コード to a relative share (zero or more, one above zero)."""
    if not isinstance(node.value, dict) or not node.value:
        raise node.wrong("a mapping of 金融機関コード to share")
    shares: dict[str, float] = {}
    for key, value in node.value.items():
        share = node.child(str(key), value)
        # The key itself, where the share is: a code YAML read as a number is named so.
        code = Node(share.source, share.path, key).code(*BANK_CODE)
        shares[code] = _weight(share)
    if not any(shares.values()):
        raise node.error("at least one bank must have a share above 0")
    return shares


def _weight(node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise node.wrong("a weight, zero or more")
    return float(value)


def parse_profile(data: object, source: str) -> TrafficProfile:
    root = Node(source, "", data)
    r = root.record(
        ("name", "day", "customers", "hourly", "clients", "behaviour"),
        ("description", "surges", "scenario", "banks"),
    )
    day = r["day"].plain_date()
    if day is None:
        raise r["day"].wrong("a date YYYY-MM-DD (the simulated day, JST)")
    hourly_nodes = r["hourly"].items(non_empty=True)
    if len(hourly_nodes) != 24:
        raise r["hourly"].error(f"must list 24 weights, hour 0 to 23 (got {len(hourly_nodes)})")
    hourly = [_weight(n) for n in hourly_nodes]
    if not any(hourly):
        raise r["hourly"].error("at least one hour must have a weight above 0")
    surges = []
    surge_node = r.get("surges")
    for n in surge_node.items() if surge_node else []:
        s = n.record(("at", "minutes", "customers"))
        surges.append(
            Surge(_time(s["at"]), s["minutes"].number(0, 24 * 60), s["customers"].integer(0))
        )
    clients: dict[str, float] = {}
    client_node = r["clients"]
    if not isinstance(client_node.value, dict) or not client_node.value:
        raise client_node.wrong("a mapping of client_id to share")
    for key in client_node.value:
        share = client_node.child(str(key), client_node.value[key])
        clients[str(key)] = share.number(0, 1_000_000)
    description = r.get("description")
    scenario = r.get("scenario")
    banks = r.get("banks")
    return TrafficProfile(
        name=r["name"].line(),
        description=description.text() if description else "",
        day=day,
        customers=r["customers"].integer(0, 100_000_000),
        hourly=tuple(hourly),
        surges=tuple(surges),
        clients=clients,
        behaviour=_behaviour(r["behaviour"].record(BEHAVIOUR_KEYS)),
        source=source,
        scenario=scenario.line() if scenario else None,
        banks=_bank_shares(banks) if banks else None,
    )


def load_profile(path: str | Path) -> TrafficProfile:
    """Read a profile file; a bad one raises ScenarioError naming the field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(source, "", f"cannot read the profile ({e.strerror})") from None
    return parse_profile(load_yaml(text, source), source)
