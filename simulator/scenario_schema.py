"""The schema of a scenario file, section by section (documented in docs/scenarios.md).

Each ``read_*`` function checks one section and answers the model of
:mod:`simulator.scenario_model` or :class:`~simulator.core.bank.BankRules`;
anything wrong raises :class:`~simulator.fields.ScenarioError` with the path of
the field. The forms follow the screens (R-FLOW-1/2/5, INTERFACE.md §8): 店番 3
half-width digits, 科目 a Zengin 預金種目 code, 口座番号 7 digits, PIN 4 digits,
the registered phone 10 or 11 digits, names in half-width katakana.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from typing import Final
from urllib.parse import urlsplit

from renkei.contract import banks
from renkei.contract.oauth import SCOPES
from renkei.contract.screens import ACCOUNT_TYPES, FIELDS
from simulator.core.bank import BankRules, Contact, PlatformRules
from simulator.core.faults import Capacity
from simulator.core.grants import GrantPolicy
from simulator.core.history import HistoryPolicy
from simulator.core.host import AccountKey, AccountStatus, Branch
from simulator.core.hours import default_windows
from simulator.core.kana import MAX_NAME_LENGTH, is_half_width_kana_name
from simulator.core.lockout import Lockout
from simulator.dates import read_date
from simulator.fields import Node, Record
from simulator.scenario_model import (
    AccountSpec,
    CardSpec,
    Client,
    HistorySpec,
    Persona,
    PopulationSpec,
)
from simulator.scenario_windows import read_windows

BANK_KEYS: Final = (
    "name",
    "contact",
    "contact_phone",
    "terms_url",
    "terms_text",
    "faq_url",
    "call_pool",
    "call_window_seconds",
    "lockout_threshold",
    "grant_days",
    "uninstall_grace_days",
    "capacity_flows",
    "congestion_retry_after_seconds",
    "flow_timeout_minutes",
    "early_flow_seconds",
    "early_flows_per_client",
    "flow_lifetime_minutes",
    "history_months",
    "mail_from",
    "service_hours",
    "extra_windows",
)
#: Of ``bank:``'s keys, the settings of the shared system: in a platform file they are
#: given once under ``platform:`` and every bank gets them (INTERFACE.md §10).
PLATFORM_KEYS: Final = (
    "capacity_flows",
    "congestion_retry_after_seconds",
    "flow_timeout_minutes",
    "early_flow_seconds",
    "early_flows_per_client",
    "flow_lifetime_minutes",
    "service_hours",
    "mail_from",
)
#: ``bank:`` of a bank in a platform file: its own settings (the older contact_phone
#: is left out: such a bank gives its whole お問い合わせ先).
PLATFORM_BANK_KEYS: Final = tuple(
    k for k in BANK_KEYS if k not in PLATFORM_KEYS and k != "contact_phone"
)
#: 金融機関コード: 4 half-width digits, as the contract has it (BASE/banks/CODE/).
BANK_CODE: Final = (banks.CODE_PATTERN, "a 金融機関コード of 4 half-width digits")

# A persona's account, PIN and phone have the forms the screens accept (INTERFACE.md
# §2), so that a tester can type them; the words are the scenario file's own.
BRANCH_NO: Final = (FIELDS["branch_no"].pattern or "", "3 half-width digits")
ACCOUNT_NO: Final = (FIELDS["account_no"].pattern or "", "7 half-width digits")
ACCOUNT_TYPE: Final = (
    "|".join(ACCOUNT_TYPES),
    "a 預金種目 code: '1' 普通, '2' 当座, '4' 貯蓄 or '9' その他",
)
PIN: Final = (FIELDS["pin"].pattern or "", "4 half-width digits")
PHONE: Final = (
    FIELDS["phone"].pattern or "",
    "10 or 11 half-width digits starting with 0, no hyphens",
)
TOLL_FREE: Final = (r"0120[0-9]{6}|0800[0-9]{7}", "a toll-free number: 0120 + 6 digits or 0800 + 7")
CONTACT_PHONE: Final = (r"0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{3,4}", "a phone number like 03-3622-7131")
ACCOUNT: Final = (r"[0-9]{3}-[1249]-[0-9]{7}", "BRANCH-TYPE-NUMBER, e.g. 022-1-2222222")
PERSONA_ID: Final = (r"[a-z0-9][a-z0-9-]{0,39}", "lower-case letters, digits and '-' (at most 40)")
CLIENT_ID: Final = (r"[A-Za-z0-9._~-]{1,64}", "letters, digits and . _ ~ - (at most 64)")
CONTACT_KEYS: Final = ("department", "phone", "main_line", "hours", "email")
#: A page of the bank's website that the footer links instead of renkei's.
PAGE_URL: Final = "an absolute http(s) URL such as https://www.example.jp/api/kitei.html"
_EMAIL: Final = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_SMALL_KANA: Final = re.compile(r"[\uff67-\uff6f]")  # ｧｨｩｪｫｬｭｮｯ


def _unique(nodes: list[Node], values: list[str], what: str) -> None:
    """Refuse a value listed twice, naming where it was first."""
    first: dict[str, str] = {}
    for node, value in zip(nodes, values, strict=True):
        if value in first:
            raise node.error(f"{what} {value!r} is also {first[value]}")
        first[value] = node.path


def _whole(r: Record, key: str, default: int, low: int, high: int) -> int:
    node = r.get(key)
    return default if node is None else node.integer(low, high)


# -- bank --------------------------------------------------------------------------------


def _contact_phone(node: Node) -> str:
    """お問い合わせ先's phone as it is displayed: hyphens allowed, 10 or 11 digits."""
    phone = node.code(*CONTACT_PHONE)
    if len(phone.replace("-", "")) not in (10, 11):
        raise node.wrong("a phone number of 10 or 11 digits")
    return phone


