"""Steps of features/pages.feature (R-PLAT-1): the bank's own pages as a person sees them.

Everything here is read as HTML, the way a customer reads it on the phone: the
footer's links are found by their words (「API利用規定」「よくあるご質問」
「お問い合わせ先」), followed like a click, and a page is checked by its text,
not by the model behind it, so that the steps hold for any implementation.
What the pages must say comes from the feature (the manual's words) and from
the ``bank`` section of the ``--personas`` scenario file, where a bank writes
its name, its お問い合わせ先 and its own pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from pytest_bdd import given, parsers, then, when

from harness.driver import TIMEOUT, PartnerApp, url_in
from harness.embedded import Target
from harness.personas import scenario_data
from harness.steps.helpers import Visit
from renkei.contract.screens import CANCEL_PATH, CSRF_FIELD

#: The footer's links, in the manual's words (画面① 1/2: ア, イ, ウ).
FOOTER_LINKS = ("API利用規定", "よくあるご質問", "お問い合わせ先")
#: What a browser asks for.
HTML = {"Accept": "text/html"}
#: The words of the feature's table of the bank, and the scenario file's keys for them.
CONTACT_FIELDS = {
    "部署": "department",
    "電話番号": "phone",
    "受付時間": "hours",
    "Eメールアドレス": "email",
}
#: Text the page shows, not text of the page's machinery.
_UNSHOWN = ("head", "script", "style", "template")
#: Elements that start a line of their own: their words stay apart from the last's.
_BLOCK = re.compile(
    r"address|article|aside|blockquote|br|button|d[dlt]|details|dialog|div|fieldset|figure"
    r"|footer|form|h[1-6]|header|hr|label|li|main|nav|[ou]l|option|p|pre|section|select"
    r"|summary|table|t[dhr]"
)
#: Elements without an end tag.
_VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"))


def shown(text: str) -> str:
    """Text as it reads on the screen: every run of white space one space."""
    return " ".join(text.split())


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.body: list[str] = []
        self.footer: list[str] = []
        self.title: list[str] = []
        self.headings: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._heading: list[str] | None = None
        self._link: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if _BLOCK.fullmatch(tag):
            self.handle_data(" ")
        if tag in _VOID:
            return
        self.open.append(tag)
        if re.fullmatch(r"h[1-3]", tag):
            self._heading = []
        if tag == "a" and "footer" in self.open:
            self._link = (str(dict(attrs).get("href") or ""), [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link is not None:
            self.links.append((shown("".join(self._link[1])), self._link[0]))
            self._link = None
        if re.fullmatch(r"h[1-3]", tag) and self._heading is not None:
            self.headings.append(shown("".join(self._heading)))
            self._heading = None
        if tag in self.open:
            while self.open.pop() != tag:
                pass
        if _BLOCK.fullmatch(tag):
            self.handle_data(" ")

    def handle_data(self, data: str) -> None:
        if "title" in self.open:
            self.title.append(data)
            return
        if any(t in self.open for t in _UNSHOWN):
            return
        (self.footer if "footer" in self.open else self.body).append(data)
        if self._heading is not None:
            self._heading.append(data)
        if self._link is not None:
            self._link[1].append(data)


@dataclass
class Page:
    """One page of the bank as the customer's browser shows it."""

    url: str
    status: int
    #: What the page shows above its footer, white space made single spaces.
    text: str
    footer: str
    title: str
    headings: list[str] = field(default_factory=list)
    #: The footer's links: (their words, where they lead).
    links: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, r: requests.Response) -> Page:
        assert r.headers.get("Content-Type", "").startswith("text/html"), (
            f"{r.url} answered {r.status_code} {r.headers.get('Content-Type')}, not a page"
        )
        reader = _Reader()
        reader.feed(r.text)
        reader.close()
        return cls(
            r.url,
            r.status_code,
            shown("".join(reader.body)),
            shown("".join(reader.footer)),
            shown("".join(reader.title)),
            reader.headings,
            reader.links,
        )

    def link(self, words: str) -> str:
        """Where the footer's link ``words`` leads."""
        found = [href for text, href in self.links if text == words]
        assert found, f"the footer of {self.url} has no link 「{words}」: {self.links}"
        return found[0]


@dataclass(frozen=True)
class Bank:
    """What the bank's pages must show: the scenario's, else the feature's (the manual's)."""

    name: str
    contact: dict[str, str]
    terms_url: str | None = None
    terms_text: str | None = None
    faq_url: str | None = None


def _scenario_bank(path: Path) -> dict[str, Any]:
    """The ``bank`` section of the personas file, read as data (the harness imports
    nothing of the bank's); absent, nothing."""
    data = scenario_data(path)
    bank = data.get("bank") if isinstance(data, dict) else None
    return bank if isinstance(bank, dict) else {}


