"""The bank's own pages, which every screen's footer links (R-PLAT-1): API利用規定,
よくあるご質問 and お問い合わせ先, at the contract's paths (:mod:`renkei.contract.docs`).

Each is HTML for a browser and, to ``Accept: application/json``, the JSON of the
same model, as the screens are (INTERFACE.md §2). The よくあるご質問 are the
manual's, the API利用規定 renkei's or the scenario's text
(:mod:`simulator.core.bank_pages`); the お問い合わせ先 the scenario's bank's
(:class:`simulator.core.bank.Contact`). A bank whose scenario links its own
API利用規定 or よくあるご質問 on the web (``terms_url``, ``faq_url``) has the
footer link there, and renkei's path redirects there too, so that an old
bookmark still finds the bank's page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect
from werkzeug.wrappers import Response

from renkei.contract.docs import CONTACT, FAQ, TERMS, page_path
from simulator.core.bank_pages import FAQ_SECTIONS, TITLES
from simulator.web.responses import page
from simulator.web.screen_model import footer
from simulator.web.service import Service

pages = Blueprint("pages", __name__)


def _service() -> Service:
    the_service: Service = current_app.extensions["renkei.service"]
    return the_service


def _model(service: Service, name: str, **shown: Any) -> dict[str, Any]:
    """A page's model: no 画面ID (the manual prints none on these), its title, the footer."""
    return {
        "screen_id": None,
        "page": name,
        "title": TITLES[name],
        "csrf_token": None,
        "errors": [],
        "return_url": None,
        **footer(service),
        **shown,
    }


def _elsewhere(url: str, name: str) -> bool:
    """Whether the bank's page ``name`` is on its own website rather than renkei's."""
    return url != page_path(name)


@pages.get(page_path(TERMS))
def terms() -> Response:
    """API利用規定: the scenario's text, renkei's by default, or the bank's page."""
    service = _service()
    rules = service.rules
    if _elsewhere(rules.terms_url, TERMS):
        return redirect(rules.terms_url, 302)
    return page("terms.html", _model(service, TERMS, paragraphs=list(rules.terms_text)))


@pages.get(page_path(FAQ))
def faq() -> Response:
    """よくあるご質問: the manual's four sections, every question and answer, in full."""
    service = _service()
    if _elsewhere(service.rules.faq_url, FAQ):
        return redirect(service.rules.faq_url, 302)
    sections = [
        {
            "heading": section.heading,
            "questions": [
                {"number": number, "question": list(q.question), "answer": list(q.answer)}
                for number, q in enumerate(section.questions, start=1)
            ],
        }
        for section in FAQ_SECTIONS
    ]
    return page("faq.html", _model(service, FAQ, sections=sections))


@pages.get(page_path(CONTACT))
def contact() -> Response:
    """お問い合わせ先: the bank's department, phone, hours and e-mail, as the manual lays
    out 中ノ郷信用組合's."""
    service = _service()
    rules = service.rules
    shown = {
        "bank_name": rules.name,
        "department": rules.contact.department,
        "phone": rules.contact.phone,
        "main_line": rules.contact.main_line,
        "hours": rules.contact.hours,
        "email": rules.contact.email,
    }
    return page("contact.html", _model(service, CONTACT, contact=shown))
