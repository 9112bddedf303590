"""Hostile input against a running sandbox bank (issue 7, item 4).

Two generators send malformed and malicious requests to a target over HTTP:

* :func:`fuzz_openapi` — Schemathesis reads the target's ``/openapi.json`` and
  generates requests for every operation it documents, positive (what the
  document allows) and negative (what it forbids), and checks each answer
  against the document as well as against :func:`judge`;
* :func:`fuzz_forms` — Hypothesis builds requests the document does not
  describe: the screen forms (INTERFACE.md §2) with and without a valid flow
  cookie and CSRF token, the OAuth endpoints (§1), the account API (§5), the
  telephony gateway (§4) and the sandbox controls (§6), with random strings,
  control characters, NUL bytes, full-width digits and kana, SQL and HTML
  injection, wrong JSON types, duplicated parameters, invalid UTF-8 and wrong
  content types; :func:`huge_bodies` sends 5 MB bodies to every endpoint.

:func:`judge` is the rule every answer must keep: no 5xx but a deliberate
``503`` (``congested``, ``out_of_hours``, ``service_unavailable``) with its
error body — the sandbox's faults stay off, so a ``500`` is always a defect —
no traceback, every 4xx/5xx a clear error (JSON ``error``/``errorCode``/
``errors`` or an HTML screen with ``data-error-code``), no injected markup
unescaped in HTML, and no redirect anywhere but the bank itself or the partner
app's registered redirect URI.

The target is put back to a known state whenever a generated control request
changed it (:class:`Bench`), so a fuzzed ``PUT /sandbox/faults`` cannot switch
on the system error for the requests after it. ``benchmarks/campaign_hostile.py``
runs all of this at scale against ``renkei serve``; ``tests/test_hostile_input.py``
runs a small sample in the suite.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tabulate import tabulate

from harness.driver import JSON, Browser, PartnerApp, Phone, Sandbox, cookieless_session
from harness.personas import load_personas
from renkei.contract import answers
from renkei.contract.errors import DELIBERATE_503
from renkei.contract.screens import FLOW_COOKIE

TIMEOUT = 30
#: The partner app of INTERFACE.md §8 and its one registered redirect URI.
CLIENT_ID, CLIENT_SECRET = "creco", "creco-secret"
REDIRECT = "http://127.0.0.1:8765/callback"
#: The manual's own customer (§8): the flows the fuzzing needs are walked with it.
MANUAL = load_personas()["manual"]
ACCOUNT, ACCOUNT_KEY, PIN = MANUAL.account, MANUAL.account_id, MANUAL.pin
PERSON = MANUAL.details(email="taro@example.jp", email_confirm="taro@example.jp")
#: A Tuesday morning inside service hours, frozen: whatever the real time, the
#: flows are open and the call window of ④ never runs out under the fuzzing.
BASELINE_NOW = "2026-11-24T10:15:00+09:00"
FIVE_MB = 5 * 1024 * 1024

# -- what hostile input looks like ---------------------------------------------------------

SQL = (
    "' OR '1'='1",
    "1' OR 1=1 --",
    "115; DROP TABLE accounts; --",
    "' UNION SELECT pin_hash, 1 FROM cards --",
    "1100026' AND SLEEP(5) --",
    '"; DELETE FROM grants; --',
    "1357' OR ''='",
)
MARKUP = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "'><iframe src=javascript:alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}",
    "${7*7}",
    "{% raw %}",
)
#: Injected markup that would run if it came back unescaped in HTML.
UNESCAPED = re.compile(r"<script>alert|<img src=x onerror|<svg onload|<iframe src=javascript", re.I)
WIDTH = (
    "０１２",
    "１１５",
    "１１０００２６",
    "１３５７",
    "０９０１２３４３３３３",
    "１９８５",
    "ﾃﾞｰﾀ ﾀﾛｳ",
    "デ－タ タロウ",
    "データ　タロウ",
    "ﾃﾞｰﾀ　ﾀﾛｳ",
    "ﾃﾞｰﾀﾀﾛｳ",
    "ﾃ゙ｰﾀ ﾀﾛｳ",
    "ｷｬﾉﾝ ﾊﾅｺ",
    "ＡＢＣ",
    "115\u3000",
    "1357\u200b",
)
CONTROL = (
    "\x00",
    "1357\x00",
    "\x00115",
    "\r\n",
    "\t",
    "\x1b[31m",
    "\x7f",
    "\u202e",
    "\ufeff",
    "\x85",
    "\u2028",
)
OTHER = (
    "",
    " ",
    "null",
    "true",
    "-1",
    "1e309",
    "NaN",
    "0x10",
    "../../etc/passwd",
    "%00",
    "%ff",
    "😀",
    "a" * 1000,
    "9" * 400,
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+09:00",
    "2026-02-30",
)
SAMPLES = SQL + MARKUP + WIDTH + CONTROL + OTHER
#: Flow cookies no server issued: quoted with octal escapes (a cookie parser
#: decodes ``"\\000"`` to a NUL), injections, too long, percent-encoded.
FORGED_COOKIES = (
    '"\\000"',
    '"ab\\000cd"',
    '"\\377\\376"',
    '"a\\"b"',
    "%00",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "0" * 32,
    "f" * 4000,
    "",
)
HALF_KANA = "ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ ()-./"
FULL_KANA = (
    "ァアィイゥウェエォオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデトドナニヌ　ー"
)
FULL_DIGITS = "０１２３４５６７８９"
#: What a header value can hold: Latin-1 without control characters.
LATIN1 = "".join(chr(c) for c in (*range(0x20, 0x7F), *range(0xA0, 0x100)))
CONTROLS = "".join(chr(c) for c in (*range(0x20), 0x7F, 0x85, 0x2028, 0x202E, 0xFEFF))


def _to_full_width(text: str) -> str:
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
        st.just(_to_full_width(valid)),
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


# -- the rule every answer keeps -------------------------------------------------------------

TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"\n]+", line \d+')
#: The 503s that are an answer, not a failure (R-ERR-SYS-1, -2, -4).


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


def judge(seen: Seen, base_url: str) -> list[str]:
    """What is wrong with an answer (nothing: an empty list)."""
    problems: list[str] = []
    status = seen.status
    codes = error_codes(seen)
    text = seen.text
    if TRACEBACK.search(text):
        problems.append("a traceback in the body")
    if status >= 500 and not (status == 503 and DELIBERATE_503 & set(codes)):
        problems.append(f"{status} {'/'.join(codes) or 'without a code'}")
    if status >= 400 and not codes:
        problems.append(f"{status} without a clear error ({seen.kind.split(';')[0] or 'none'})")
    if seen.kind.startswith("text/html") and UNESCAPED.search(text):
        problems.append("injected markup unescaped in HTML")
    location = seen.headers.get("location")
    if 300 <= status < 400 and location is not None and not _ours(location, base_url):
        problems.append(f"redirect to {location[:60]!r}")
    return problems


def _ours(location: str, base_url: str) -> bool:
    """A redirect within the bank, or to the partner app's registered URI exactly."""
    if location.startswith("/") and not location.startswith(("//", "/\\")):
        return True
    parts = urlsplit(location)
    plain = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return plain == REDIRECT or location.startswith(base_url + "/")


