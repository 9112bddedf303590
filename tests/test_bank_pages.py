"""The bank's own pages, which every screen's footer links (R-PLAT-1), and the
scenario's bank data they are made from.

``bank.contact`` (お問い合わせ先), ``terms_url`` / ``terms_text`` (API利用規定)
and ``faq_url`` (よくあるご質問) are checked like every other field, naming the
field; left out, they keep the manual's values for 中ノ郷信用組合. The pages are
served in HTML and JSON; the よくあるご質問 hold the manual's questions and
answers in full (compared with the manual itself when it is beside the
checkout); the footer of a screen, of the 中止 page and of an error page links
all three and shows the bank's name and phone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import yaml
from flask.testing import FlaskClient

from harness.steps.pages import Page, in_order
from renkei.contract.controls import CLOCK_PATH
from renkei.contract.docs import CONTACT, FAQ, PAGES, TERMS, page_path
from renkei.contract.oauth import AUTHORIZE_PATH
from renkei.contract.screens import CANCEL_PATH, CSRF_FIELD, SCREENS, Screen
from simulator.core.bank import BankRules, Contact
from simulator.core.bank_pages import FAQ_SECTIONS, TERMS_TEXT
from simulator.scenario import Scenario, ScenarioError, parse_scenario
from simulator.scenario_check import check_scenario
from simulator.web.app import TRY_CHALLENGE, create_app
from simulator.web.server import build
from simulator.web.service import ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenarios" / "default.yaml"
MANUAL = ROOT.parent / "shared" / "seed" / "000_3291a03ddaccfb0b.txt"
SOURCE = "scenarios/x.yaml"
ADMIN = "pages-admin-token"
JSON = {"Accept": "application/json"}
#: A Tuesday morning, open by every rule of R-HOURS.
WEEKDAY = "2026-11-24T10:15:00+09:00"


def default_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT.read_text("utf-8"))
    return data


def with_bank(**bank: Any) -> dict[str, Any]:
    """The default scenario with its ``bank`` section replaced by ``bank``."""
    data = default_data()
    data["bank"] = bank
    return data


def rules_of(data: dict[str, Any]) -> BankRules:
    return parse_scenario(data, SOURCE).rules


# -- the bank data ----------------------------------------------------------------------------


def test_left_out_the_pages_and_the_contact_are_the_manuals() -> None:
    rules = rules_of(with_bank(name="中ノ郷信用組合"))
    assert rules.contact == Contact()
    assert rules.contact == Contact(
        department="事務部",
        phone="03-3622-7131",
        main_line=True,
        hours="平日の午前9時～17時",
        email="nakanogou-jimuka@mbe.nifty.com",
    )
    assert rules.contact_phone == "03-3622-7131"
    assert (rules.terms_url, rules.faq_url) == (page_path(TERMS), page_path(FAQ))
    assert rules.terms_text == TERMS_TEXT


def test_the_default_scenario_writes_the_manuals_contact_out() -> None:
    written = default_data()["bank"]["contact"]
    assert written == {
        "department": "事務部",
        "phone": "03-3622-7131",
        "main_line": True,
        "hours": "平日の午前9時～17時",
        "email": "nakanogou-jimuka@mbe.nifty.com",
    }
    assert rules_of(default_data()).contact == Contact()


def test_a_contact_field_left_out_keeps_the_manuals() -> None:
    rules = rules_of(with_bank(contact={"department": "業務部", "main_line": False}))
    assert rules.contact == Contact(department="業務部", main_line=False)


def test_the_older_contact_phone_still_sets_the_phone() -> None:
    assert rules_of(with_bank(contact_phone="0336221111")).contact == Contact(phone="0336221111")
    both = with_bank(contact_phone="0336221111", contact={"hours": "平日"})
    assert rules_of(both).contact == Contact(phone="0336221111", hours="平日")


def test_the_banks_own_pages_and_terms_text() -> None:
    rules = rules_of(
        with_bank(
            terms_url="https://www.example.jp/api/kitei.html", faq_url="http://example.jp/faq"
        )
    )
    assert (rules.terms_url, rules.faq_url) == (
        "https://www.example.jp/api/kitei.html",
        "http://example.jp/faq",
    )
    text = "第1条 この規定は…\n第2条 …\n\n  附則  \n\n\n"
    assert rules_of(with_bank(terms_text=text)).terms_text == ("第1条 この規定は…\n第2条 …", "附則")


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("contact a list", {"contact": ["事務部"]}, "bank.contact: must be a mapping"),
    ("misspelt", {"contact": {"phon": "0336227131"}}, "bank.contact.phon: unknown key"),
    ("short phone", {"contact": {"phone": "03-3622"}}, "bank.contact.phone: must be a phone"),
    ("9 digits", {"contact": {"phone": "03-362-2713"}}, "bank.contact.phone: must be a phone"),
    ("unquoted", {"contact": {"phone": 336227131}}, "bank.contact.phone: must be a phone"),
    ("e-mail", {"contact": {"email": "jimuka"}}, "bank.contact.email: must be an e-mail"),
    ("hours", {"contact": {"hours": "平日\n9時"}}, "bank.contact.hours: must be one line"),
    ("department", {"contact": {"department": " "}}, "bank.contact.department: must be non-empty"),
    ("main line", {"contact": {"main_line": "yes"}}, "bank.contact.main_line: must be true or"),
    (
        "phone twice",
        {"contact_phone": "0336227131", "contact": {"phone": "0336227131"}},
        "bank.contact_phone: give the phone once",
    ),
    ("relative", {"terms_url": "/kitei.html"}, "bank.terms_url: must be an absolute http(s) URL"),
    ("script", {"faq_url": "javascript:alert(1)"}, "bank.faq_url: must be an absolute http(s)"),
    ("no host", {"faq_url": "https:///faq"}, "bank.faq_url: must be an absolute http(s) URL"),
    ("space", {"faq_url": "https://x.jp/よくある 質問"}, "bank.faq_url: must be an absolute"),
    (
        "text and URL",
        {"terms_url": "https://x.jp/kitei", "terms_text": "第1条"},
        "bank.terms_text: give terms_url (the bank's page) or terms_text",
    ),
    ("text a list", {"terms_text": ["第1条"]}, "bank.terms_text: must be text"),
]


@pytest.mark.parametrize(("bank", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_bank_data_is_refused_naming_the_field(bank: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(with_bank(**bank), SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: {expected}"), str(caught.value)


def test_a_misspelt_contact_key_gets_a_suggestion() -> None:
    with pytest.raises(ScenarioError, match="did you mean 'phone'"):
        parse_scenario(with_bank(contact={"phon": "0336227131"}), SOURCE)


def test_scenario_check_lists_the_contact_and_the_pages(tmp_path: Path) -> None:
    out = io.StringIO()
    check_scenario(argparse.Namespace(file=str(DEFAULT), today=dt.date(2026, 11, 24)), out)
    table = out.getvalue()
    for row in (
        "contact department   事務部",
        "contact phone        03-3622-7131（代）",
        "contact hours        平日の午前9時～17時",
        "contact e-mail       nakanogou-jimuka@mbe.nifty.com",
        f"{page_path(TERMS)} (renkei's page, 2 paragraphs)",
        f"{page_path(FAQ)} (renkei's page, the manual's 12 questions)",
    ):
        assert row in table
    own = with_bank(terms_url="https://x.jp/kitei", contact={"main_line": False})
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(own, allow_unicode=True), "utf-8")
    out = io.StringIO()
    check_scenario(argparse.Namespace(file=str(path), today=dt.date(2026, 11, 24)), out)
    assert re.search(r"API利用規定 +https://x\.jp/kitei\n", out.getvalue())
    assert re.search(r"contact phone +03-3622-7131\n", out.getvalue())


# -- the manual itself --------------------------------------------------------------------


def manual_faq_lines() -> list[str]:
    """The manual's よくあるご質問, one line each, without the Markdown of its conversion
    (``##``, list dashes, the hard breaks' trailing spaces) nor the 「(Q 1)」「☞」 marks."""
    text = MANUAL.read_text("utf-8")
    start = text.index("## 1. 認証前")
    block = text[start : text.index("## 11.", start)]
    lines = []
    for raw in block.splitlines():
        line = re.sub(r"^(#+ |\s*- )", "", raw.rstrip()).strip()
        line = re.sub(r"^(\(Q ?\d\) |☞ )", "", line)
        if line:
            lines.append(line)
    return lines


def faq_lines() -> list[str]:
    """The catalogue's よくあるご質問 in the same form: headings, questions and answers in order."""
    lines = []
    for section in FAQ_SECTIONS:
        lines.append(section.heading)
        for q in section.questions:
            lines.extend(q.question)
            lines.extend(q.answer)
    return lines


def test_the_faq_is_the_manuals_verbatim_and_in_full() -> None:
    if not MANUAL.exists():
        pytest.skip("shared/seed (the manual) is not beside this checkout")
    assert faq_lines() == manual_faq_lines()


def test_the_contact_is_the_manuals() -> None:
    """The page's lines are the manual's お問い合わせ先, character for character."""
    if not MANUAL.exists():
        pytest.skip("shared/seed (the manual) is not beside this checkout")
    text = MANUAL.read_text("utf-8")
    section = text[text.index("## お問い合わせ先") :].splitlines()[1:]
    manual = [re.sub(r"\[([^]]+)\]\(mailto:[^)]+\)", r"\1", line) for line in section if line]
    c = Contact()
    assert manual == [
        f"中ノ郷信用組合 {c.department}",
        f"電話番号：{c.phone}（代）",
        f"※. {c.hours}の対応となります。",
        f"Eメールアドレス：{c.email}",
    ]


# -- the pages ----------------------------------------------------------------------------


class Text(HTMLParser):
    """A page as a person reads it: the text of ``<main>`` line by line, and each link
    of the footer with its words."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.footer: list[tuple[str, str]] = []
        self.footer_text = ""
        self._where: list[str] = []
        self._link: list[str] | None = None
        self._line = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("main", "footer"):
            self._where.append(tag)
        if tag in ("br", "p", "dt", "dd", "h1", "h2", "li"):
            self._flush()
        if tag == "a" and "footer" in self._where:
            self._link = [str(dict(attrs).get("href") or ""), ""]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "dt", "dd", "h1", "h2", "li", "main"):
            self._flush()
        if tag == "a" and self._link is not None:
            self.footer.append((self._link[1].strip(), self._link[0]))
            self._link = None
        if tag in ("main", "footer") and self._where:
            self._where.pop()

    def handle_data(self, data: str) -> None:
        if "main" in self._where:
            self._line += data
        if "footer" in self._where:
            self.footer_text += data
            if self._link is not None:
                self._link[1] += data

    def _flush(self) -> None:
        if self._line.strip():
            self.lines.append(" ".join(self._line.split()))
        self._line = ""


def serve(tmp_path: Path, scenario: Scenario) -> FlaskClient:
    config = ServiceConfig(
        database_url=f"sqlite:///{tmp_path / 'bank.db'}",
        admin_token=ADMIN,
        pin_key=b"p" * 32,
        secret_key=b"s" * 32,
    )
    service, _ = build(config, scenario, embedded_mail=False)
    client = create_app(service).test_client()
    answer = client.put(
        CLOCK_PATH,
        json={"now": WEEKDAY, "frozen": True},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    scenario = parse_scenario(default_data(), str(DEFAULT))
    return serve(tmp_path_factory.mktemp("pages"), scenario)


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    """Another bank: its own name and contact, its API利用規定 and よくあるご質問 on its website."""
    data = with_bank(
        name="押上信用組合",
        contact={
            "department": "業務推進部",
            "phone": "03-1111-2222",
            "main_line": False,
            "hours": "平日の午前9時～午後5時",
            "email": "info@oshiage.example.jp",
        },
        terms_url="https://www.oshiage.example.jp/api/kitei.html",
        faq_url="https://www.oshiage.example.jp/api/faq.html",
    )
    return serve(tmp_path_factory.mktemp("own"), parse_scenario(data, SOURCE))


def html(client: FlaskClient, path: str, status: int = 200) -> Text:
    answer = client.get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "text/html"
    return Text(answer.get_data(as_text=True))


def test_the_faq_page_holds_every_question_and_answer(client: FlaskClient) -> None:
    page = html(client, page_path(FAQ))
    assert page.lines[0] == "よくあるご質問"
    expected = ["よくあるご質問"]
    for section in FAQ_SECTIONS:
        expected.append(section.heading)
        for number, q in enumerate(section.questions, start=1):
            expected.append(f"(Q{number}) {q.question[0]}")
            expected.extend(q.question[1:])
            expected.append(f"☞ {q.answer[0]}")
            expected.extend(q.answer[1:])
    assert page.lines == expected


def test_the_faq_page_in_json_is_the_same_model(client: FlaskClient) -> None:
    answer = client.get(page_path(FAQ), headers=JSON)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    model = answer.get_json()
    assert model["title"] == "よくあるご質問" and model["screen_id"] is None
    assert [s["heading"] for s in model["sections"]] == [
        "1. 認証前",
        "2. 認証完了後",
        "3. サービスについて",
        "4. その他",
    ]
    assert [len(s["questions"]) for s in model["sections"]] == [1, 5, 4, 2]
    first = model["sections"][1]["questions"][0]
    assert first == {
        "number": 1,
        "question": list(FAQ_SECTIONS[1].questions[0].question),
        "answer": [
            "ロックされるのはA P I 連携認証だけです。",
            "その他のお取引には制限はかかりません。",
        ],
    }


def test_the_contact_page_shows_the_manuals_contact(client: FlaskClient) -> None:
    page = html(client, page_path(CONTACT))
    assert page.lines == [
        "お問い合わせ先",
        "中ノ郷信用組合 事務部",
        "電話番号：03-3622-7131（代）",
        "※. 平日の午前9時～17時の対応となります。",
        "Eメールアドレス：nakanogou-jimuka@mbe.nifty.com",
    ]
    body = client.get(page_path(CONTACT)).get_data(as_text=True)
    assert 'href="tel:0336227131"' in body
    assert 'href="mailto:nakanogou-jimuka@mbe.nifty.com"' in body
    model = client.get(page_path(CONTACT), headers=JSON).get_json()
    assert model["contact"] == {
        "bank_name": "中ノ郷信用組合",
        "department": "事務部",
        "phone": "03-3622-7131",
        "main_line": True,
        "hours": "平日の午前9時～17時",
        "email": "nakanogou-jimuka@mbe.nifty.com",
    }


def test_the_terms_page_shows_the_scenarios_text(
    client: FlaskClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert html(client, page_path(TERMS)).lines == ["API利用規定", *TERMS_TEXT]
    assert client.get(page_path(TERMS), headers=JSON).get_json()["paragraphs"] == list(TERMS_TEXT)
    data = with_bank(terms_text="第1条（目的）\nこの規定は…\n\n第2条（定義）")
    page = html(
        serve(tmp_path_factory.mktemp("terms"), parse_scenario(data, SOURCE)), page_path(TERMS)
    )
    assert page.lines == ["API利用規定", "第1条（目的）", "この規定は…", "第2条（定義）"]


def footer_of(page: Text) -> dict[str, str]:
    return dict(page.footer)


def test_every_page_links_the_three_pages_and_shows_the_bank(client: FlaskClient) -> None:
    for name in PAGES:
        page = html(client, page_path(name))
        assert footer_of(page) == {
            "API利用規定": page_path(TERMS),
            "よくあるご質問": page_path(FAQ),
            "お問い合わせ先": page_path(CONTACT),
            "03-3622-7131": "tel:0336227131",
        }
        assert "中ノ郷信用組合" in page.footer_text


def flow_client(client: FlaskClient) -> FlaskClient:
    """A browser of its own (its own flow cookie) at screen ①."""
    browser = FlaskClient(client.application, client.response_wrapper)
    query = {
        "response_type": "code",
        "client_id": "creco",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scope": "accounts transactions",
        "state": "pages",
        "code_challenge": TRY_CHALLENGE,
        "code_challenge_method": "S256",
    }
    started = browser.get(f"{AUTHORIZE_PATH}?{urlencode(query)}")
    assert started.status_code == 303, started.get_data(as_text=True)
    return browser


def test_the_screens_the_cancel_page_and_error_pages_link_them(client: FlaskClient) -> None:
    expected = {
        "API利用規定": page_path(TERMS),
        "よくあるご質問": page_path(FAQ),
        "お問い合わせ先": page_path(CONTACT),
        "03-3622-7131": "tel:0336227131",
    }
    browser = flow_client(client)
    account = SCREENS[Screen.ACCOUNT].path
    first = html(browser, account)
    assert footer_of(first) == expected
    assert "画面ID : SOA201" in first.footer_text and "中ノ郷信用組合" in first.footer_text
    csrf = browser.get(account, headers=JSON).get_json()[CSRF_FIELD]
    form = {CSRF_FIELD: csrf, "branch_no": "115", "account_type": "1", "account_no": "1100026"}
    assert browser.post(account, data=form).status_code == 303
    cancelled = browser.post(CANCEL_PATH, data={CSRF_FIELD: csrf})
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)
    ended = Text(cancelled.get_data(as_text=True))
    assert "API連携認証を中止しました。" in ended.lines
    assert footer_of(ended) == expected
    # an error page: a page that is not there, and an authorization request refused
    assert footer_of(html(client, page_path("nothing"), 404)) == expected
    refused = html(client, f"{AUTHORIZE_PATH}?client_id=nobody", 400)
    assert footer_of(refused) == expected
    model = client.get(page_path("nothing"), headers=JSON).get_json()
    assert model["contact_url"] == page_path(CONTACT)


def test_another_banks_pages_are_its_own(own: FlaskClient) -> None:
    page = html(own, page_path(CONTACT))
    assert page.lines == [
        "お問い合わせ先",
        "押上信用組合 業務推進部",
        "電話番号：03-1111-2222",
        "※. 平日の午前9時～午後5時の対応となります。",
        "Eメールアドレス：info@oshiage.example.jp",
    ]
    assert footer_of(page) == {
        "API利用規定": "https://www.oshiage.example.jp/api/kitei.html",
        "よくあるご質問": "https://www.oshiage.example.jp/api/faq.html",
        "お問い合わせ先": page_path(CONTACT),
        "03-1111-2222": "tel:0311112222",
    }
    assert "押上信用組合" in page.footer_text
    for name, url in ((TERMS, "kitei"), (FAQ, "faq")):
        answer = own.get(page_path(name))
        assert answer.status_code == 302
        assert answer.headers["Location"] == f"https://www.oshiage.example.jp/api/{url}.html"


def test_the_links_carry_a_sandboxs_base(client: FlaskClient) -> None:
    """Under /s/ID/ (INTERFACE.md §9) the footer's links stay in that sandbox."""
    answer = client.get(page_path(FAQ), environ_overrides={"SCRIPT_NAME": "/s/abc"})
    links = footer_of(Text(answer.get_data(as_text=True)))
    assert links["よくあるご質問"] == "/s/abc" + page_path(FAQ)
    assert links["お問い合わせ先"] == "/s/abc" + page_path(CONTACT)


# -- how the harness reads a page (harness/steps/pages.py) -------------------------------------


def response(html: str) -> requests.Response:
    r = requests.Response()
    r.status_code, r.url, r.encoding = 200, "http://bank.example/docs/faq", "utf-8"
    r.headers["Content-Type"] = "text/html; charset=utf-8"
    r._content = html.encode()
    return r


SAMPLE = """<html><head><title>よくあるご質問</title><style>p{}</style></head><body>
<header>押上信用組合</header><main><h1>よくあるご質問</h1>
<h2>1. 認証前</h2><dl><dt>(Q1) 電話番号が<strong>分からない</strong>。</dt>
<dd>☞ 店へ<br>どうぞ。</dd></dl>
<h2>2. 認証完了後</h2><p>メールが
  届かない。</p></main>
<footer><a href="/docs/faq">よくある<span>ご質問</span></a>
<a href="tel:0311112222">03-1111-2222</a></footer>
</body></html>"""


def test_the_harness_reads_a_page_as_a_person_does() -> None:
    page = Page.of(response(SAMPLE))
    assert page.title == "よくあるご質問"
    assert page.headings == ["よくあるご質問", "1. 認証前", "2. 認証完了後"]
    assert "電話番号が分からない。" in page.text  # inline markup does not split words
    assert "☞ 店へ どうぞ。" in page.text and "メールが 届かない。" in page.text
    assert "p{}" not in page.text and "03-1111-2222" not in page.text
    assert page.links == [("よくあるご質問", "/docs/faq"), ("03-1111-2222", "tel:0311112222")]
    assert page.link("よくあるご質問") == "/docs/faq"
    with pytest.raises(AssertionError, match="no link 「お問い合わせ先」"):
        page.link("お問い合わせ先")


def test_the_harness_checks_each_sentence_under_its_heading_in_order() -> None:
    page = Page.of(response(SAMPLE))
    header = ["見出し", "文"]
    in_order(page, [header, ["1. 認証前", "電話番号が分からない。"], ["1. 認証前", "店へ"]])
    in_order(page, [header, ["2. 認証完了後", "メールが 届かない。"]])
    with pytest.raises(AssertionError, match=re.escape("is not under 「2. 認証完了後」")):
        in_order(page, [header, ["2. 認証完了後", "電話番号が分からない。"]])
    with pytest.raises(AssertionError, match=re.escape("is not under 「1. 認証前」")):
        in_order(page, [header, ["1. 認証前", "店へ"], ["1. 認証前", "電話番号が分からない。"]])
    with pytest.raises(AssertionError, match=re.escape("no heading 「3. サービスについて」")):
        in_order(page, [header, ["3. サービスについて", "メール"]])
