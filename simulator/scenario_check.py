"""``renkei scenario check [FILE]``: load a scenario (a file, or a shipped one by
name; the default scenario without FILE), build its host for a day (today
unless ``--today``) and print the bank's settings, the partner apps and the
personas as tables. A platform file (``banks:``, INTERFACE.md §10) prints the
platform's settings, its partner apps, a table of its banks and then each bank's
settings and personas. A bad file raises :class:`~simulator.scenario.ScenarioError`,
which the command line prints as ``renkei: <file>: <field>: <problem>`` with
exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
from typing import Any, TextIO
from urllib.parse import urlsplit

from tabulate import tabulate

from renkei import resources
from simulator.core.bank import PlatformRules
from simulator.core.bank_pages import FAQ_SECTIONS
from simulator.core.clock import SystemClock, jst_day
from simulator.core.host import PinVault
from simulator.core.hours import Window
from simulator.core.memory import MemoryHost
from simulator.scenario import PlatformScenario, Scenario, load_platform
from simulator.scenario_model import AccountSpec


def add_parser(commands: Any) -> None:
    """``renkei scenario check``, on the command line's subcommands."""
    scenario = commands.add_parser(
        "scenario", help="scenario files", description="Work with scenario files."
    )
    actions = scenario.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="check a scenario file and list its bank settings and personas",
        description="Load and check a scenario file, build its host for a day, and print "
        "the bank's settings, the partner apps and the personas.",
    )
    check.add_argument(
        "file",
        nargs="?",
        default=resources.DEFAULT_SCENARIO,
        metavar="FILE",
        help="a scenario YAML file, or the name of a shipped one: "
        f"{', '.join(resources.scenario_names())} (default: {resources.DEFAULT_SCENARIO})",
    )
    check.add_argument(
        "--today",
        type=_day,
        metavar="YYYY-MM-DD",
        help="the day to build for (relative dates such as today+7d); default: today in JST",
    )
    check.set_defaults(handler=check_scenario)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _card(spec: AccountSpec) -> str:
    if spec.card is None:
        return "no card"
    return f"card {spec.card.issued_on}"


def _account(spec: AccountSpec) -> str:
    """``115-1-1100026 open, card 2008-04-15``, or where it moved (移管, R-ACCT-3)."""
    status = f"moved to {spec.moved_to}" if spec.moved_to else spec.status.value
    return f"{spec.key} {status}, {_card(spec)}"


def _page(url: str, own: str) -> str:
    """Where a footer link of the bank leads: its own page elsewhere, or renkei's."""
    return url if urlsplit(url).scheme else f"{url} (renkei's page, {own})"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _questions() -> int:
    return sum(len(s.questions) for s in FAQ_SECTIONS)


def _closed_daily(windows: tuple[Window, ...]) -> str:
    hours = {w.rule: w.length for w in windows}
    return (
        f"0:00 for {hours['R-HOURS-1'].total_seconds() / 60:g} min, "
        f"4:00 for {hours['R-HOURS-2'].total_seconds() / 60:g} min"
    )


def _own_windows(windows: tuple[Window, ...]) -> str:
    return "; ".join(w.label for w in windows) or "none"


def platform_rows(p: PlatformRules) -> list[tuple[str, str]]:
    """The settings of the shared system: a one-bank file's among the bank's."""
    capacity = p.capacity
    return [
        ("capacity", f"{capacity.flows} flows, retry after {capacity.retry_after.seconds} s"),
        ("flow timeout", f"{p.flow_timeout.total_seconds() / 60:g} min"),
    ]


def bank_table(s: Scenario, platform: bool = True) -> str:
    """A bank's settings; with ``platform`` (a one-bank file) the platform's too."""
    r = s.rules
    shared = PlatformRules.of(r)
    rows = [
        *([("金融機関コード", s.code)] if s.code is not None else []),
        ("name", r.name),
        ("contact department", r.contact.department),
        ("contact phone", r.contact.phone + ("（代）" if r.contact.main_line else "")),
        ("contact hours", r.contact.hours),
        ("contact e-mail", r.contact.email),
        ("API利用規定", _page(r.terms_url, _count(len(r.terms_text), "paragraph"))),
        ("よくあるご質問", _page(r.faq_url, f"the manual's {_questions()} questions")),
        ("認証先電話番号 pool", ", ".join(r.call_pool)),
        ("call window", f"{r.call_window.total_seconds():g} s"),
        ("lockout after", f"{r.lockout.threshold} identity failures a day"),
        ("認可期間", f"{r.grants.days} days"),
        ("after uninstall", f"{r.grants.uninstall_grace.days} days"),
        *(platform_rows(shared) if platform else []),
        ("history kept", f"{r.history.months} months"),
        *(
            [("mail from", r.mail_from), ("closed daily", _closed_daily(r.windows))]
            if platform
            else []
        ),
        *([("own windows", _own_windows(r.own_windows))] if r.own_windows or not platform else []),
        ("branches", ", ".join(f"{b.code} {b.name}" for b in s.branches)),
    ]
    return _settings(rows)