# -- counting ---------------------------------------------------------------------------------


@dataclass
class Finding:
    endpoint: str
    problem: str
    example: str
    count: int = 1


@dataclass
class Tally:
    """Requests, status codes and findings, per endpoint."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    #: Requests that set the stage (walking flows, linking, restoring the state).
    support: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def record(self, endpoint: str, status: int, problems: list[str], example: str) -> None:
        self.requests[endpoint] += 1
        self.statuses.setdefault(endpoint, Counter())[status] += 1
        for problem in problems:
            # One finding per endpoint and kind of problem, with its first example.
            key = (endpoint, re.sub(r"[0-9]+", "N", problem)[:80])
            if key in self.findings:
                self.findings[key].count += 1
            else:
                self.findings[key] = Finding(endpoint, problem, example[:600])

    def table(self) -> str:
        rows = []
        for endpoint in sorted(self.requests):
            statuses = self.statuses[endpoint]
            failures = sum(f.count for f in self.findings.values() if f.endpoint == endpoint)
            rows.append(
                [
                    endpoint,
                    self.requests[endpoint],
                    " ".join(f"{s}×{n}" for s, n in sorted(statuses.items())),
                    failures,
                ]
            )
        rows.append(["total", self.total, "", sum(f.count for f in self.findings.values())])
        return tabulate(rows, headers=["endpoint", "requests", "status codes", "failures"])

    def report(self) -> str:
        lines = [self.table(), ""]
        seconds = time.monotonic() - self.started
        lines.append(
            f"{self.total} generated requests (+{self.support} to set the stage) "
            f"in {seconds:.0f} s; {len(self.findings)} distinct failures"
        )
        for finding in self.findings.values():
            lines.append(f"\nFAILURE {finding.endpoint}: {finding.problem} (×{finding.count})")
            lines.append(f"  e.g. {finding.example}")
        return "\n".join(lines)


# -- the target and its state ------------------------------------------------------------------


class TargetGone(RuntimeError):
    """The target stopped answering (its process died): nothing more can be sent."""


@dataclass
class Flow:
    cookie: str
    csrf: str


class Bench:
    """A target under fuzzing: sends and judges requests, and puts the target back
    to the baseline (clock, faults, data) when a generated request changed it."""

    def __init__(self, url: str, admin_token: str, tally: Tally | None = None) -> None:
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.tally = tally or Tally()
        self.http = cookieless_session()
        self.sandbox = Sandbox(self.url, admin_token)
        self._count(self.sandbox.session)
        self._flows: dict[str, Flow] = {}
        self._tokens: dict[str, Any] | None = None
        #: Flows started since the last reset: the host's capacity (R-ERR-SYS-2)
        #: would answer ``congested`` once 200 are in progress.
        self._started = 0

    def _count(self, session: requests.Session) -> None:
        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            self.tally.support += 1

        session.hooks["response"].append(hook)

    def close(self) -> None:
        self.http.close()
        self.sandbox.close()

    # -- state -----------------------------------------------------------------------

    def baseline(self) -> None:
        """Faults off, the clock at :data:`BASELINE_NOW`, frozen."""
        self.sandbox.faults()
        self.sandbox.set_clock(BASELINE_NOW)

    def restore(self) -> None:
        """Back to the scenario's data and the baseline; every flow and token is gone."""
        self.sandbox.reset()
        self.baseline()
        self._flows.clear()
        self._tokens = None
        self._started = 0

    def _browser(self) -> Browser:
        browser = Browser(self.url)
        self._count(browser.session)
        return browser

    def _app(self) -> PartnerApp:
        app = PartnerApp(self.url)
        self._count(app.oauth)
        self._count(app.http)
        return app

    def _walk(self, until: str) -> tuple[Browser, PartnerApp] | None:
        """A new flow of the manual's customer, shown ``until`` (a screen path);
        None when the host refused a step (a lock after generated identity failures:
        unlocked for the next try)."""
        if self._started >= 150:
            self.restore()
        browser, app = self._browser(), self._app()
        self._started += 1
        r = browser.session.get(app.authorize_url(), allow_redirects=False, timeout=TIMEOUT)
        if r.status_code != 303:
            self._failed_walk(browser, app)
            return None
        steps: list[tuple[str, dict[str, str] | None]] = [
            ("/connect/account", ACCOUNT),
            ("/connect/customer", PERSON),
            ("/connect/phone", None),
            ("/connect/call", None),
            ("/connect/pin", {"pin": PIN}),
            ("/connect/consent", None),
        ]
        for path, data in steps:
            shown = browser.get(path)
            if shown.status != 200:
                self._failed_walk(browser, app)
                return None
            if path == until:
                return browser, app
            if path == "/connect/call":
                phone = Phone(self.url, PERSON["phone"])
                self._count(phone.session)
                phone.call(str(shown.body["call_to"]))
                phone.close()
            done = browser.post(path, data)
            if done.status != 303:
                self._failed_walk(browser, app)
                return None
        raise ValueError(f"not a screen: {until}")

    def _failed_walk(self, browser: Browser, app: PartnerApp) -> None:
        browser.close()
        app.close()
        self.sandbox.unlock(ACCOUNT_KEY)
        if self._started >= 100:
            self.restore()
        else:
            self.baseline()

    def flow_at(self, path: str) -> Flow | None:
        """A flow of the manual's customer standing on the screen at ``path`` (kept
        for the next request while it stays there)."""
        if path in self._flows:
            return self._flows[path]
        for _ in range(3):
            walked = self._walk(path)
            if walked is not None:
                browser, app = walked
                flow = Flow(browser.session.cookies.get(FLOW_COOKIE) or "", browser.csrf)
                browser.close()
                app.close()
                self._flows[path] = flow
                return flow
        return None

    def forget_flow(self, path: str) -> None:
        self._flows.pop(path, None)

    def tokens(self) -> dict[str, Any]:
        """Tokens of a grant of the manual's customer (linked anew when needed)."""
        if self._tokens is None:
            walked = self._walk("/connect/consent")
            if walked is None:
                raise RuntimeError("could not link the manual's customer")
            browser, app = walked
            done = browser.post("/connect/consent", {"decision": "allow", "agree": "1"})
            if done.status != 302 or not done.location:
                raise RuntimeError(f"consent: {done.status} {done.text[:200]}")
            self._tokens = app.exchange(done.location)
            browser.close()
            app.close()
        return self._tokens

    def tokens_spent(self) -> None:
        self._tokens = None

    # -- sending -------------------------------------------------------------------------

    def send(self, endpoint: str, request: requests.Request) -> requests.Response | None:
        """Send one generated request, judge and count its answer, then undo what it
        changed (:meth:`after`); None when it got no answer (:meth:`unanswered`)."""
        prepared = self.http.prepare_request(request)
        try:
            response = self.http.send(prepared, allow_redirects=False, timeout=TIMEOUT)
        except requests.RequestException as error:
            self.unanswered(endpoint, describe(prepared), error)
            return None
        self.tally.record(
            endpoint, response.status_code, judge(Seen.of(response), self.url), describe(prepared)
        )
        self.after(
            prepared.method or "GET", urlsplit(prepared.url or "").path, response.status_code
        )
        return response

    def unanswered(self, endpoint: str, example: str, error: Exception) -> None:
        """A request that got no answer at all (connection closed or refused, no
        answer in :data:`TIMEOUT` seconds) is a failure, recorded as status 0; when the
        target answers nothing any more, :class:`TargetGone`."""
        self.tally.record(endpoint, 0, [f"no answer ({error.__class__.__name__})"], example)
        try:
            self.http.get(self.url + "/.well-known/oauth-authorization-server", timeout=TIMEOUT)
        except requests.RequestException:
            raise TargetGone(f"{self.url} stopped answering after {example[:300]}") from error

    def after(self, method: str, path: str, status: int) -> None:
        """Put back what a generated request changed, so that the next starts from
        the baseline: faults off, the clock frozen, the scenario's data."""
        if status >= 300 or method in ("GET", "HEAD", "OPTIONS"):
            if path.startswith("/v1/") and status == 401:
                self.tokens_spent()  # a generated revoke may have ended the grant
            return
        if path in ("/sandbox/faults", "/sandbox/clock", "/sandbox/clock/advance"):
            self.baseline()
        elif path.startswith(("/sandbox/", "/admin/accounts", "/admin/grants")):
            self.restore()  # reset, maintenance, move, revoke, uninstall
        elif path.startswith("/admin/locks"):
            pass  # an unlock changes nothing the fuzzing relies on
        elif path in ("/oauth/revoke", "/oauth/token"):
            self.tokens_spent()
        elif path == "/oauth/authorize" or path.startswith("/connect/"):
            self._started += 1


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def describe(prepared: requests.PreparedRequest) -> str:
    """A request in one line, for a finding's example."""
    body = prepared.body
    if isinstance(body, bytes | bytearray):
        shown = repr(bytes(body[:200]))
    elif isinstance(body, str):
        shown = repr(body[:200])
    else:
        shown = "" if body is None else "<stream>"
    kind = _text(prepared.headers.get("Content-Type", ""))
    auth = _text(prepared.headers.get("Authorization", ""))
    extra = f" [{kind}]" if kind else ""
    extra += f" [auth {auth[:30]!r}]" if auth else ""
    return f"{prepared.method} {prepared.url}{extra} {shown}".strip()


