"""HTML is drawn one way, with one stylesheet (DESIGN.md, "Two sides and the contract
between them"; INTERFACE.md §7).

The bank's screens are Jinja templates of ``simulator/web/templates`` and link
``/static/renkei.css``; the tester's pages — the conformance report, the
certificate, the certifying proxy's page — are Jinja templates of
``harness/templates`` and carry the same stylesheet inline. The stylesheet is one
file, ``renkei/assets/renkei.css``, read with :func:`renkei.resources.stylesheet`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from bankdriver import bank_config

from harness.certify.certificate import html as certificate_html
from harness.certify.proxy import status_page
from harness.render import html_report
from harness.report import RunInfo, build
from harness.requirements import load
from renkei.resources import stylesheet
from simulator.scenario import load_scenario
from simulator.web.server import RunningServer, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
CERTIFICATE = ROOT / "reports/examples/certify/misbehaving/certificate.json"
#: HTML typed in Python rather than drawn by a template.
HTML_IN_PYTHON = re.compile(r"<html|<table|<td|<body|<h1|html\.escape")
#: The one exception, with its reason: the partner app's callback that the
#: browser run answers itself (harness/browser.py) is the app's page, not renkei's.
STAND_IN = "<html><body><h1>連携元アプリ</h1></body></html>"


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = tmp_path_factory.mktemp("bank")
    running = start_in_thread(
        bank_config(path, "admin"), load_scenario(ROOT / "scenarios/default.yaml")
    )
    yield running
    running.stop()


def certificate_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CERTIFICATE.read_text("utf-8"))
    return data


def test_there_is_one_stylesheet() -> None:
    sheets = sorted(
        str(p.relative_to(ROOT))
        for top in ("renkei", "simulator", "harness")
        for p in (ROOT / top).rglob("*.css")
    )
    assert sheets == ["renkei/assets/renkei.css"]
    assert stylesheet() == (ROOT / "renkei/assets/renkei.css").read_text("utf-8")


def test_the_bank_serves_it_at_its_url_and_the_screens_link_it(bank: RunningServer) -> None:
    css = requests.get(bank.url + "/static/renkei.css", timeout=5)
    assert css.status_code == 200 and css.text == stylesheet()
    assert css.headers["Content-Type"].startswith("text/css")
    # a static file: revalidated, not forbidden from every cache as screens are
    assert css.headers["Cache-Control"] == "no-cache"
    again = requests.get(
        bank.url + "/static/renkei.css", headers={"If-None-Match": css.headers["ETag"]}, timeout=5
    )
    assert again.status_code == 304 and again.content == b""
    script = requests.get(bank.url + "/static/renkei.js", timeout=5)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert requests.get(bank.url + "/static/other.css", timeout=5).status_code == 404
    terms = requests.get(bank.url + "/docs/terms", timeout=5)
    assert '<link rel="stylesheet" href="/static/renkei.css">' in terms.text
    assert "<style" not in terms.text  # the screens' CSP allows no inline style


def pages() -> dict[str, str]:
    """One of each of the tester's pages."""
    report = build(load(), [], run=RunInfo())
    return {
        "report": html_report(report),
        "certificate": certificate_html(certificate_data()),
        "proxy": status_page({"situation": "cancel", "phase": "act", "instructions": "x"}),
    }


@pytest.mark.parametrize("name", ["report", "certificate", "proxy"])
def test_each_tester_page_carries_the_stylesheet_inline(name: str) -> None:
    page = pages()[name]
    assert page.startswith("<!DOCTYPE html>\n")
    assert f"<style>\n{stylesheet()}\n</style>" in page
    assert '<body class="document">' in page
    assert 'rel="stylesheet"' not in page  # a file on disk stands alone


def test_the_certificate_escapes_what_the_app_and_bank_said() -> None:
    data = certificate_data()
    hostile = copy.deepcopy(data)
    hostile["client_name"] = "<script>alert(1)</script>"
    hostile["situations"][0]["requests"][0]["path"] = "/cb?<img src=x>"
    page = certificate_html(hostile)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page and "&lt;img src=x&gt;" in page
    assert f'<p class="banner bad">{data["verdict"]}</p>' in certificate_html(data)


def test_the_proxy_page_escapes_the_instructions() -> None:
    page = status_page(
        {"situation": 's"x', "index": 1, "total": 2, "title": "t", "instructions": "<b>i</b>"}
    )
    assert "&lt;b&gt;i&lt;/b&gt;" in page and "<b>i</b>" not in page
    assert 'value="s&#34;x"' in page
    assert '<meta http-equiv="refresh" content="2">' in page
    finished = status_page({"finished": True, "verdict": "passed"})
    assert "renkei certify: finished" in finished and "<form" not in finished


def test_no_html_is_typed_in_python() -> None:
    """Every page comes from a template; Python hands the templates data."""
    found = []
    for top in ("renkei", "simulator", "harness"):
        for path in sorted((ROOT / top).rglob("*.py")):
            text = path.read_text("utf-8").replace(STAND_IN, "")
            found += [
                f"{path.relative_to(ROOT)}:{n}"
                for n, line in enumerate(text.splitlines(), 1)
                if HTML_IN_PYTHON.search(line)
            ]
    assert found == []
