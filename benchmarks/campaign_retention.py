"""Campaign: the database's size under floods of abandoned authorizations, and its
return after the retention. On demand only.

    .venv/bin/python benchmarks/campaign_retention.py [--flood 300] [--at-limit 300]
        [--retention 10] [--database-url URL]

Starts its own ``renkei serve`` on a free loopback port (``harness.embedded``, a
data directory of its own; SQLite there unless ``--database-url``), with every
kind's retention ``--retention`` seconds and a purge every second, on the default
scenario with room for every flow (``capacity_flows`` raised, so that congestion
does not stop the flood before it is stored), its clock frozen in service hours.
Then, over HTTP, with nobody ever posting a screen:

1. **the finding**: ``--flood`` anonymous ``GET /oauth/authorize`` with a 60 KB
   ``state``, each abandoned: every one refused (400), no row stored, the
   database's bytes in use grow by at most ``REFUSED_BOUND``;
2. **at the limit**: ``--at-limit`` authorizations with a ``state`` of exactly
   1,024 characters (renkei.contract.limits.STATE_MAX): every one starts a flow, and
   the bytes in use grow by at most ``PER_FLOW_BOUND`` a flow;
3. **after the retention**: once the retention and a purge have passed, every flow
   and line of the log is gone, and the bytes in use are back within
   ``RETURN_BOUND`` of what they were before the floods;
4. **again**: the flood at the limit once more, on the space the purge freed: the
   database grows beyond its size after (2) by at most ``AGAIN_SHARE`` of what (2)
   added, or ``RETURN_BOUND``, whichever is more.

The bytes in use are SQLite's pages in use (``page_count − freelist_count``, times
``page_size``; the file keeps its size, its free pages reused by the next rows) or,
on PostgreSQL, the live rows' bytes (``pg_column_size``) of the world's tables,
beside their ``pg_total_relation_size`` (the purge vacuums the tables it deleted
from, so that their space is reused; indexes keep some of theirs). It
prints a table of every figure and its bound, and exits 1 when one is broken. All
traffic goes to 127.0.0.1; the run takes about the retention and half a minute.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, func, select, text
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.embedded import EmbeddedSandbox, Target  # noqa: E402
from renkei import resources  # noqa: E402
from renkei.args import OneLineParser, positive_int  # noqa: E402
from renkei.contract.controls import CLOCK_PATH  # noqa: E402
from renkei.contract.limits import STATE_MAX  # noqa: E402
from renkei.contract.oauth import AUTHORIZE_PATH  # noqa: E402
from simulator.store.schema import WORLD, flows, oplog  # noqa: E402

#: The finding's ``state``: 60 KB.
FLOOD_STATE = 60 * 1024
#: What the refused flood may add to the bytes in use, all of it (nothing is stored).
REFUSED_BOUND = 8 * 1024
#: What one abandoned authorization at the limits may add: its flow (the record with
#: the 1,024-character state, once), its line of the log, and their index entries.
PER_FLOW_BOUND = 4 * 1024
#: How near the bytes in use come back to where they were, after the purge; and how
#: much the database may grow beyond its first flood on a second one.
RETURN_BOUND = 64 * 1024
#: On a second flood, the database may grow by this share of what the first added
#: at most (or ``RETURN_BOUND``, whichever is more): the rest is space reused.
AGAIN_SHARE = 0.25
#: Requests in flight at once.
PARALLEL = 8
#: A Tuesday 10:15 JST, frozen: inside service hours whatever the real time.
IN_HOURS = {"now": "2026-11-24T10:15:00+09:00", "frozen": True}
CLIENT = {
    "response_type": "code",
    "client_id": "creco",
    "redirect_uri": "http://127.0.0.1:8765/callback",
    "scope": "accounts transactions",
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
}


class Size:
    """The database's bytes in use (and its whole size) at a moment."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = None if url.startswith("sqlite") else create_engine(url)

    def now(self) -> tuple[int, int]:
        """(bytes in use, the database's size)."""
        if self.engine is None:
            path = self.url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
                pages = c.execute("PRAGMA page_count").fetchone()[0]
                free = c.execute("PRAGMA freelist_count").fetchone()[0]
                size = c.execute("PRAGMA page_size").fetchone()[0]
            return (pages - free) * size, pages * size
        live = whole = 0
        with self.engine.connect() as c:
            for t in WORLD:
                rows = f"SELECT COALESCE(SUM(pg_column_size(t.*)), 0) FROM {t.name} t"
                live += int(c.execute(text(rows)).scalar_one())
                total = f"SELECT pg_total_relation_size('{t.name}')"
                whole += int(c.execute(text(total)).scalar_one())
        return live, whole

    def rows(self) -> tuple[int, int]:
        """(flows, lines of the log) of every sandbox."""
        engine = self.engine or create_engine(self.url)
        try:
            with engine.connect() as c:
                counted = [
                    int(c.execute(select(func.count()).select_from(t)).scalar_one())
                    for t in (flows, oplog)
                ]
        finally:
            if engine is not self.engine:
                engine.dispose()
        return counted[0], counted[1]