# -- bodies ------------------------------------------------------------------------------------

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
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    json_type = {"Content-Type": "application/json"}
    if encoding == "form":
        return form, form_type
    if encoding == "json":
        return json.dumps(dict(pairs), ensure_ascii=draw(st.booleans())).encode(), json_type
    if encoding == "json_types":
        wrong = draw(st.dictionaries(names, json_value(), max_size=6))
        return json.dumps(wrong).encode(), json_type
    if encoding == "json_not_object":
        value = draw(json_value().filter(lambda v: not isinstance(v, dict)))
        return json.dumps(value).encode(), json_type
    if encoding == "json_broken":
        text = json.dumps(dict(pairs)).encode()
        cut = draw(st.integers(0, max(0, len(text) - 1)))
        broken = draw(
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
        return broken, json_type
    if encoding == "invalid_utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"%FF"]))
        place = draw(st.integers(0, len(form)))
        return form[:place] + junk + form[place:], {**form_type, **draw(_charset())}
    if encoding == "multipart":
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
    if encoding == "text_plain":
        return form, {"Content-Type": "text/plain"}
    if encoding == "xml":
        xml = (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
        )
        return xml, {"Content-Type": "application/xml"}
    if encoding == "no_type":
        return form, {}
    # over_limit: just over the 64 KiB the server reads (the 5 MB bodies: huge_bodies).
    return b"a=" + b"x" * (64 * 1024 + 1), form_type


def _charset() -> st.SearchStrategy[dict[str, str]]:
    return st.sampled_from(
        [{}, {"Content-Type": "application/x-www-form-urlencoded; charset=shift_jis"}]
    )


def accepts() -> st.SearchStrategy[dict[str, str]]:
    """The browser's or client's Accept: JSON, HTML, anything, none, or garbage."""
    return st.one_of(
        st.sampled_from([JSON, {"Accept": "text/html"}, {"Accept": "*/*"}, {}]),
        header_text().map(lambda t: {"Accept": t}),
    )


def _query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs)


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