def _email(node: Node) -> str:
    address = node.line()
    if not _EMAIL.fullmatch(address):
        raise node.wrong("an e-mail address")
    return address


def _page_url(node: Node) -> str:
    """The bank's own page on the web: absolute http(s) with a host, one line, no spaces."""
    url = node.line()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise node.wrong(PAGE_URL)
    return url


def read_contact(r: Record, required: Collection[str] = ()) -> Contact:
    """``bank.contact`` (お問い合わせ先), or the older ``bank.contact_phone`` alone;
    every field the scenario leaves out keeps the manual's value, but ``required``."""
    d = Contact()
    phone_node = r.get("contact_phone")
    contact_node = r.get("contact")
    if contact_node is None:
        if required:
            raise r["contact"].wrong(f"a mapping of {', '.join(CONTACT_KEYS)}")
        return Contact(phone=_contact_phone(phone_node)) if phone_node else d
    optional = tuple(k for k in CONTACT_KEYS if k not in required)
    c = contact_node.record(required=required, optional=optional)
    if phone_node is not None and c.get("phone") is not None:
        raise phone_node.error("give the phone once: contact.phone or contact_phone, not both")
    given = c.get("phone") or phone_node
    phone = _contact_phone(given) if given is not None else d.phone
    main_line = d.main_line
    if (main_node := c.get("main_line")) is not None:
        if not isinstance(main_node.value, bool):
            raise main_node.wrong("true or false (true shows 「（代）」 after the number)")
        main_line = main_node.value
    return Contact(
        department=c["department"].line() if c.get("department") else d.department,
        phone=phone,
        main_line=main_line,
        hours=c["hours"].line() if c.get("hours") else d.hours,
        email=_email(c["email"]) if c.get("email") else d.email,
    )


def _paragraphs(node: Node) -> tuple[str, ...]:
    """``bank.terms_text``: paragraphs parted by a blank line; a single line break stays one."""
    return tuple(p.strip() for p in re.split(r"\n\s*\n", node.text()) if p.strip())


