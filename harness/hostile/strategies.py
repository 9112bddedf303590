"""Hypothesis strategies for hostile values, fields and bodies.

From single values (:func:`hostile_text`, :func:`near` a right value, any JSON
value, what a header can carry) up to whole bodies: right fields with a few
made wrong (:func:`mutated`), sent in one of the encodings a server meets or
should refuse (:func:`bodies`). The requests built from them, per endpoint, are
in :mod:`.endpoints`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from harness.driver import JSON

from .corpus import CONTROLS, FULL_DIGITS, FULL_KANA, HALF_KANA, LATIN1, SAMPLES


def to_full_width(text: str) -> str:
    """``text`` with every printable ASCII character at full width (U+FF01…)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def hostile_text() -> st.SearchStrategy[str]:
    """One hostile string: a known attack, random Unicode, control characters,
    full-width digits, kana of both widths, or two attacks joined."""
    return st.one_of(
        st.sampled_from(SAMPLES),
        st.text(max_size=40),
        st.text(alphabet=CONTROLS, min_size=1, max_size=8),
        st.text(alphabet=FULL_DIGITS, min_size=1, max_size=12),
        st.text(alphabet=HALF_KANA + FULL_KANA, min_size=1, max_size=50),
        st.builds(str.__add__, st.sampled_from(SAMPLES), st.sampled_from(SAMPLES)),
    )


def near(valid: str) -> st.SearchStrategy[str]:
    """A field's value: right, hostile, or right with something hostile around it
    (so that the input rules themselves are what refuses it)."""
    return st.one_of(
        st.just(valid),
        hostile_text(),
        st.builds(lambda bad: valid + bad, hostile_text()),
        st.builds(lambda bad: bad + valid, hostile_text()),
        st.just(to_full_width(valid)),
        st.just(f" {valid} "),
    )