# -- the form fuzzing ------------------------------------------------------------------------

#: A generated request: its endpoint (for the tally), the request, and the screen
#: whose cached flow it used (None: it used none).
Generated = tuple[str, requests.Request, str | None]

#: What each screen's POST takes, with right values (INTERFACE.md §2).
SCREEN_FIELDS: dict[str, dict[str, str]] = {
    "/connect/account": ACCOUNT,
    "/connect/customer": PERSON,
    "/connect/phone": {},
    "/connect/call": {},
    "/connect/pin": {"pin": PIN},
    "/connect/consent": {"agree": "1", "decision": "allow"},
    "/connect/cancel": {},
}
#: Where a flow stands for each POST (中止 from ②).
FLOW_FOR = {**{p: p for p in SCREEN_FIELDS}, "/connect/cancel": "/connect/customer"}


def _keeps_flow(seen: Seen) -> bool:
    """Whether the flow used stays where it was after a generated answer (a refusal
    that leaves the screen as it was)."""
    codes = set(error_codes(seen))
    if codes & {"account_unavailable", "call_expired", "locked_now", "B84"}:
        return False
    return seen.status in (400, 413, 415, 422) or codes == {"csrf_failed"}


def screen_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """A POST to a screen (or a GET of one): with no flow, a forged one, or a valid
    flow cookie, with a valid, missing, wrong or hostile CSRF token."""

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        path = screen = draw(st.sampled_from(sorted(SCREEN_FIELDS)))
        cookie = draw(st.sampled_from(["valid", "valid", "valid", "none", "forged", "twice"]))
        csrf_kind = draw(st.sampled_from(["valid"] * 4 + ["missing", "wrong", "hostile"]))
        headers = draw(accepts())
        flow = bench.flow_at(FLOW_FOR[path]) if cookie == "valid" else None
        forged = draw(st.one_of(st.sampled_from(FORGED_COOKIES), header_text()))
        jar: list[tuple[str, str]] = []
        if flow is not None:
            jar.append((FLOW_COOKIE, flow.cookie))
        if cookie in ("forged", "twice"):
            jar.append((FLOW_COOKIE, forged))
        if cookie == "twice":  # the same cookie twice: one real flow, one not
            flow = bench.flow_at(FLOW_FOR[path])
            jar.insert(draw(st.integers(0, 1)), (FLOW_COOKIE, flow.cookie if flow else "0" * 32))
        fields = dict(SCREEN_FIELDS[path])
        body, kind = draw(bodies(fields))
        csrf = {
            "valid": flow.csrf if flow else "0" * 40,
            "wrong": "0" * 40,
            "hostile": draw(hostile_text()),
            "missing": None,
        }[csrf_kind]
        if csrf is not None and body is not None:
            body = _with_field(body, kind, "csrf_token", csrf)
        method = draw(st.sampled_from(["POST", "POST", "POST", "GET"]))
        if method == "GET":
            path = draw(
                st.sampled_from(
                    [path, "/connect/return", "/connect/" + quote(draw(hostile_text()), safe="")]
                )
            )
            body, kind = None, {}
        request = requests.Request(
            method,
            bench.url + path,
            headers={**headers, **kind, **_cookie_header(jar)},
            data=body,
        )
        used = FLOW_FOR[screen] if flow is not None else None
        return f"{method} {path if path in SCREEN_FIELDS else '/connect/*'}", request, used

    return build()