def flood(target: Target, count: int, state: str) -> dict[int, int]:
    """``count`` authorizations with ``state``, ``PARALLEL`` at a time, none followed:
    how many answered each status."""
    statuses: dict[int, int] = {}
    with requests.Session() as session:

        def one(_: int) -> int:
            r = session.get(
                target.url + AUTHORIZE_PATH,
                params={**CLIENT, "state": state},
                allow_redirects=False,
                timeout=30,
            )
            return r.status_code

        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            for status in pool.map(one, range(count)):
                statuses[status] = statuses.get(status, 0) + 1
    return statuses


def wait(what: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not what():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def roomy_scenario(directory: Path) -> Path:
    """The default scenario with room for every flow of the floods."""
    text_ = resources.scenario(resources.DEFAULT_SCENARIO).read_text("utf-8")
    roomy = text_.replace("capacity_flows: 200", "capacity_flows: 100000")
    assert roomy != text_, "the default scenario no longer says capacity_flows: 200"
    path = directory / "roomy.yaml"
    path.write_text(roomy, "utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=positive_int, default=300, help="the 60 KB floods (300)")
    parser.add_argument(
        "--at-limit", type=positive_int, default=300, help="authorizations at the limit (300)"
    )
    parser.add_argument(
        "--retention", type=positive_int, default=10, help="every kind's retention, seconds (10)"
    )
    parser.add_argument("--database-url", default=None, help="renkei serve --database-url")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="renkei-retention-") as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'renkei.db'}"
        retain = ",".join(
            f"{k}={args.retention}s" for k in ("flows", "codes", "grants", "calls", "log", "mail")
        )
        child = EmbeddedSandbox(
            (
                "--database-url", url, "--scenario", str(roomy_scenario(Path(scratch))),
                "--retain", retain, "--purge-every", "1s",
            )
        )  # fmt: skip
        try:
            return campaign(child.ready(), Size(url), args)
        finally:
            child.stop()


def campaign(target: Target, size: Size, args: Any) -> int:
    admin = {"Authorization": f"Bearer {target.admin_token}"}
    r = requests.put(target.url + CLOCK_PATH, json=IN_HOURS, headers=admin, timeout=10)
    r.raise_for_status()
    rows: list[tuple[str, str, str, str]] = []
    broken: list[str] = []

    def check(what: str, figure: float, bound: float, shown: str = "{:,.0f}") -> None:
        ok = figure <= bound
        rows.append((what, shown.format(figure), shown.format(bound), "ok" if ok else "BROKEN"))
        if not ok:
            broken.append(what)

    # Nothing of the flood must stay past the retention either: let the clock's own
    # line of the log go first, so that the baseline is the host's data alone.
    wait(lambda: size.rows() == (0, 0), args.retention + 10)
    in_use0, whole0 = size.now()
    flows0, lines0 = size.rows()

    started = time.monotonic()
    refused = flood(target, args.flood, "x" * FLOOD_STATE)
    in_use1, whole1 = size.now()
    check("60 KB state: answered other than 400", args.flood - refused.get(400, 0), 0)
    check("60 KB state: flows and log lines stored", sum(size.rows()) - flows0 - lines0, 0)
    check("60 KB state: bytes in use added", in_use1 - in_use0, REFUSED_BOUND)
    flood_seconds = time.monotonic() - started

    started = time.monotonic()
    taken = flood(target, args.at_limit, "s" * STATE_MAX)
    in_use2, whole2 = size.now()
    stored, lines = size.rows()
    check("state at the limit: answered other than 303", args.at_limit - taken.get(303, 0), 0)
    check("state at the limit: flows stored", stored, args.at_limit)
    per_flow = (in_use2 - in_use1) / max(stored, 1)
    check("state at the limit: bytes in use added a flow", per_flow, PER_FLOW_BOUND)
    limit_seconds = time.monotonic() - started

    started = time.monotonic()
    purged = wait(lambda: size.rows() == (0, 0), args.retention + 30)
    waited = time.monotonic() - started
    in_use3, whole3 = size.now()
    check("after the retention: flows and log lines left", sum(size.rows()), 0)
    check("after the retention: bytes in use over the start", in_use3 - in_use0, RETURN_BOUND)

    flood(target, args.at_limit, "s" * STATE_MAX)
    in_use4, whole4 = size.now()
    again = max(RETURN_BOUND, AGAIN_SHARE * (whole2 - whole0))
    check("again: database grown past the first flood", whole4 - whole2, again)

    moments = [
        ("start", in_use0, whole0, f"{flows0} / {lines0}", None),
        ("after the 60 KB flood", in_use1, whole1, "", flood_seconds),
        ("after the flood at the limit", in_use2, whole2, f"{stored} / {lines}", limit_seconds),
        ("after the retention", in_use3, whole3, "0 / 0" if purged else "left", waited),
        ("after the flood again", in_use4, whole4, "", None),
    ]
    print(
        tabulate(
            [
                (what, f"{used:,}", f"{whole:,}", counted, "" if took is None else f"{took:.1f} s")
                for what, used, whole, counted, took in moments
            ],
            headers=["moment", "bytes in use", "database size", "flows / log lines", "took"],
        )
    )
    print()
    print(tabulate(rows, headers=["figure", "measured", "bound", ""]))
    backend = "SQLite" if size.engine is None else "PostgreSQL"
    print(
        f"\n{backend}; {args.flood} requests with a {FLOOD_STATE // 1024} KB state, "
        f"{args.at_limit} at the {STATE_MAX}-character limit, retention {args.retention} s"
    )
    if broken:
        print(f"campaign_retention: bound broken: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
