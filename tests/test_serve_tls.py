"""``renkei serve --certfile/--keyfile``: HTTPS (R-AUTHZ-2), and its errors.

A self-signed certificate for 127.0.0.1 is made with ``cryptography`` (which
Authlib brings); the server answers the OAuth metadata over HTTPS, names the
https issuer, and a plain-HTTP request gets no answer from it. Bad TLS options
are a one-line error with exit status 2.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.embedded import free_port


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


def test_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    process = serve(tmp_path, "--port", str(port), "--certfile", str(cert), "--keyfile", str(key))
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = requests.get(
                    url + "/.well-known/oauth-authorization-server", verify=str(cert), timeout=2
                )
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the HTTPS server did not start"
                time.sleep(0.1)
        assert r.status_code == 200
        assert r.json()["issuer"].startswith("https://127.0.0.1:")
        assert r.headers["Cache-Control"] == "no-store"
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