def _cookie_header(jar: list[tuple[str, str]]) -> dict[str, str]:
    if not jar:
        return {}
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar)}


def _with_field(body: bytes, kind: dict[str, str], name: str, value: str) -> bytes:
    """``body`` with ``name`` set to ``value`` where its encoding can carry it."""
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


def oauth_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """/oauth/authorize with each parameter right, hostile, missing or repeated;
    /oauth/token, /oauth/revoke and /oauth/introspect with hostile forms and client
    authentication right, wrong, malformed or missing (INTERFACE.md §1)."""
    authorize = mutated(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "scope": "accounts transactions",
            "state": "xyz",
            "code_challenge": "a" * 43,
            "code_challenge_method": "S256",
        },
        {
            "state": hostile_text(),
            "code_challenge_method": st.sampled_from(["plain", "s256", "", "S256\x00"]),
        },
    )
    basic = st.one_of(
        st.just(f"{CLIENT_ID}:{CLIENT_SECRET}"),
        st.builds(lambda a, b: f"{a}:{b}", hostile_text(), hostile_text()),
    ).map(lambda text: "Basic " + base64.b64encode(text.encode("utf-8", "surrogatepass")).decode())
    client_auth = st.one_of(
        basic,
        st.sampled_from(["", "Basic", "Basic !!!", "Basic ==", "Bearer x", "basic Y3JlY28="]),
        header_text().map(lambda t: "Basic " + t),
    )

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        path = draw(
            st.sampled_from(
                ["/oauth/authorize", "/oauth/token", "/oauth/revoke", "/oauth/introspect"]
            )
        )
        headers = draw(accepts())
        if path == "/oauth/authorize":
            query = _query(draw(authorize))
            if draw(st.booleans()):
                query += "&" + draw(st.sampled_from(["client_id=%FF", "scope=%C0%AF", "%00=1"]))
            request = requests.Request("GET", f"{bench.url}{path}?{query}", headers=headers)
            return f"GET {path}", request, None
        tokens = bench.tokens() if draw(st.integers(0, 3)) == 0 else {}
        real = str(tokens.get("refresh_token") or tokens.get("access_token") or "")
        fields = {
            "grant_type": draw(st.sampled_from(["authorization_code", "refresh_token"])),
            "code": "x" * 30,
            "redirect_uri": REDIRECT,
            "code_verifier": "v" * 50,
            "refresh_token": real or "r" * 40,
            "token": real or "t" * 40,
            "token_type_hint": draw(st.sampled_from(["access_token", "refresh_token"])),
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        body, kind = draw(bodies(fields))
        auth = draw(st.one_of(st.none(), client_auth))
        if auth is not None:
            headers = {**headers, "Authorization": auth}
        request = requests.Request("POST", bench.url + path, headers={**headers, **kind}, data=body)
        return f"POST {path}", request, None

    return build()


def api_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """The account API (INTERFACE.md §5) with a valid, missing, malformed or foreign
    bearer token, and hostile, repeated or reversed parameters."""
    params = mutated(
        {
            "accountId": ACCOUNT_KEY,
            "dateFrom": "2026-10-01",
            "dateTo": "2026-11-24",
            "nextItemKey": None,
        },
        {"nextItemKey": hostile_text(), "dateFrom": near("2026-08-01")},
    )

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        path = draw(
            st.sampled_from(["/v1/accounts", "/v1/accounts/balances", "/v1/accounts/transactions"])
        )
        method = draw(st.sampled_from(["GET", "GET", "GET", "GET", "POST", "DELETE"]))
        kind = draw(st.sampled_from(["valid", "valid", "none", "garbage", "scheme", "admin"]))
        token = ""
        if kind == "valid":
            token = "Bearer " + str(bench.tokens()["access_token"])
        elif kind == "garbage":
            token = "Bearer " + draw(header_text())
        elif kind == "scheme":
            token = draw(
                st.sampled_from(
                    [
                        "Basic Y3JlY286Y3JlY28tc2VjcmV0",
                        "bearer",
                        "Bearer",
                        "Bearer  ",
                        "Token x",
                        "Bearer a b",
                    ]
                )
            )
        elif kind == "admin":
            token = "Bearer " + bench.admin_token
        headers = {**draw(accepts()), **({"Authorization": token} if token else {})}
        query = _query(draw(params))
        body, body_kind = (None, {}) if method == "GET" else draw(bodies({}))
        request = requests.Request(
            method, f"{bench.url}{path}?{query}", headers={**headers, **body_kind}, data=body
        )
        return f"{method} {path}", request, None

    return build()


def telephony_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """The telephony gateway (INTERFACE.md §4) with hostile JSON."""

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        fields = {"from": PERSON["phone"], "to": "1860120111111", "caller_id": "shown"}
        body, kind = draw(bodies(fields))
        headers = {**draw(accepts()), **kind}
        if draw(st.booleans()):
            headers["X-Telephony-Secret"] = draw(header_text())
        request = requests.Request(
            "POST", bench.url + "/telephony/calls", headers=headers, data=body
        )
        return "POST /telephony/calls", request, None

    return build()


#: The controls of INTERFACE.md §6 with the fields of their JSON bodies (right values).
CONTROLS_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/sandbox/clock"): {},
    ("PUT", "/sandbox/clock"): {"now": BASELINE_NOW, "frozen": True},
    ("DELETE", "/sandbox/clock"): {},
    ("POST", "/sandbox/clock/advance"): {"seconds": 60},
    ("GET", "/sandbox/faults"): {},
    ("PUT", "/sandbox/faults"): {"congestion": False, "system_error": False},
    ("POST", "/sandbox/maintenance"): {
        "start": "2026-11-25T01:00:00+09:00",
        "end": "2026-11-25T02:00:00+09:00",
        "label": "テスト",
    },
    ("GET", "/sandbox/maintenance"): {},
    ("POST", "/sandbox/reset"): {"today": "2026-11-24"},
    ("GET", "/sandbox/mail"): {},
    ("GET", "/sandbox/oplog"): {},
    ("GET", "/admin/locks"): {},
    ("DELETE", "/admin/locks/{account}"): {},
    ("GET", "/admin/grants"): {},
    ("POST", "/admin/grants/{id}/revoke"): {},
    ("POST", "/sandbox/grants/{id}/uninstall"): {},
    ("POST", "/admin/accounts/move"): {
        "from": {"branch_no": "115", "account_type": "1", "account_no": "1100026"},
        "to": {"branch_no": "022", "account_type": "1", "account_no": "7654321"},
    },
}


