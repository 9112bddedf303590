"""The browser run: a real Chromium, driven by Playwright, through the
screens as a customer sees them on a phone.

Journeys: the happy path ① to ⑥, the empty-field dialog on ①, the identity
error on ②, B84 after a lockout, 「中止する」 on ③ and the wrong-PIN dialog on
⑤. The エラー dialogs are checked as the manual's figures show them: modal over
the screen (``dialog:modal``, the form behind out of reach), closed by 「OK」.
A screenshot of every screen is kept (named by screen ID) for the conformance
report. Debian's
``chromium`` is used (``/usr/bin/chromium``), since Playwright cannot download
its own browser here; ``fonts-ipafont-gothic`` makes the Japanese legible.

Every journey runs even when one before it failed; a failed journey keeps its
error (and a screenshot of the page it failed on, ``failed-<journey>.png``), so
that ``renkei conform --browser`` can report it beside the requirements it shows.
"""

from __future__ import annotations

import contextlib
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, Route, ViewportSize, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from harness.driver import PartnerApp, Phone, Sandbox, query
from harness.embedded import Target
from harness.personas import Persona

CHROMIUM = "/usr/bin/chromium"
#: A phone: the manual's figures are smartphone screens.
VIEWPORT: ViewportSize = {"width": 390, "height": 844}
WEEKDAY = "2026-11-24T10:15:00+09:00"
# Chromium here must not reach out to the network on its own (see env docs).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: R-ERR-HOST-2, verbatim (INTERFACE.md §3).
IDENTITY_MISMATCH = "本人認証情報が誤っています。 本人認証項目をご確認のうえ、再度入力して下さい。"
#: Each journey and the requirements of REQUIREMENTS.md it shows, in the order they run.
JOURNEYS: dict[str, tuple[str, ...]] = {
    "happy path": ("R-FLOW-1", "R-FLOW-2", "R-FLOW-3", "R-FLOW-4", "R-FLOW-5", "R-FLOW-6"),
    "empty-field dialog": ("R-ERR-INPUT-1",),
    "identity error": ("R-ERR-HOST-2",),
    "B84": ("R-ERR-HOST-3", "R-ERR-HOST-4"),
    "cancel": ("R-FLOW-7",),
    "wrong PIN dialog": ("R-FLOW-5", "R-ERR-HOST-2"),
}
#: The エラー dialog, as the manual's figures show it (画面① 2/2, 画面② 2/4, 画面⑤).
DIALOG_TITLE = "エラー"
REQUIRED_DIALOG = "入力されていない項目があります。"
MODAL = "dialog:modal"


@dataclass
class Journey:
    """What one journey saw: screenshots (name → file), the checks that held and,
    if it failed, why (one line) with the traceback."""

    name: str
    #: The requirements of REQUIREMENTS.md that the journey shows.
    requirements: tuple[str, ...] = ()
    shots: dict[str, Path] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    error: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        return not self.error

    def fail(self, error: BaseException) -> None:
        lines = str(error).strip().splitlines()
        self.error = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        self.detail = "".join(traceback.format_exception(error))