def _platform_rules(r: Record) -> PlatformRules:
    """The platform's settings among ``r``'s keys; absent ones keep renkei's defaults."""
    d = PlatformRules()
    windows = d.windows
    if (hours := r.get("service_hours")) is not None:
        h = hours.record(required=(), optional=("midnight_minutes", "early_morning_minutes"))
        # R-HOURS-1 「0時から1分程度」 and R-HOURS-2 「4時から数分程度」: at most a day.
        midnight = h["midnight_minutes"].number(0, 1440) if h.get("midnight_minutes") else 1
        early = h["early_morning_minutes"].number(0, 1440) if h.get("early_morning_minutes") else 5
        windows = default_windows(midnight, early)
    flows = _whole(r, "capacity_flows", d.capacity.flows, 1, 1_000_000)
    # Of the capacity, the slots one partner app's early flows may hold (default: half).
    per_client = r.get("early_flows_per_client")
    return PlatformRules(
        capacity=Capacity(
            flows=flows,
            retry_after=dt.timedelta(
                seconds=_whole(
                    r,
                    "congestion_retry_after_seconds",
                    int(d.capacity.retry_after.total_seconds()),
                    1,
                    86_400,
                )
            ),
            early_per_client=None if per_client is None else per_client.integer(1, flows),
        ),
        flow_timeout=dt.timedelta(
            minutes=_whole(
                r, "flow_timeout_minutes", int(d.flow_timeout.total_seconds() // 60), 1, 1440
            )
        ),
        early_flow=dt.timedelta(
            seconds=_whole(r, "early_flow_seconds", int(d.early_flow.total_seconds()), 1, 86_400)
        ),
        flow_lifetime=dt.timedelta(
            minutes=_whole(
                r, "flow_lifetime_minutes", int(d.flow_lifetime.total_seconds() // 60), 1, 10_080
            )
        ),
        windows=windows,
        mail_from=_email(r["mail_from"]) if r.get("mail_from") else d.mail_from,
    )


def read_platform(node: Node | None) -> PlatformRules:
    """A platform file's ``platform:``: the shared system's settings (INTERFACE.md §10)."""
    if node is None:
        return PlatformRules()
    return _platform_rules(node.record(required=(), optional=PLATFORM_KEYS))


def read_bank(node: Node, platform: PlatformRules | None = None) -> BankRules:
    """``bank:``: any of BankRules' settings; the rest keep renkei's defaults (docs/rules.md).

    With ``platform`` (a bank of a platform file) the platform's settings come from
    there and giving one here is an error naming it; such a bank must name itself
    and give its own お問い合わせ先 (phone and e-mail), never the manual's bank's by
    default."""
    contact_required: tuple[str, ...] = ()
    if platform is None:
        r = node.record(required=(), optional=BANK_KEYS)
        platform = _platform_rules(r)
    else:
        contact_required = ("phone", "email")
        if isinstance(node.value, dict):
            for key in PLATFORM_KEYS:
                if key in node.value:
                    raise node.child(key, None).error(
                        "a setting of the whole platform, not of one bank: give it under platform:"
                    )
        r = node.record(required=("name", "contact"), optional=PLATFORM_BANK_KEYS)
    d = BankRules()
    name = r["name"].line() if r.get("name") else d.name
    terms_url = _page_url(r["terms_url"]) if r.get("terms_url") else d.terms_url
    terms_text = d.terms_text
    if (text_node := r.get("terms_text")) is not None:
        if r.get("terms_url") is not None:
            raise text_node.error(
                "give terms_url (the bank's page) or terms_text (renkei's page), not both"
            )
        terms_text = _paragraphs(text_node)
    faq_url = _page_url(r["faq_url"]) if r.get("faq_url") else d.faq_url
    pool = d.call_pool
    if (pool_node := r.get("call_pool")) is not None:
        items = pool_node.items(non_empty=True)
        pool = tuple(item.code(*TOLL_FREE) for item in items)
        _unique(items, list(pool), "number")
    own_windows = read_windows(r["extra_windows"]) if r.get("extra_windows") else ()
    rules = BankRules(
        name=name,
        contact=read_contact(r, required=contact_required),
        terms_url=terms_url,
        faq_url=faq_url,
        terms_text=terms_text,
        call_pool=pool,
        call_window=dt.timedelta(
            seconds=_whole(r, "call_window_seconds", int(d.call_window.total_seconds()), 1, 3600)
        ),
        lockout=Lockout(_whole(r, "lockout_threshold", d.lockout.threshold, 1, 100)),
        grants=GrantPolicy(
            days=_whole(r, "grant_days", d.grants.days, 1, 3650),
            uninstall_grace=dt.timedelta(
                days=_whole(r, "uninstall_grace_days", d.grants.uninstall_grace.days, 0, 3650)
            ),
        ),
        history=HistoryPolicy(_whole(r, "history_months", d.history.months, 1, 120)),
        windows=own_windows,
    )
    return platform.apply(rules)


# -- branches and clients ------------------------------------------------------------------


def read_branches(node: Node) -> tuple[Branch, ...]:
    items = node.items(non_empty=True)
    branches = []
    for item in items:
        r = item.record(required=("code", "name"))
        branches.append(Branch(r["code"].code(*BRANCH_NO), r["name"].line()))
    _unique([i.child("code", None) for i in items], [b.code for b in branches], "branch")
    return tuple(branches)


def _redirect_uri(node: Node) -> str:
    """RFC 6749 §3.1.2: absolute, no fragment; http(s) with a host, or an app's own scheme."""
    uri = node.line()
    parts = urlsplit(uri)
    web = parts.scheme in ("http", "https")
    # RFC 8252 §7.1: a native app's private-use scheme is a reversed domain name.
    if (web and not parts.netloc) or (not web and "." not in parts.scheme) or parts.fragment:
        raise node.wrong("an absolute http(s) URI (or com.example.app:/path) without #fragment")
    return uri


def read_clients(node: Node) -> tuple[Client, ...]:
    items = node.items(non_empty=True)
    clients = []
    for item in items:
        r = item.record(
            required=("client_id", "client_secret", "name", "company", "redirect_uris"),
            optional=("scopes",),
        )
        uri_nodes = r["redirect_uris"].items(non_empty=True)
        uris = [_redirect_uri(u) for u in uri_nodes]
        _unique(uri_nodes, uris, "redirect URI")
        scopes = list(SCOPES)
        if (scope_node := r.get("scopes")) is not None:
            scope_items = scope_node.items(non_empty=True)
            scopes = [s.choice(SCOPES) for s in scope_items]
            _unique(scope_items, scopes, "scope")
        clients.append(
            Client(
                client_id=r["client_id"].code(*CLIENT_ID),
                client_secret=r["client_secret"].line(),
                name=r["name"].line(),
                company=r["company"].line(),
                redirect_uris=tuple(uris),
                scopes=tuple(scopes),
            )
        )
    ids = [i.child("client_id", None) for i in items]
    _unique(ids, [c.client_id for c in clients], "client_id")
    return tuple(clients)


# -- personas ------------------------------------------------------------------------------


def _name_kana(node: Node) -> str:
    """R-FLOW-2: half-width katakana, at most 48 characters, as the bank files it."""
    name = node.line()
    if not is_half_width_kana_name(name):
        raise node.wrong("half-width katakana such as ﾃﾞｰﾀ ﾀﾛｳ")
    if len(name) > MAX_NAME_LENGTH:
        raise node.error(f"must be at most {MAX_NAME_LENGTH} characters (got {len(name)})")
    if _SMALL_KANA.search(name):
        # The Zengin character set has no small kana: ｷｬﾉﾝ is filed ｷﾔﾉﾝ.
        raise node.error(f"the bank files names without small kana (got {name!r}): ｷｬ is ｷﾔ")
    return name


def _card(node: Node) -> CardSpec | None:
    if node.is_null:
        return None
    r = node.record(required=("issued_on", "pin"))
    return CardSpec(read_date(r["issued_on"]), r["pin"].code(*PIN))


def _account(node: Node) -> AccountSpec:
    r = node.record(
        required=("branch_no", "account_type", "account_no", "opened_on"),
        optional=("status", "balance", "card", "moved_to", "history"),
    )
    key = AccountKey(
        r["branch_no"].code(*BRANCH_NO),
        r["account_type"].code(*ACCOUNT_TYPE),
        r["account_no"].code(*ACCOUNT_NO),
    )
    status = AccountStatus.OPEN
    if (status_node := r.get("status")) is not None:
        status = AccountStatus(status_node.choice(("open", "closed")))
    balance = _whole(r, "balance", 0, 0, 10**12)
    if status is AccountStatus.CLOSED and balance:
        raise r["balance"].error(f"a closed account holds nothing (got {balance})")
    moved_to = None
    if (moved_node := r.get("moved_to")) is not None:
        moved_to = AccountKey.parse(moved_node.code(*ACCOUNT))
        if status is not AccountStatus.OPEN:
            raise moved_node.error("only an open account can move (移管, R-ACCT-3)")
        if moved_to == key:
            raise moved_node.error("an account moves to another branch or number")
        if moved_to.account_type != key.account_type:
            raise moved_node.error(f"a move keeps the 科目 ({key.account_type})")
    history = None
    if (history_node := r.get("history")) is not None:
        h = history_node.record(required=("months", "per_month"))
        # Up to 1,000 a month: a shop's account, whose three months of 明細 run to
        # more than one page of 500 (R-ACCT-4, INTERFACE.md §5).
        history = HistorySpec(h["months"].integer(1, 24), h["per_month"].integer(1, 1000))
    return AccountSpec(
        key=key,
        opened_on=read_date(r["opened_on"]),
        status=status,
        balance=balance,
        card=_card(r["card"]),
        moved_to=moved_to,
        history=history,
    )


def _persona(node: Node) -> Persona:
    r = node.record(
        required=("id", "behaviour", "name_kana", "birth_date", "phone", "accounts"),
        optional=("name_kanji",),
    )
    return Persona(
        id=r["id"].code(*PERSONA_ID),
        behaviour=r["behaviour"].line(),
        name_kana=_name_kana(r["name_kana"]),
        name_kanji=r["name_kanji"].line() if r.get("name_kanji") else "",
        birth_date=read_date(r["birth_date"]),
        phone=r["phone"].code(*PHONE),
        accounts=tuple(_account(a) for a in r["accounts"].items(non_empty=True)),
    )


def read_personas(node: Node) -> tuple[Persona, ...]:
    items = node.items(non_empty=True)
    personas = tuple(_persona(item) for item in items)
    _unique([i.child("id", None) for i in items], [p.id for p in personas], "persona")
    return personas


def check_accounts(node: Node, personas: tuple[Persona, ...], branches: Collection[str]) -> None:
    """Across personas: every branch is listed, and no account key is used twice."""
    seen: dict[AccountKey, str] = {}
    for i, persona in enumerate(personas):
        for j, spec in enumerate(persona.accounts):
            account = Node(node.source, f"{node.path}[{i}].accounts[{j}]", None)
            for key, field_name in ((spec.key, "branch_no"), (spec.moved_to, "moved_to")):
                if key is None:
                    continue
                if key.branch_no not in branches:
                    problem = f"branch {key.branch_no} is not in branches"
                    raise account.child(field_name, None).error(problem)
                here = account if field_name == "branch_no" else account.child(field_name, None)
                if key in seen:
                    raise here.error(f"account {key} is also {seen[key]}")
                seen[key] = here.path


# -- population ----------------------------------------------------------------------------


def read_population(node: Node) -> PopulationSpec:
    r = node.record(required=("customers", "seed"), optional=("history_months", "per_month"))
    return PopulationSpec(
        customers=r["customers"].integer(0, 1_000_000),
        seed=r["seed"].integer(0, 2**63 - 1),
        history_months=_whole(r, "history_months", 3, 0, 24),
        per_month=_whole(r, "per_month", 5, 1, 100),
    )
