"""``renkei scenario check [FILE]``: load a scenario (a file, or a shipped one by
name; the default scenario without FILE), build its host for a day (today
unless ``--today``) and print the bank's settings, the partner apps and the
personas as tables. A bad file raises :class:`~simulator.scenario.ScenarioError`,
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
from simulator.core.bank_pages import FAQ_SECTIONS
from simulator.core.clock import SystemClock, jst_day
from simulator.core.host import PinVault
from simulator.core.memory import MemoryHost
from simulator.scenario import Scenario, load_scenario
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


def bank_table(s: Scenario) -> str:
    r = s.rules
    hours = {w.rule: w.length for w in r.windows}
    rows = [
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
        ("capacity", f"{r.capacity.flows} flows, retry after {r.capacity.retry_after.seconds} s"),
        ("flow timeout", f"{r.flow_timeout.total_seconds() / 60:g} min"),
        ("history kept", f"{r.history.months} months"),
        ("mail from", r.mail_from),
        (
            "closed daily",
            f"0:00 for {hours['R-HOURS-1'].total_seconds() / 60:g} min, "
            f"4:00 for {hours['R-HOURS-2'].total_seconds() / 60:g} min",
        ),
        ("branches", ", ".join(f"{b.code} {b.name}" for b in s.branches)),
    ]
    return tabulate(rows, headers=("setting", "value"), tablefmt="simple", disable_numparse=True)


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


def check_scenario(args: argparse.Namespace, out: TextIO) -> int:
    """``renkei scenario check [FILE]``: load, build, print; raises ScenarioError if bad."""
    scenario = load_scenario(resources.find_scenario(args.file))
    today: dt.date = args.today or jst_day(SystemClock().now())
    # Building checks what only a day can tell (an account opened after today);
    # a throwaway key, as nothing built here is kept.
    host = scenario.build_host(PinVault(secrets.token_bytes(32)), today)
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
        f"Personas ({len(scenario.personas)})",
        personas_table(scenario),
        "",
        _summary(scenario, host, today),
    ]
    print("\n".join(sections), file=out)
    return 0