@dataclass
class BrowserRun:
    target: Target
    out: Path
    personas: dict[str, Persona]
    browser: Browser

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.sandbox = Sandbox(self.target.url, self.target.admin_token)

    @contextmanager
    def page(self, journey: Journey, script: bool = True) -> Iterator[Page]:
        context = self.browser.new_context(
            viewport=VIEWPORT, locale="ja-JP", java_script_enabled=script
        )
        page = context.new_page()

        # The partner app's callback: answered here, as the app would.
        def app(route: Route) -> None:
            route.fulfill(
                status=200,
                content_type="text/html; charset=utf-8",
                body="<html><body><h1>連携元アプリ</h1></body></html>",
            )

        page.route(re.compile(r"http://127\.0\.0\.1:876[0-9]/.*"), app)
        try:
            yield page
        except Exception:
            # The page as it was when the journey failed, for whoever reads the report.
            slug = re.sub(r"[^0-9A-Za-z]+", "-", journey.name).strip("-")
            with contextlib.suppress(Exception):
                self.shot(page, journey, f"failed-{slug}")
            raise
        finally:
            context.close()

    def shot(self, page: Page, journey: Journey, name: str, modal: bool = False) -> None:
        """The whole page; with a modal dialog open, the screen as the page opened,
        since the dialog and its backdrop cover the phone's screen, not the page."""
        path = self.out / f"{name}.png"
        if modal:
            page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=not modal)
        journey.shots[name] = path

    def expect(self, journey: Journey, ok: bool, what: str) -> None:
        if not ok:
            raise AssertionError(f"{journey.name}: {what}")
        journey.checks.append(what)

    def screen_id(self, page: Page) -> str | None:
        meta = page.locator('meta[name="screen-id"]')
        return meta.get_attribute("content") if meta.count() else None

    def begin(self, page: Page, persona: Persona) -> PartnerApp:
        app = PartnerApp(self.target.url)
        page.goto(app.authorize_url())
        return app

    def fill_account(self, page: Page, p: Persona) -> None:
        page.fill("#branch_no", p.branch_no)
        page.select_option("#account_type", p.account_type)
        page.fill("#account_no", p.account_no)
        page.click('[data-action="next"]')

    def fill_details(self, page: Page, p: Persona, **changes: str) -> None:
        form = p.details(**changes)
        page.fill("#name_kana", form["name_kana"])
        page.fill("#birth_year", form["birth_year"])
        page.select_option("#birth_month", form["birth_month"])
        page.select_option("#birth_day", form["birth_day"])
        page.fill("#phone", form["phone"])
        page.fill("#email", form["email"])
        page.fill("#email_confirm", form["email_confirm"])
        page.click('[data-action="next"]')

    # -- the journeys -----------------------------------------------------------------------

    def happy_path(self, j: Journey) -> None:
        """R-FLOW-1..6: every screen, then the app's callback with a code."""
        p = self.personas["manual"]
        with self.page(j) as page:
            app = self.begin(page, p)
            self.expect(j, self.screen_id(page) == "SOA201", "① SOA201 shown")
            self.expect(j, "画面ID : SOA201" in page.inner_text("footer"), "footer 画面ID")
            self.expect(
                j,
                page.is_visible("text=免責事項") and page.is_visible("text=注意事項"),
                "免責事項 and 注意事項 on ①",
            )
            self.shot(page, j, "SOA201")
            self.fill_account(page, p)
            self.expect(j, self.screen_id(page) == "SOA202", "② SOA202 shown")
            self.expect(
                j, "店番 115 普通預金 1100026" in page.inner_text(".account"), "the account on ②"
            )
            self.shot(page, j, "SOA202")
            self.fill_details(page, p)
            self.expect(j, self.screen_id(page) == "SOA208", "③ SOA208 shown")
            self.expect(
                j, page.inner_text("[data-masked-phone]") == "*******3333", "masked phone on ③"
            )
            self.shot(page, j, "SOA208")
            page.click('[data-action="decide"]')
            self.expect(j, self.screen_id(page) == "SOA209", "④ SOA209 shown")
            to = page.inner_text("[data-call-to]")
            self.expect(
                j,
                page.get_attribute("[data-call-to]", "href") == f"tel:{to}",
                "認証先電話番号 as a tel: link",
            )
            self.shot(page, j, "SOA209")
            Phone.of(self.target, p.phone).call(to)
            page.click('[data-action="confirm"]')
            self.expect(j, self.screen_id(page) == "SOA211", "⑤ SOA211 shown")
            page.fill("#pin", p.pin)
            self.shot(page, j, "SOA211")
            page.click('[data-action="next"]')
            self.expect(j, self.screen_id(page) == "SOA206", "⑥ SOA206 shown")
            self.expect(j, "30日" in page.inner_text(".period"), "認可期間 30日 on ⑥")
            self.shot(page, j, "SOA206")
            page.check("#agree")
            page.click('[data-action="allow"]')
            page.wait_for_url(f"{app.redirect_uri}*")
            back = query(page.url)
            self.expect(
                j,
                bool(back.get("code")) and back.get("state") == app.state,
                f"back to the app with code and state ({page.url})",
            )

    def modal_dialog(self, j: Journey, page: Page, message: str, behind: str) -> None:
        """The エラー dialog with ``message`` is open as a modal: the one ``dialog:modal``,
        and the ``behind`` button of the form under it out of reach of a tap."""
        modal = page.locator(MODAL)
        # renkei.js opens it as the page finishes loading, which a click's navigation
        # may not have waited for.
        opened = self.comes_true(page, f"() => document.querySelectorAll('{MODAL}').length > 0")
        self.expect(j, opened and modal.count() == 1, f"the エラー dialog is modal ({MODAL})")
        text = modal.inner_text()
        self.expect(j, DIALOG_TITLE in text and message in text, f"「{DIALOG_TITLE}」「{message}」")
        # What a tap on the button's centre reaches: the dialog (or its backdrop),
        # not the button, since the page behind a modal dialog is inert.
        reached = page.locator(behind).evaluate(
            """button => {
                button.scrollIntoView({block: "center"});
                const box = button.getBoundingClientRect();
                const hit = document.elementFromPoint(
                    box.left + box.width / 2, box.top + box.height / 2);
                return hit !== null && !button.contains(hit) && hit.closest('dialog') !== null;
            }"""
        )
        self.expect(j, reached is True, f"{behind} behind the dialog cannot be tapped")

    def comes_true(self, page: Page, condition: str, argument: object = None) -> bool:
        """Whether the script ``condition`` holds, now or once the page has run what a
        click set off (the dialog's close event is a task of its own, after the click)."""
        try:
            page.wait_for_function(condition, arg=argument)
        except PlaywrightTimeoutError:
            return False
        return True

    def close_dialog(self, j: Journey, page: Page, focus: str) -> None:
        """「OK」 closes the dialog; the focus goes to ``focus``."""
        page.click(f"{MODAL} [data-dismiss]")
        closed = self.comes_true(page, "() => !document.querySelector('dialog[open]')")
        self.expect(j, closed, "OK closes the dialog")
        focused = self.comes_true(
            page, "id => document.activeElement && document.activeElement.id === id", focus
        )
        self.expect(j, focused, f"the focus on #{focus} after OK")

    def empty_fields(self, j: Journey) -> None:
        """R-ERR-INPUT-1: the modal dialog and 「必ず入力して下さい。」 under each empty
        field; without script, the same dialog stands open in the page."""
        with self.page(j) as page:
            self.begin(page, self.personas["manual"])
            page.click('[data-action="next"]')
            self.modal_dialog(j, page, REQUIRED_DIALOG, '[data-action="next"]')
            self.expect(
                j,
                page.locator(".field-error", has_text="必ず入力して下さい。").count() == 2,
                "必ず入力して下さい。 under 店番 and 口座番号",
            )
            self.shot(page, j, "SOA201-required", modal=True)
            self.close_dialog(j, page, "branch_no")
        with self.page(j, script=False) as page:
            self.begin(page, self.personas["manual"])
            page.click('[data-action="next"]')
            shown = page.locator("dialog[open]")
            self.expect(
                j,
                shown.count() == 1
                and shown.is_visible()
                and REQUIRED_DIALOG in shown.inner_text()
                and page.locator(MODAL).count() == 0,
                "without script the dialog stands open in the page",
            )

    def identity_error(self, j: Journey) -> None:
        """R-ERR-HOST-2 on ②."""
        p = self.personas["identity"]
        try:
            with self.page(j) as page:
                self.begin(page, p)
                self.fill_account(page, p)
                self.fill_details(page, p, birth_day="28" if p.birth[2] != "28" else "27")
                text = page.inner_text('[data-error-code="identity_mismatch"]')
                self.expect(j, text == IDENTITY_MISMATCH, "the identity message, verbatim")
                self.shot(page, j, "SOA202-identity_mismatch")
        finally:
            # The failure counts toward the lockout of the day (R-ERR-HOST-3).
            self.sandbox.unlock(p.account_id)

    def b84(self, j: Journey) -> None:
        """R-ERR-HOST-3/4: five failures lock; the next attempt answers B84."""
        p = self.personas["lockout"]
        try:
            with self.page(j) as page:
                self.begin(page, p)
                self.fill_account(page, p)
                for _ in range(5):
                    self.fill_details(page, p, phone="09000000000")
                self.expect(j, page.is_visible('[data-error-code="locked_now"]'), "locked_now")
                self.shot(page, j, "locked_now")
                self.begin(page, p)
                self.fill_account(page, p)
                self.fill_details(page, p)
                text = page.inner_text('[data-error-code="B84"]')
                self.expect(j, text.endswith("理由コードはB84です。"), "B84 with its reason code")
                self.shot(page, j, "B84")
        finally:
            self.sandbox.unlock(p.account_id)

    def cancel(self, j: Journey) -> None:
        """R-FLOW-7: 「中止する」 on ③, then 「連携元画面へ」 with access_denied."""
        p = self.personas["manual"]
        with self.page(j) as page:
            app = self.begin(page, p)
            self.fill_account(page, p)
            self.fill_details(page, p)
            page.click('[data-action="cancel"]')
            self.expect(
                j,
                page.inner_text("[data-message]") == "API連携認証を中止しました。",
                "「API連携認証を中止しました。」",
            )
            self.shot(page, j, "cancelled")
            page.click('[data-action="return"]')
            page.wait_for_url(f"{app.redirect_uri}*")
            self.expect(
                j,
                page.url.startswith(app.redirect_uri) and "error=access_denied" in page.url,
                "back to the app with access_denied",
            )

    def wrong_pin(self, j: Journey) -> None:
        """R-FLOW-5, R-ERR-HOST-2 on ⑤: a wrong PIN shows the identity message on the
        screen and, over it, the エラー dialog with the same text and 「OK」."""
        p = self.personas["lockout-pin"]
        try:
            with self.page(j) as page:
                self.begin(page, p)
                self.fill_account(page, p)
                self.fill_details(page, p)
                page.click('[data-action="decide"]')
                to = page.inner_text("[data-call-to]")
                Phone.of(self.target, p.phone).call(to)
                page.click('[data-action="confirm"]')
                self.expect(j, self.screen_id(page) == "SOA211", "⑤ SOA211 shown")
                page.fill("#pin", "0000" if p.pin != "0000" else "9999")
                page.click('[data-action="next"]')
                self.expect(j, self.screen_id(page) == "SOA211", "still ⑤ after a wrong PIN")
                text = page.inner_text('[data-error-code="identity_mismatch"]')
                self.expect(j, text == IDENTITY_MISMATCH, "the identity message on the screen")
                self.modal_dialog(j, page, IDENTITY_MISMATCH, '[data-action="next"]')
                self.shot(page, j, "SOA211-identity_mismatch", modal=True)
                self.close_dialog(j, page, "pin")
                self.expect(
                    j,
                    page.inner_text('[data-error-code="identity_mismatch"]') == IDENTITY_MISMATCH,
                    "the message stays on the screen after OK",
                )
        finally:
            # The failure counts toward the lockout of the day (R-ERR-HOST-3).
            self.sandbox.unlock(p.account_id)

    def all(self) -> list[Journey]:
        """Every journey of :data:`JOURNEYS`, each whether or not the one before it passed."""
        self.sandbox.faults()
        self.sandbox.set_clock(WEEKDAY)
        runs: dict[str, Callable[[Journey], None]] = {
            "happy path": self.happy_path,
            "empty-field dialog": self.empty_fields,
            "identity error": self.identity_error,
            "B84": self.b84,
            "cancel": self.cancel,
            "wrong PIN dialog": self.wrong_pin,
        }
        journeys = []
        for name, requirements in JOURNEYS.items():
            journey = Journey(name, requirements)
            try:
                runs[name](journey)
            except Exception as error:  # a failed check, or Playwright timing out
                journey.fail(error)
            journeys.append(journey)
        self.sandbox.close()
        return journeys


def browser_run(target: Target, out: Path, personas: dict[str, Persona]) -> list[Journey]:
    """Run every journey in Chromium; screenshots go to ``out``. A journey that fails
    says so in its :class:`Journey`; Chromium failing to start raises."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            return BrowserRun(target, out, personas, browser).all()
        finally:
            browser.close()
