"""The rule every answer to hostile input keeps, and what breaks it.

No 5xx but a deliberate ``503`` with its error body (``congested``,
``out_of_hours``, ``service_unavailable``: the contract's
:data:`~renkei.contract.errors.DELIBERATE_503`; the sandbox's faults stay off, so
a ``500`` is always a defect), no traceback, every 4xx/5xx a clear error (an
error code where INTERFACE.md §1, §2 and §5 put one), a ``429`` a clear refusal
that says when to come back (the throttle of wrong credentials,
:mod:`renkei.contract.throttle`, which the fuzzers meet on purpose: a
``Retry-After`` of whole seconds beside its code), no injected markup
unescaped in HTML, and no redirect anywhere but the bank itself or the partner
app's registered redirect URI (RFC 6749 §4.1.2.1). :func:`faults_of` says what
an answer breaks, whichever client received it (:class:`Seen`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from renkei.contract import answers, throttle
from renkei.contract.errors import DELIBERATE_503

from .baseline import REDIRECT
from .corpus import UNESCAPED

TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"\n]+", line \d+')


@dataclass(frozen=True)
class Seen:
    """An answer as judged: status, headers (lower-case names) and body, whichever
    client (requests, Schemathesis) received it."""

    status: int
    headers: dict[str, str]
    content: bytes

    @classmethod
    def of(cls, response: requests.Response) -> Seen:
        return cls(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )

    @classmethod
    def of_schemathesis(cls, response: Any) -> Seen:
        headers = {k.lower(): ", ".join(v) for k, v in response.headers.items()}
        return cls(int(response.status_code), headers, bytes(response.content))

    @property
    def kind(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def error_codes(seen: Seen) -> list[str]:
    """The machine codes an answer gives, read as the contract says an answer names
    them (OAuth's ``error``, the API's ``errorCode``, a screen's ``errors`` or
    ``data-error-code``)."""
    if seen.kind.startswith("application/json"):
        try:
            body = json.loads(seen.content)
        except (ValueError, RecursionError):
            return []
        return answers.error_codes(body)
    if seen.kind.startswith("text/html"):
        return answers.html_error_codes(seen.text)
    return []


def faults_of(seen: Seen, base_url: str) -> list[str]:
    """What is wrong with an answer from the bank at ``base_url`` (nothing: an
    empty list)."""
    faults: list[str] = []
    status = seen.status
    codes = error_codes(seen)
    text = seen.text
    if TRACEBACK.search(text):
        faults.append("a traceback in the body")
    if status >= 500 and not (status == 503 and DELIBERATE_503 & set(codes)):
        faults.append(f"{status} {'/'.join(codes) or 'without a code'}")
    if status >= 400 and not codes:
        faults.append(f"{status} without a clear error ({seen.kind.split(';')[0] or 'none'})")
    if status == throttle.STATUS and not _whole_seconds(seen.headers.get("retry-after", "")):
        faults.append(f"{status} without a Retry-After of whole seconds")
    if seen.kind.startswith("text/html") and UNESCAPED.search(text):
        faults.append("injected markup unescaped in HTML")
    location = seen.headers.get("location")
    if 300 <= status < 400 and location is not None and not _ours(location, base_url):
        faults.append(f"redirect to {location[:60]!r}")
    return faults


def refused_for_now(seen: Seen) -> bool:
    """Whether an answer is the throttle's refusal (a clear one, not a fault): the
    request was not judged, and the same one is judged after ``Retry-After``."""
    return seen.status == throttle.STATUS and _whole_seconds(seen.headers.get("retry-after", ""))


def _whole_seconds(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _ours(location: str, base_url: str) -> bool:
    """A redirect within the bank, or to the partner app's registered URI exactly."""
    if location.startswith("/") and not location.startswith(("//", "/\\")):
        return True
    parts = urlsplit(location)
    plain = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return plain == REDIRECT or location.startswith(base_url + "/")
