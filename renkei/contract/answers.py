"""How an answer names what happened (INTERFACE.md §1, §2, §5), read the same way
by everyone who reads answers: the tester's driver, certification's recorder,
the replayer and the hostile-input judge.

* an OAuth error answer: ``{"error": …}`` (RFC 6749 §5.2);
* an account API error: ``{"errorCode": …, "message": …}``;
* a screen's JSON model: ``errors`` as ``[{code, message, field}]``;
* a screen's HTML: ``data-error-code="…"`` on each error shown, and
  ``<meta name="screen-id" content="SOA201">``.
"""

from __future__ import annotations

import re
from typing import Final

#: Each error an HTML screen shows.
HTML_ERROR_CODE: Final = re.compile(r'data-error-code="([^"]*)"')
#: The screen an HTML page is.
HTML_SCREEN_ID: Final = re.compile(r'<meta name="screen-id" content="([^"]*)"')


def error_code(body: object) -> str | None:
    """The one code of an API or OAuth error body: ``errorCode``, else ``error``."""
    if not isinstance(body, dict):
        return None
    code = body.get("errorCode", body.get("error"))
    return str(code) if code is not None else None


def screen_error_codes(body: object) -> list[str]:
    """The codes a screen's JSON model lists in ``errors``, in order."""
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    return [str(e["code"]) for e in errors if isinstance(e, dict) and e.get("code")]


def error_codes(body: object) -> list[str]:
    """Every code a JSON answer names: OAuth's ``error``, the API's ``errorCode``
    and a screen model's ``errors``."""
    if not isinstance(body, dict):
        return []
    codes = [str(body[k]) for k in ("error", "errorCode") if isinstance(body.get(k), str)]
    return [c for c in codes if c] + screen_error_codes(body)


def html_error_codes(text: str) -> list[str]:
    """The codes an HTML screen shows."""
    return HTML_ERROR_CODE.findall(text)
