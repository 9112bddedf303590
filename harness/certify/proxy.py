"""The recording reverse proxy the app under certification is pointed at.

Every request to the proxy's port goes on to the bank unchanged (the ``Host``
header included, so that the bank's own absolute URLs — its RFC 8414 metadata —
name the proxy, and the app keeps talking through it) and comes back unchanged,
except in the one situation where certify forges a return on purpose
(:meth:`Recorder.forge_next_state`, RFC 6749 §10.12). Each exchange is recorded
(:class:`~harness.certify.record.Exchange`) under the situation and phase in
force when it arrived.

In front of a sandbox of INTERFACE.md §9 (``target`` ``http://host/s/ID``) the
proxy takes both the contract's paths (``/oauth/token``, relative to the
sandbox) and the sandbox's own, which its answers name with the prefix (a
``Location``, a form's action: ``/s/ID/connect/account``), and records both
without the prefix; the flow cookie's path, the sandbox's, becomes the proxy's
``/``, as the proxy serves the one sandbox at its root; calls to the telephony
gateway get the bank's credential (``phone_credential``: its telephony secret,
or the admin token when that is not known), as the phone network's gateway would
add it (§4), in place of whatever the caller sent.

Paths under ``/_certify/`` are the proxy's own and never reach the bank:

* ``GET /_certify/status``: JSON of the situation in progress — ``situation``,
  ``phase``, ``index``, ``total``, ``title``, ``instructions``, ``persona``,
  ``account``, ``finished``, ``version`` — so that a program can play the app;
  with ``?version=V&wait=S`` it answers once the version is no longer ``V``, or
  after ``S`` seconds (at most 30): a long poll;
* ``POST /_certify/done`` (JSON or form ``{"situation": id}``; without it, the
  situation in progress): the app or tester has done what the instructions say,
  as a human tester's Enter;
* ``GET /_certify/``: the same as a page for a tester's browser, with a button
  for "done".
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import urllib3

from harness.certify.record import Exchange, first_values, read_screen
from harness.render import page
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER

#: Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message.
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
#: How long the proxy waits for the bank on one request.
UPSTREAM_SECONDS: Final = 30.0
#: The longest a long poll of the status waits.
LONG_POLL: Final = 30.0
#: Bodies larger than this are forwarded but not parsed for the record.
PARSE_LIMIT: Final = 2_000_000


class Recorder:
    """The run's shared state between the proxy's threads and the runner: the
    exchanges, the status shown to the tester, and the "done" signals."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._began = time.monotonic()
        self.exchanges: list[Exchange] = []
        self._status: dict[str, Any] = {"situation": None, "finished": False, "version": 0}
        self._done: set[str] = set()
        self._forge = False

    def now(self) -> float:
        """Seconds since the run began."""
        return time.monotonic() - self._began

    # -- the status and the done signal ---------------------------------------------------------

    def status(self, unlike: int | None = None, wait: float = 0.0) -> dict[str, Any]:
        """The status; with ``unlike``, once its version differs from that one (or
        after ``wait`` seconds), so that a program need not poll."""
        with self._changed:
            if unlike is not None:
                self._changed.wait_for(lambda: self._status["version"] != unlike, wait)
            return dict(self._status)

    def show(self, **status: Any) -> None:
        with self._changed:
            version = int(self._status["version"]) + 1
            self._status = {"finished": False, **status, "version": version}
            self._changed.notify_all()

    def signal_done(self, situation: str | None = None) -> bool:
        """The tester or app says the situation in progress (or ``situation``, if it
        is the one in progress) is done; False when that is not the one in progress."""
        with self._changed:
            current = self._status.get("situation")
            if current is None or (situation is not None and situation != current):
                return False
            self._done.add(str(current))
            self._changed.notify_all()
            return True

    def is_done(self, situation: str) -> bool:
        with self._changed:
            return situation in self._done

    # -- exchanges -------------------------------------------------------------------------------

    def begin(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> Exchange:
        with self._changed:
            exchange = Exchange(
                seq=len(self.exchanges) + 1,
                situation=self._status.get("situation"),
                phase=self._status.get("phase"),
                sent=self.now(),
                method=method,
                path=path,
                query=query,
                headers=headers,
            )
            self.exchanges.append(exchange)
            return exchange

    def finish(self, exchange: Exchange) -> None:
        with self._changed:
            exchange.answered = self.now()
            self._changed.notify_all()

    def snapshot(self) -> list[Exchange]:
        """The finished exchanges so far (an unfinished one has no answer yet)."""
        with self._changed:
            return [e for e in self.exchanges if e.answered]

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate`` holds (re-tested on every new answer and signal)
        or ``timeout`` seconds pass; answers whether it holds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Re-test at least every half second: a predicate may also look at
                # something other than the record (the tester's stdin, say).
                self._changed.wait(min(left, 0.5))
            return True

    def notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- the forged return (RFC 6749 §10.12) ----------------------------------------------------

    def forge_next_state(self, on: bool = True) -> None:
        with self._changed:
            self._forge = on

    def take_forge(self) -> bool:
        with self._changed:
            armed, self._forge = self._forge, False
            return armed


def forge_state(exchange: Exchange, location: str) -> str:
    """The redirect back to the app with another ``state``, as an attacker who
    planted their own authorization response would send it (RFC 6749 §10.12)."""
    parts = urlsplit(location)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    forged = secrets.token_urlsafe(16)
    values = first_values(pairs)
    exchange.tampered = {
        "state_sent": values.get("state", ""),
        "state_forged": forged,
        "code": values.get("code", ""),
    }
    pairs = [(k, forged if k == "state" else v) for k, v in pairs]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def status_page(status: dict[str, Any]) -> str:
    """``GET /_certify/``: the instructions for a tester's browser, refreshed every 2 s
    (``harness/templates/proxy.html``)."""
    return page("proxy.html", status=status)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: The head and the body go out in two writes; with Nagle's algorithm the
    #: second waits for the client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True
    server: CertifyServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the record is the log."""

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self._send(status, [("Content-Type", "application/json; charset=utf-8")], data)

    def _own(self, path: str, body: bytes) -> None:
        recorder = self.server.recorder
        if path in ("/_certify", "/_certify/") and self.command == "GET":
            page = status_page(recorder.status()).encode("utf-8")
            self._send(200, [("Content-Type", "text/html; charset=utf-8")], page)
        elif path == "/_certify/status" and self.command == "GET":
            asked = first_values(parse_qsl(urlsplit(self.path).query))
            try:
                unlike = int(asked["version"]) if "version" in asked else None
                wait = min(float(asked.get("wait", "10")), LONG_POLL)
            except ValueError:
                self._json(400, {"error": "invalid_request", "error_description": "bad version"})
                return
            self._json(200, recorder.status(unlike, max(wait, 0.0)))
        elif path == "/_certify/done" and self.command == "POST":
            situation = None
            kind = self.headers.get("Content-Type", "")
            try:
                if kind.startswith("application/json") and body:
                    data = json.loads(body)
                    situation = data.get("situation") if isinstance(data, dict) else None
                elif body:
                    situation = first_values(parse_qsl(body.decode("utf-8"))).get("situation")
            except (ValueError, UnicodeDecodeError):
                self._json(400, {"error": "invalid_request", "error_description": "bad body"})
                return
            accepted = recorder.signal_done(str(situation) if situation else None)
            if kind.startswith("application/x-www-form-urlencoded"):
                self._send(303, [("Location", "/_certify/")], b"")
            else:
                self._json(200 if accepted else 409, {"accepted": accepted, **recorder.status()})
        else:
            self._json(404, {"error": "not_found", "error_description": f"no {path}"})

    def _forward(self) -> None:
        recorder = self.server.recorder
        parts = urlsplit(self.path)
        body = self._body()
        if parts.path.startswith("/_certify"):
            self._own(parts.path, body)
            return
        query = first_values(parse_qsl(parts.query, keep_blank_values=True))
        sent_headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        bank_path, upstream = parts.path, self.path
        prefix = self.server.prefix
        if prefix and (bank_path == prefix or bank_path.startswith(prefix + "/")):
            bank_path, upstream = bank_path[len(prefix) :] or "/", upstream[len(prefix) :]
        exchange = recorder.begin(self.command, bank_path, query, sent_headers)
        credential = self.server.phone_credential
        if credential and bank_path == CALLS_PATH:
            replaced = {SECRET_HEADER.lower(), "authorization"}
            sent_headers = {
                **{k: v for k, v in sent_headers.items() if k.lower() not in replaced},
                **credential,
            }
        kind = self.headers.get("Content-Type", "")
        if body and len(body) <= PARSE_LIMIT:
            try:
                if kind.startswith("application/x-www-form-urlencoded"):
                    exchange.form = first_values(
                        parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                    )
                elif kind.startswith("application/json"):
                    exchange.body_json = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                pass  # recorded as sent: the bank judges a malformed body, not the proxy
        try:
            answer = self.server.pool.request(
                self.command,
                self.server.target + upstream,
                body=body or None,
                headers=sent_headers,
                redirect=False,
                retries=False,
                preload_content=True,
                decode_content=False,
                timeout=UPSTREAM_SECONDS,
            )
        except urllib3.exceptions.HTTPError as error:
            exchange.failure = f"the bank did not answer: {error}"
            exchange.status = 502
            recorder.finish(exchange)
            self._json(502, {"error": "bad_gateway", "error_description": exchange.failure})
            return
        headers = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP]
        if prefix:
            headers = [
                (k, _cookie_path(v, prefix) if k.lower() == "set-cookie" else v) for k, v in headers
            ]
        exchange.status = answer.status
        data = answer.data or b""
        location = answer.headers.get("Location")
        if (
            location
            and answer.status in (302, 303)
            and "code=" in location
            and urlsplit(location).scheme
            and recorder.take_forge()
        ):
            forged = forge_state(exchange, location)
            headers = [(k, forged if k.lower() == "location" else v) for k, v in headers]
        exchange.response_headers = dict(headers)
        encoded = answer.headers.get("Content-Encoding", "identity").lower() != "identity"
        if not encoded and len(data) <= PARSE_LIMIT:
            read_screen(exchange, data, answer.headers.get("Content-Type", ""))
        self._send(answer.status, headers, data)
        recorder.finish(exchange)

    do_GET = _forward
    do_POST = _forward
    do_PUT = _forward
    do_DELETE = _forward
    do_PATCH = _forward
    do_HEAD = _forward
    do_OPTIONS = _forward


def _cookie_path(cookie: str, prefix: str) -> str:
    """A sandbox's cookie (``Path=/s/ID/``) for the proxy's root, where the app and
    renkei's own players speak the contract's paths without the prefix."""
    return re.sub(rf"(;\s*path=){re.escape(prefix)}(/|(?=;|$))", r"\1/", cookie, flags=re.I)


class CertifyServer(ThreadingHTTPServer):
    daemon_threads = True
    #: Many keep-alive connections at once: a browser, a phone and an app.
    request_queue_size = 64

    def __init__(
        self,
        port: int,
        target: str,
        recorder: Recorder,
        phone_credential: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.target = target.rstrip("/")
        #: A sandbox's prefix (``/s/ID``, §9), or "" for a server's root.
        self.prefix = urlsplit(self.target).path
        #: The header(s) each call to the gateway is sent with (§4).
        self.phone_credential = dict(phone_credential or {})
        self.recorder = recorder
        self.pool = urllib3.PoolManager(maxsize=16)


class CertifyProxy:
    """The proxy on a loopback port (0: a free one), served from a thread of its own."""

    def __init__(
        self,
        target: str,
        recorder: Recorder,
        port: int = 0,
        phone_credential: Mapping[str, str] | None = None,
    ) -> None:
        self.server = CertifyServer(port, target, recorder, phone_credential)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> CertifyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.pool.clear()
        self._thread.join(timeout=10)