def json_value() -> st.SearchStrategy[Any]:
    """Any JSON value, for wrong types: numbers (NaN and ±Infinity too), booleans,
    null, hostile strings, lists and objects."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        hostile_text(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=6,
    )


def header_text() -> st.SearchStrategy[str]:
    """What an HTTP header can carry at all: Latin-1 without control characters."""
    return st.one_of(
        st.sampled_from(["", "null", "' OR '1'='1", "<script>alert(1)</script>", "a" * 300]),
        # requests refuses a value that starts with white space (\xa0 too).
        st.text(alphabet=LATIN1, max_size=60).map(str.lstrip),
    )


def accepts() -> st.SearchStrategy[dict[str, str]]:
    """The browser's or client's Accept: JSON, HTML, anything, none, or garbage;
    a new dict each draw, which the caller may add to (never the driver's own
    :data:`~harness.driver.JSON`, which every browser of the bench sends)."""
    return st.one_of(
        st.sampled_from([JSON, {"Accept": "text/html"}, {"Accept": "*/*"}, {}]).map(dict),
        header_text().map(lambda t: {"Accept": t}),
    )


@st.composite
def mutated(
    draw: st.DrawFn,
    right: Mapping[str, str | None],
    wrong: dict[str, st.SearchStrategy[str]] | None = None,
) -> list[tuple[str, str]]:
    """Fields (or query parameters) that are right but for a few (often one, or
    none): each of those hostile (``wrong``, else :func:`near` the right value),
    missing or repeated; strangers beside them. A right value of None is absent
    unless it is one of the few. Deep checks see mostly-right requests this way,
    where independent draws would almost never get every other field right."""
    wrong = wrong or {}
    names = sorted(right)
    few = draw(st.sets(st.sampled_from(names), max_size=len(names))) if names else set()
    pairs: list[tuple[str, str]] = []
    for name in names:
        value = right[name]
        if name not in few:
            if value is not None:
                pairs.append((name, value))
            continue
        bad = wrong[name] if name in wrong else near(value or "")
        repeated = st.lists(bad, min_size=2, max_size=3)
        values = draw(st.one_of(st.just([]), bad.map(lambda v: [v]), repeated))
        pairs += [(name, v) for v in values]
    pairs += draw(st.lists(st.tuples(st.text(max_size=12), hostile_text()), max_size=3))
    return pairs


#: How a body is sent: as browsers and clients do, or as a server should refuse.
ENCODINGS = (
    "form",
    "json",
    "json_types",
    "json_not_object",
    "json_broken",
    "invalid_utf8",
    "multipart",
    "text_plain",
    "xml",
    "no_type",
    "over_limit",
)
#: The most a server reads of a body (the 5 MB bodies: :func:`.form_run.huge_bodies`).
BODY_LIMIT = 64 * 1024
_FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
_JSON_TYPE = {"Content-Type": "application/json"}


@st.composite
def bodies(
    draw: st.DrawFn, fields: Mapping[str, str | None]
) -> tuple[bytes | None, dict[str, str]]:
    """A request body carrying ``fields`` (right values, a few made wrong:
    :func:`mutated`) in one of :data:`ENCODINGS`, as bytes and the headers that go
    with it."""
    names = st.one_of(st.sampled_from(sorted(fields) or ["x"]), st.text(max_size=12))
    pairs = draw(mutated(fields))
    # A form, as browsers send, half the time; JSON next; the rest share the other half.
    encoding = draw(st.sampled_from(("form",) * 8 + ("json",) * 3 + ENCODINGS))
    form = urlencode(pairs).encode()
    if encoding == "form":
        return form, dict(_FORM_TYPE)
    if encoding == "json":
        return json.dumps(dict(pairs), ensure_ascii=draw(st.booleans())).encode(), dict(_JSON_TYPE)
    if encoding == "json_types":
        wrong = draw(st.dictionaries(names, json_value(), max_size=6))
        return json.dumps(wrong).encode(), dict(_JSON_TYPE)
    if encoding == "json_not_object":
        value = draw(json_value().filter(lambda v: not isinstance(v, dict)))
        return json.dumps(value).encode(), dict(_JSON_TYPE)
    if encoding == "json_broken":
        return draw(_broken_json(json.dumps(dict(pairs)).encode())), dict(_JSON_TYPE)
    if encoding == "invalid_utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"%FF"]))
        place = draw(st.integers(0, len(form)))
        return form[:place] + junk + form[place:], {**_FORM_TYPE, **draw(_charset())}
    if encoding == "multipart":
        return _multipart(pairs)
    if encoding == "text_plain":
        return form, {"Content-Type": "text/plain"}
    if encoding == "xml":
        xml = (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
        )
        return xml, {"Content-Type": "application/xml"}
    if encoding == "no_type":
        return form, {}
    # over_limit: one byte over what the server reads.
    return b"a=" + b"x" * (BODY_LIMIT + 1), dict(_FORM_TYPE)


@st.composite
def _broken_json(draw: st.DrawFn, text: bytes) -> bytes:
    """``text`` cut short, or JSON a strict reader refuses: a byte-order mark,
    NaN, a repeated key, nesting 5,000 deep, a lone surrogate, nothing."""
    cut = draw(st.integers(0, max(0, len(text) - 1)))
    broken: bytes = draw(
        st.sampled_from(
            [
                text[:cut],
                b"\xef\xbb\xbf" + text,
                b'{"a": NaN, "b": Infinity}',
                b'{"a": 1, "a": 2}',
                b"[" * 5000,
                b'{"a": "\\ud800"}',
                b"",
            ]
        )
    )
    return broken


def _multipart(pairs: list[tuple[str, str]]) -> tuple[bytes, dict[str, str]]:
    boundary = "renkeiboundary"
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{quote(k)}"\r\n\r\n'.encode()
        + v.encode("utf-8", "surrogatepass")
        + b"\r\n"
        for k, v in pairs
    )
    return parts + f"--{boundary}--\r\n".encode(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}"
    }


def _charset() -> st.SearchStrategy[dict[str, str]]:
    return st.sampled_from(
        [{}, {"Content-Type": "application/x-www-form-urlencoded; charset=shift_jis"}]
    )


def with_field(body: bytes, kind: dict[str, str], name: str, value: str) -> bytes:
    """``body`` with ``name`` set to ``value`` where its encoding (``kind``, its
    headers) can carry it; a body broken on purpose stays as it is."""
    content_type = kind.get("Content-Type", "")
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # broken on purpose
            return body
        if isinstance(data, dict):
            data[name] = value
            return json.dumps(data).encode()
        return body
    if content_type.startswith("multipart/"):
        boundary = content_type.split("boundary=")[1]
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        return part.encode() + value.encode("utf-8", "surrogatepass") + b"\r\n" + body
    joiner = b"&" if body else b""
    return urlencode({name: value}).encode() + joiner + body


def cookie_header(jar: list[tuple[str, str]]) -> dict[str, str]:
    """A Cookie header with every pair of ``jar`` in order (a name may repeat)."""
    if not jar:
        return {}
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar)}