def control_requests(bench: Bench) -> st.SearchStrategy[Generated]:
    """The sandbox and operator controls (INTERFACE.md §6): with the admin token,
    without, or with a wrong one; JSON bodies with right, hostile or wrongly typed
    values; hostile path segments."""

    def value(right: Any) -> st.SearchStrategy[Any]:
        if isinstance(right, dict):
            return st.one_of(
                st.fixed_dictionaries({k: value(v) for k, v in right.items()}), json_value()
            )
        if isinstance(right, str):
            return st.one_of(near(right), json_value())
        return st.one_of(st.just(right), json_value())

    @st.composite
    def build(draw: st.DrawFn) -> Generated:
        method, template = draw(st.sampled_from(sorted(CONTROLS_FIELDS)))
        right = CONTROLS_FIELDS[(method, template)]
        segment = quote(draw(st.one_of(st.just(ACCOUNT_KEY), hostile_text())), safe="")
        path = template.replace("{account}", segment).replace("{id}", segment)
        auth = draw(st.sampled_from(["valid", "valid", "valid", "none", "wrong"]))
        headers = draw(accepts())
        if auth == "valid":
            headers["Authorization"] = f"Bearer {bench.admin_token}"
        elif auth == "wrong":
            headers["Authorization"] = "Bearer " + draw(header_text())
        shape = draw(st.sampled_from(["fields", "fields", "other"]))
        if shape == "fields" and right:
            data = draw(st.fixed_dictionaries({}, optional={k: value(v) for k, v in right.items()}))
            body: bytes | None = json.dumps(data).encode()
            kind = {"Content-Type": "application/json"}
        elif shape == "fields":
            body, kind = None, {}
        else:
            body, kind = draw(bodies({k: json.dumps(v) for k, v in right.items()}))
        request = requests.Request(method, bench.url + path, headers={**headers, **kind}, data=body)
        return f"{method} {template}", request, None

    return build()


