"""The bank's own documentation, which the tester and the partner's developer reach.

Not in INTERFACE.md, but public all the same: the metadata's
``service_documentation`` (RFC 8414 §2) points at :data:`DOCS_PATH`, the
hostile-input campaign fuzzes the document at :data:`OPENAPI_PATH` (Schemathesis
reads it), and every screen's footer links the pages of :data:`PAGES`, the
manual's 「API利用規定」「よくあるご質問」「お問い合わせ先」 (REQUIREMENTS.md R-PLAT-1).
"""

from __future__ import annotations

from typing import Final

#: The OpenAPI 3.1 document of every public endpoint, which Schemathesis fuzzes.
OPENAPI_PATH: Final = "/openapi.json"
#: The same document as HTML, and the metadata's ``service_documentation``.
DOCS_PATH: Final = "/docs"
#: The pages the footer links, by name: API利用規定, よくあるご質問 (the manual's
#: questions and answers) and お問い合わせ先 (the bank's department, phone, hours
#: and e-mail).
TERMS: Final = "terms"
FAQ: Final = "faq"
CONTACT: Final = "contact"
PAGES: Final = (TERMS, FAQ, CONTACT)


def page_path(name: str) -> str:
    """Where the page ``name`` of :data:`PAGES` is shown."""
    return f"{DOCS_PATH}/{name}"