def _get(session: requests.Session, url: str) -> requests.Response:
    """A click on a link of the target: a redirect inside the target is followed,
    one to elsewhere (the bank's own website) is not."""
    r = session.get(url, headers=HTML, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code not in (301, 302, 303, 307, 308), (
        f"{url} sends the browser to {r.headers.get('Location')}, not a page of the target"
    )
    return r


@given(
    "銀行の名前とお問い合わせ先は、シナリオに書かれていなければマニュアルのとおりである:",
    target_fixture="bank",
)
def bank_given(request: pytest.FixtureRequest, datatable: list[list[str]]) -> Bank:
    manual = {row[0]: row[1] for row in datatable[1:]}
    written = _scenario_bank(Path(request.config.getoption("--personas")))
    contact = written.get("contact") if isinstance(written.get("contact"), dict) else {}
    assert isinstance(contact, dict)
    if written.get("contact_phone") and "phone" not in contact:
        contact = {**contact, "phone": written["contact_phone"]}
    values = {words: str(contact.get(key, manual[words])) for words, key in CONTACT_FIELDS.items()}
    return Bank(
        name=str(written.get("name", manual["銀行"])),
        contact=values,
        terms_url=written.get("terms_url"),
        terms_text=written.get("terms_text"),
        faq_url=written.get("faq_url"),
    )


@when("この画面をブラウザで見る", target_fixture="page")
def see_screen(visit: Visit) -> Page:
    return Page.of(_get(visit.browser.session, url_in(visit.browser.base, visit.current_path())))


@when("ブラウザで「中止する」を押す", target_fixture="page")
def cancel_in_browser(visit: Visit) -> Page:
    """The form's button as a browser posts it, answered in HTML (a 303 inside the
    target followed)."""
    session = visit.browser.session
    r = session.post(
        url_in(visit.browser.base, CANCEL_PATH),
        data={CSRF_FIELD: visit.browser.csrf},
        headers=HTML,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    location = r.headers.get("Location", "")
    if r.status_code == 303 and location.startswith("/"):
        r = _get(session, url_in(visit.browser.base, location))
    return Page.of(r)


@when("登録されていない連携元アプリからブラウザで認可要求が来る", target_fixture="page")
def unknown_app(target: Target) -> Page:
    """RFC 6749 §4.1.2.1: an unknown client is an error page, never a redirect."""
    app = PartnerApp(target.url, client_id="no-such-app", client_secret="none")
    with requests.Session() as session:
        try:
            return Page.of(_get(session, app.authorize_url()))
        finally:
            app.close()


def _follow(visit: Visit, page: Page, words: str) -> Page:
    """A click on the footer's link ``words``, which must stay on the target."""
    href = page.link(words)
    here = urlsplit(url_in(visit.browser.base, "/"))
    there = urlsplit(url_in(visit.browser.base, href))
    assert there.netloc == here.netloc, (
        f"「{words}」 leads to {href}, the bank's own website: its page cannot be checked here"
    )
    return Page.of(_get(visit.browser.session, there.geturl()))


@when(parsers.parse("フッターの「{words}」を開く"), target_fixture="page")
def open_footer_link(visit: Visit, page: Page, words: str) -> Page:
    return _follow(visit, page, words)


@then("このページには銀行の名前があり、フッターに銀行のページへのリンクと電話番号がある")
def footer_links(page: Page, bank: Bank) -> None:
    assert bank.name in page.text or bank.name in page.title or bank.name in page.footer, (
        f"{page.url} does not name {bank.name}"
    )
    for words in FOOTER_LINKS:
        assert page.link(words), f"「{words}」 in the footer of {page.url} leads nowhere"
    if bank.terms_url:
        assert page.link("API利用規定") == bank.terms_url, page.links
    if bank.faq_url:
        assert page.link("よくあるご質問") == bank.faq_url, page.links
    phone = bank.contact["電話番号"]
    assert phone in page.footer, f"the footer of {page.url} does not show {phone}: {page.footer}"
    dialled = "tel:" + phone.replace("-", "")
    assert dialled in [href for _, href in page.links], f"no {dialled} link: {page.links}"


@then(parsers.parse("ページの見出しは「{title}」である"))
def page_title(page: Page, title: str) -> None:
    assert page.status == 200, (page.url, page.status)
    assert title in page.headings, f"{page.url}: headings {page.headings}"


@then(parsers.parse("ページに「{text}」と表示されている"))
def page_says(page: Page, text: str) -> None:
    assert shown(text) in page.text, f"{page.url} does not show 「{text}」: {page.text[:300]}"


@then("ページの各見出しの下に、次の文がこの順に載っている:")
def in_order(page: Page, datatable: list[list[str]]) -> None:
    """Each sentence after the one before it and under its own heading, which comes
    after the heading before it: the manual's order, section by section."""
    at, heading = 0, None
    for row_heading, sentence in datatable[1:]:
        if row_heading != heading:
            found = page.text.find(shown(row_heading), at)
            assert found >= 0, f"no heading 「{row_heading}」 after 「{heading}」 on {page.url}"
            heading, at = row_heading, found + len(shown(row_heading))
        found = page.text.find(shown(sentence), at)
        assert found >= 0, f"「{sentence}」 is not under 「{heading}」 in its place on {page.url}"
        at = found + len(shown(sentence))


@then("ページに銀行の名前と、お問い合わせ先の部署・電話番号・受付時間・メールアドレスが載っている")
def contact_shown(page: Page, bank: Bank) -> None:
    assert page.status == 200, (page.url, page.status)
    for words, value in {"銀行": bank.name, **bank.contact}.items():
        assert shown(value) in page.text, f"{words} 「{value}」 is not on {page.url}: {page.text}"


@then("フッターの「API利用規定」は銀行の API利用規定を開く")
def terms_open(visit: Visit, page: Page, bank: Bank) -> None:
    """The bank's own page on its website (the scenario's ``terms_url``), linked as
    it is; else the target's page, with the scenario's ``terms_text`` if it has one."""
    if bank.terms_url:
        assert page.link("API利用規定") == bank.terms_url, page.links
        return
    terms = _follow(visit, page, "API利用規定")
    page_title(terms, "API利用規定")
    for paragraph in re.split(r"\n\s*\n", bank.terms_text or ""):
        for line in paragraph.splitlines():
            assert shown(line) in terms.text, f"「{line.strip()}」 is not on {terms.url}"