GROUPS: dict[str, Callable[[Bench], st.SearchStrategy[Generated]]] = {
    "screens": screen_requests,
    "oauth": oauth_requests,
    "api": api_requests,
    "telephony": telephony_requests,
    "controls": control_requests,
}


def _settings(examples: int, seed: int | None) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        # Generation only: nothing is raised to shrink (findings are recorded and
        # the run goes on), and no example database is replayed.
        phases=(Phase.generate,),
    )


def fuzz_forms(
    bench: Bench,
    examples: int,
    seed: int | None = None,
    until: float | None = None,
    groups: tuple[str, ...] = tuple(GROUPS),
) -> None:
    """``examples`` generated requests per group of :data:`GROUPS` (Hypothesis;
    ``seed`` None: the same sample every run), stopping early at ``until``
    (``time.monotonic()``)."""
    for name in groups:
        _run_seeded(_form_runner(bench, GROUPS[name](bench), examples, seed, until), seed)


def _form_runner(
    bench: Bench,
    strategy: st.SearchStrategy[Generated],
    examples: int,
    seed: int | None,
    until: float | None,
) -> Callable[[], None]:
    @_settings(examples, seed)
    @given(item=strategy)
    def run(item: Generated) -> None:
        if until is not None and time.monotonic() > until:
            return
        endpoint, request, flow = item
        response = bench.send(endpoint, request)
        if response is None:
            bench.forget_flow(flow or "")
            return
        if flow is not None and not _keeps_flow(Seen.of(response)):
            bench.forget_flow(flow)

    runner: Callable[[], None] = run
    return runner


def _run_seeded(run: Callable[[], None], seed: int | None) -> None:
    if seed is not None:
        run = _seed(seed)(run)
    try:
        run()
    except HypothesisException as error:
        # Unsatisfiable and the like: a generator that found nothing to send
        # is not a failure of the target (and should not stop the campaign).
        print(f"  ({error.__class__.__name__}: {str(error)[:100]})")


def _seed(seed: int) -> Callable[[Callable[[], None]], Callable[[], None]]:
    decorate: Callable[[Callable[[], None]], Callable[[], None]] = hypothesis_seed(seed)
    return decorate