def _settings(rows: list[tuple[str, str]]) -> str:
    return tabulate(rows, headers=("setting", "value"), tablefmt="simple", disable_numparse=True)


def platform_table(p: PlatformScenario) -> str:
    """The shared system's settings, the same for every bank (INTERFACE.md §10)."""
    rules = p.rules
    rows = [
        *platform_rows(rules),
        ("mail from", rules.mail_from),
        ("closed daily", _closed_daily(rules.windows)),
    ]
    return _settings(rows)


def banks_table(p: PlatformScenario) -> str:
    """One line a bank: what differs between the credit unions of a platform."""
    rows = [
        (
            b.code or "",
            b.rules.name,
            ", ".join(f"{br.code} {br.name}" for br in b.branches),
            str(b.rules.lockout.threshold),
            "\n".join(b.rules.call_pool),
            "\n".join(w.label for w in b.rules.own_windows) or "none",
            str(len(b.personas)),
        )
        for b in p.banks
    ]
    headers = ("code", "name", "branches", "lockout", "認証先電話番号", "own windows", "personas")
    return tabulate(
        rows,
        headers=headers,
        tablefmt="simple",
        disable_numparse=True,
        maxcolwidths=[None, None, 30, None, None, None, None],
    )


def clients_table(s: Scenario) -> str:
    rows = [
        (c.client_id, c.name, c.company, "\n".join(c.redirect_uris), " ".join(c.scopes))
        for c in s.clients
    ]
    headers = ("client_id", "name", "company", "redirect URIs", "scopes")
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def personas_table(s: Scenario) -> str:
    rows = [
        (p.id, "\n".join(_account(a) for a in p.accounts), p.phone, p.behaviour) for p in s.personas
    ]
    headers = ("id", "accounts", "phone", "behaviour")
    return tabulate(
        rows,
        headers=headers,
        tablefmt="simple",
        disable_numparse=True,  # phones and account numbers keep their leading zeros
        maxcolwidths=[None, None, None, 60],
    )


def _summary(s: Scenario, host: MemoryHost, today: dt.date) -> str:
    items = sum(len(v) for v in host.history.values())
    line = (
        f"Built for {today}: {len(host.customers):,} customers, {len(host.accounts):,} accounts, "
        f"{items:,} transactions"
    )
    if s.population is not None:
        line += f" (population: {s.population.customers:,} customers, seed {s.population.seed})"
    return line + "."


def _bank_sections(s: Scenario, vault: PinVault, today: dt.date) -> list[str]:
    """A bank's personas and what its host holds once built for ``today``."""
    # Building checks what only a day can tell (an account opened after today).
    host = s.build_host(vault, today)
    return [
        f"Personas ({len(s.personas)})",
        personas_table(s),
        "",
        _summary(s, host, today),
    ]


def check_scenario(args: argparse.Namespace, out: TextIO) -> int:
    """``renkei scenario check [FILE]``: load, build, print; raises ScenarioError if bad."""
    platform = load_platform(resources.find_scenario(args.file))
    today: dt.date = args.today or jst_day(SystemClock().now())
    # A throwaway key, as nothing built here is kept.
    vault = PinVault(secrets.token_bytes(32))
    if platform.one_bank:
        scenario = platform.first
        title = f"{resources.shown(scenario.source)}: {scenario.rules.name}"
        if scenario.description:
            title += f" — {scenario.description}"
        sections = [
            title,
            "",
            bank_table(scenario),
            "",
            "Partner apps",
            clients_table(scenario),
            "",
            *_bank_sections(scenario, vault, today),
        ]
    else:
        sections = _platform_sections(platform, vault, today)
    print("\n".join(sections), file=out)
    return 0


def _platform_sections(p: PlatformScenario, vault: PinVault, today: dt.date) -> list[str]:
    title = f"{resources.shown(p.source)}: a platform of {_count(len(p.banks), 'bank')}"
    if p.description:
        title += f" — {p.description}"
    sections = [
        title,
        "",
        "Platform",
        platform_table(p),
        "",
        "Partner apps (registered on the platform)",
        clients_table(p.first),
        "",
        f"Banks ({len(p.banks)})",
        banks_table(p),
    ]
    for bank in p.banks:
        heading = f"Bank {bank.code} {bank.rules.name}"
        if bank.description:
            heading += f" — {bank.description}"
        sections += ["", "", heading, "", bank_table(bank, platform=False), ""]
        sections += _bank_sections(bank, vault, today)
    return sections
