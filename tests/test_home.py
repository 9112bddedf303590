"""The home page ``/``: a newcomer learns where they are and finds the way on.

It names renkei and the bank whose API連携認証 it plays, links the OAuth
metadata, the personas, ``/docs`` and the sandbox controls (INTERFACE.md §1, §6),
and every link on it leads somewhere that answers; a partner app's link starts a
flow at screen ① with a PKCE challenge whose verifier the page shows.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from bankdriver import bank_config

from renkei.contract.docs import DOCS_PATH, OPENAPI_PATH
from renkei.contract.oauth import METADATA_PATH
from simulator.scenario import load_scenario
from simulator.web.app import create_app
from simulator.web.server import RunningServer, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "test-admin-token"
SCENARIO = load_scenario(ROOT / "scenarios" / "default.yaml")


class Page(HTMLParser):
    """What the tests read of the page: its title, headings, links, ids and rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.title = ""
        self.h1 = ""
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.personas: list[str] = []
        self.tries: list[str] = []
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("title", "h1"):
            self._in = tag
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
            if a.get("data-action") == "try":
                self.tries.append(str(a["href"]))
        if tag == "tr" and a.get("data-persona"):
            self.personas.append(str(a["data-persona"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_in_thread(bank_config(tmp_path_factory.mktemp("home"), ADMIN), SCENARIO)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def home(bank: RunningServer) -> tuple[str, Page]:
    answer = requests.get(bank.url + "/", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    return answer.text, Page(answer.text)


def test_the_page_says_where_a_newcomer_is(home: tuple[str, Page]) -> None:
    html, page = home
    bank_name = SCENARIO.rules.name
    assert page.h1.strip() and "renkei" in page.h1 and "API連携認証" in page.h1
    assert page.title.strip().startswith(page.h1.strip()) and bank_name in page.title
    # The first paragraph: renkei, a sandbox of this bank's API連携認証.
    lead = re.search(r"<p>(.*?)</p>", html, re.S)
    assert lead is not None
    assert "renkei" in lead.group(1) and f"{bank_name}の「API連携認証」" in lead.group(1)
    assert "サンドボックス" in lead.group(1)


def test_it_links_the_metadata_the_personas_the_docs_and_the_controls(
    home: tuple[str, Page],
) -> None:
    _, page = home
    assert {METADATA_PATH, DOCS_PATH, OPENAPI_PATH} <= set(page.links)
    for anchor in ("personas", "controls"):
        assert f"#{anchor}" in page.links and anchor in page.ids
    # Every persona of the scenario is listed, and its account's PIN for screen ⑤.
    assert page.personas == [p.id for p in SCENARIO.personas]
    html = home[0]
    assert "115-1-1100026" in html and "1357" in html  # the manual's customer (§8)


def test_every_link_answers(bank: RunningServer, home: tuple[str, Page]) -> None:
    """Pages and documents answer 200; the controls want the admin token (401
    without it, 200 with it): none of the links is a 404 or a 500."""
    _, page = home
    local = sorted({h for h in page.links if h.startswith("/") and h not in page.tries})
    controls = [h for h in local if h.startswith(("/sandbox/", "/admin/"))]
    assert "/sandbox/clock" in controls and "/admin/locks" in controls
    token = {"Authorization": f"Bearer {ADMIN}"}
    for href in local:
        answer = requests.get(bank.url + href, timeout=10, allow_redirects=False)
        if href in controls:
            assert answer.status_code == 401, href
            answer = requests.get(bank.url + href, timeout=10, headers=token)
        assert answer.status_code == 200, (href, answer.status_code)


def test_it_lists_every_sandbox_control_the_server_has(
    bank: RunningServer, home: tuple[str, Page]
) -> None:
    html, _ = home
    rules = {
        r.rule
        for r in create_app(bank.service).url_map.iter_rules()
        if r.rule.startswith(("/sandbox/", "/admin/"))
    }
    listed = set(re.findall(r"<code>(/(?:sandbox|admin)/[^<]*)</code>", html))
    assert rules and {unescape(path) for path in listed} == rules


def test_a_partner_apps_link_starts_a_flow_at_screen_one(
    bank: RunningServer, home: tuple[str, Page]
) -> None:
    html, page = home
    assert len(page.tries) == len(SCENARIO.clients)
    shown = re.search(r"code_verifier=([A-Za-z0-9._~-]{43,128})", html)
    assert shown is not None
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(shown.group(1).encode()).digest())
        .rstrip(b"=")
        .decode()
    )
    # A weekday morning, within service hours whatever the real time.
    clock = requests.put(
        bank.url + "/sandbox/clock",
        json={"now": "2026-11-24T10:15:00+09:00", "frozen": True},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    assert clock.status_code == 200
    for href in page.tries:
        params = parse_qs(urlsplit(href).query)
        assert params["code_challenge"] == [challenge]
        assert params["code_challenge_method"] == ["S256"]
        with requests.Session() as browser:
            answer = browser.get(urljoin(bank.url, href), timeout=10)
            assert answer.status_code == 200, answer.text[:300]
            assert '<meta name="screen-id" content="SOA201">' in answer.text