#: Every endpoint that takes a body.
BODY_TARGETS = (
    *(f"POST {p}" for p in SCREEN_FIELDS),
    "POST /oauth/token",
    "POST /oauth/revoke",
    "POST /oauth/introspect",
    "POST /telephony/calls",
    "PUT /sandbox/clock",
    "POST /sandbox/maintenance",
    "POST /admin/accounts/move",
)


def huge_bodies(bench: Bench, targets: tuple[str, ...] = BODY_TARGETS) -> None:
    """A 5 MB body to each of ``targets`` (``"METHOD /path"``), form and JSON with a
    Content-Length, and a form chunked (no length given up front)."""
    flow = bench.flow_at("/connect/account")
    for target in targets:
        method, path = target.split(" ")
        for kind, chunked in (
            ("application/x-www-form-urlencoded", False),
            ("application/json", False),
            ("application/x-www-form-urlencoded", True),
        ):
            payload = (
                b"csrf_token=" + (flow.csrf.encode() if flow else b"") + b"&a=" + b"x" * FIVE_MB
            )
            headers = {"Content-Type": kind, "Authorization": f"Bearer {bench.admin_token}"}
            if flow is not None:
                headers["Cookie"] = f"{FLOW_COOKIE}={flow.cookie}"
            data: bytes | Iterator[bytes] = _chunks(payload) if chunked else payload
            request = requests.Request(method, bench.url + path, headers=headers, data=data)
            bench.send(f"{target} (5 MB)", request)


def _chunks(payload: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


# -- Schemathesis ------------------------------------------------------------------------------

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_openapi(
    bench: Bench, examples: int, seed: int | None = None, until: float | None = None
) -> None:
    """Schemathesis over every operation of the target's ``/openapi.json``:
    ``examples`` positive and ``examples`` negative cases each, with the right
    credentials or none (and, for the screens, a valid flow cookie and CSRF token
    or none)."""
    schema = schemathesis.openapi.from_url(bench.url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations() if isinstance(r, Ok)]
    for operation in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if _negatable(operation.definition.raw):
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode)
            _run_seeded(_openapi_runner(bench, strategy, examples, seed, until), seed)


def _negatable(operation: dict[str, Any]) -> bool:
    """Whether the document forbids anything Schemathesis could send to ``operation``:
    a body, credentials, or a parameter with a constraint. (An operation with only
    free strings has no negative case; Hypothesis would look for one for a second.)"""
    if operation.get("requestBody") or operation.get("security"):
        return True
    return any(p.get("schema") != {"type": "string"} for p in operation.get("parameters", []))


def _openapi_runner(
    bench: Bench,
    strategy: st.SearchStrategy[Any],
    examples: int,
    seed: int | None,
    until: float | None,
) -> Callable[[], None]:
    @_settings(examples, seed)
    @given(case=strategy, credentials=st.sampled_from(["valid", "valid", "none"]))
    def run(case: Any, credentials: str) -> None:
        if until is not None and time.monotonic() > until:
            return
        _call(bench, case, credentials, str(case.operation.label))

    runner: Callable[[], None] = run
    return runner


def _call(bench: Bench, case: Any, credentials: str, label: str) -> None:
    """One Schemathesis case: sent, judged by :func:`judge` and by the document."""
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    path = case.operation.path
    security = [
        name for entry in case.operation.definition.raw.get("security", []) for name in entry
    ]
    flow_path = FLOW_FOR.get(path, "/connect/account" if path.startswith("/connect/") else None)
    if credentials == "valid":
        if "adminToken" in security:
            headers["Authorization"] = f"Bearer {bench.admin_token}"
        elif "bearer" in security:
            headers["Authorization"] = "Bearer " + str(bench.tokens()["access_token"])
        elif "clientBasic" in security:
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        if flow_path is not None:
            flow = bench.flow_at(flow_path)
            if flow is not None:
                cookies[FLOW_COOKIE] = flow.cookie
                if isinstance(case.body, dict):
                    case.body["csrf_token"] = flow.csrf
    try:
        response = case.call(
            base_url=bench.url,
            session=bench.http,
            headers=headers,
            cookies=cookies,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        bench.unanswered(f"{label} (openapi)", f"{label}: {case.as_curl_command()}", error)
        return
    seen = Seen.of_schemathesis(response)
    problems = judge(seen, bench.url)
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        problems += [f"{f.title}: {f.message}".replace("\n", " ")[:300] for f in group.exceptions]
    except AssertionError as failure:
        problems.append(str(failure).replace("\n", " ")[:300])
    example = describe(response.request)
    bench.tally.record(f"{label} (openapi)", response.status_code, problems, example)
    bench.after(case.method.upper(), case.formatted_path, seen.status)
    if flow_path is not None and cookies and not _keeps_flow(seen):
        bench.forget_flow(flow_path)
