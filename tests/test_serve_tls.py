"""``renkei serve --certfile/--keyfile``: HTTPS (R-AUTHZ-2), and its errors.

A self-signed certificate for 127.0.0.1 is made with ``cryptography`` (which
Authlib brings); the server answers the OAuth metadata over HTTPS, names the
https issuer, and a plain-HTTP request gets no answer from it. Over HTTPS every
answer carries HSTS and the flow cookie is ``Secure``; so behind a TLS proxy
(``--issuer https://…``); over plain HTTP neither (RFC 6797 §7.2). Bad TLS options
are a one-line error with exit status 2.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.driver import PartnerApp
from harness.embedded import free_port

HSTS = "Strict-Transport-Security"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)  # noqa: TID251 - TLS checks validity against real time
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def serve(tmp_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "renkei",
            "serve",
            "--data-dir",
            str(tmp_path / "data"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(url: str, process: subprocess.Popen[bytes], **options: Any) -> requests.Response:
    """The metadata of the server ``process`` starts at ``url``, once it answers."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return requests.get(
                url + "/.well-known/oauth-authorization-server", timeout=2, **options
            )
        except (requests.ConnectionError, requests.Timeout):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, f"{url} did not start"
            time.sleep(0.1)


def flow_cookie(url: str, **options: Any) -> str:
    """The Set-Cookie of a flow's start: the 303 of a valid authorization request."""
    r = requests.get(PartnerApp(url).authorize_url(), allow_redirects=False, timeout=10, **options)
    assert r.status_code == 303, r.text
    return r.headers["Set-Cookie"]


def attributes(cookie: str) -> set[str]:
    """A Set-Cookie's attribute names, lower case (``secure``, ``httponly``, ``path``…)."""
    return {part.split("=")[0].strip().lower() for part in cookie.split(";")[1:]}


def test_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    process = serve(tmp_path, "--port", str(port), "--certfile", str(cert), "--keyfile", str(key))
    url = f"https://127.0.0.1:{port}"
    try:
        r = wait_for(url, process, verify=str(cert))
        assert r.status_code == 200
        assert r.json()["issuer"].startswith("https://127.0.0.1:")
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers[HSTS] == "max-age=31536000"
        # Every answer, the sandboxes' dispatcher's own 404 and a static file too.
        for path in ("/s/no-such-sandbox/", "/static/renkei.js"):
            answer = requests.get(url + path, verify=str(cert), timeout=10)
            assert answer.headers[HSTS] == "max-age=31536000", path
        assert {"secure", "httponly"} <= attributes(flow_cookie(url, verify=str(cert)))
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        process.terminate()
        # SIGTERM right after a plain-HTTP request to the TLS port was once lost
        # in cheroot's clean-up (about one start in four): it must end the server.
        assert process.wait(timeout=15) == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--certfile", "nope.pem"), "--certfile and --keyfile go together"),
        (("--certfile", "nope.pem", "--keyfile", "nope.key"), "cannot use --certfile nope.pem"),
        (
            ("--certfile", "{cert}", "--keyfile", "{key}", "--workers", "2"),
            "HTTPS is served by one process",
        ),
    ],
)
def test_bad_tls_options_are_a_clear_error(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    cert, key = self_signed(tmp_path)
    argv = [o.format(cert=cert, key=key) for o in options]
    process = serve(tmp_path, "--port", str(free_port()), *argv)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert message in err.decode() and "Traceback" not in err.decode()


@pytest.mark.parametrize(
    ("issuer", "over_https"),
    [(None, False), ("https://sandbox.example.jp", True)],
    ids=["plain-http", "behind-a-tls-proxy"],
)
def test_hsts_and_secure_cookies_follow_the_issuer(
    tmp_path: Path, issuer: str | None, over_https: bool
) -> None:
    """Plain HTTP: no HSTS and no Secure cookie. Behind a TLS proxy, the issuer an
    https origin: the browser reaches the bank over HTTPS, and gets both."""
    port = free_port()
    process = serve(tmp_path, "--port", str(port), *(("--issuer", issuer) if issuer else ()))
    url = f"http://127.0.0.1:{port}"
    try:
        r = wait_for(url, process)
        assert r.status_code == 200
        assert (HSTS in r.headers) is over_https
        if over_https:
            assert r.headers[HSTS] == "max-age=31536000"
        cookie = attributes(flow_cookie(url))
        assert "httponly" in cookie
        assert ("secure" in cookie) is over_https
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
