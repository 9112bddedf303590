"""``renkei serve``: the sandbox bank on its embedded defaults (INTERFACE.md §7).

SQLite in a data directory, the embedded mail sink, the sandbox clock; the
admin token from ``--admin-token``, ``RENKEI_ADMIN_TOKEN`` or, failing both, a
random one kept in the data directory; the PIN key and the session key in
files of their own beside the database, never in it (R-AUTHZ-2).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from cheroot import wsgi as cheroot_wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from tabulate import tabulate
from waitress import create_server

from simulator.scenario import ScenarioError, load_scenario
from simulator.web.app import create_app
from simulator.web.bank import Bank, BankConfig, load_or_create_key
from simulator.web.mail import free_port, start_sink
from simulator.web.server import build

#: Open connections per process before waitress stops accepting: well above its
#: default of 100, since every customer's browser keeps one alive (keep-alive) and
#: load tests open many; idle ones are closed after waitress's channel timeout.
CONNECTION_LIMIT = 1000

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "default.yaml"


def add_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the sandbox bank",
        description="Run the sandbox bank: the six screens, OAuth 2.0, the account API, the "
        "telephony gateway, mail and the sandbox controls.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (8000)")
    serve.add_argument(
        "--scenario",
        default=str(DEFAULT_SCENARIO),
        metavar="FILE",
        help="scenario YAML (scenarios/default.yaml)",
    )
    serve.add_argument(
        "--data-dir",
        default="data",
        metavar="DIR",
        help="where the SQLite file and the keys live (./data)",
    )
    serve.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://… (SQLite in --data-dir)",
    )
    serve.add_argument(
        "--admin-token",
        default=os.environ.get("RENKEI_ADMIN_TOKEN"),
        metavar="TOKEN",
        help="admin token (also RENKEI_ADMIN_TOKEN)",
    )
    serve.add_argument(
        "--smtp",
        metavar="HOST:PORT",
        help="send the completion mail to this SMTP server (embedded sink)",
    )
    serve.add_argument(
        "--telephony-secret",
        default=os.environ.get("RENKEI_TELEPHONY_SECRET"),
        metavar="SECRET",
        help="the shared secret the telephony gateway requires in the X-Telephony-Secret "
        "header (also RENKEI_TELEPHONY_SECRET); without it the sandbox's gateway is open",
    )
    serve.add_argument(
        "--certfile",
        metavar="PEM",
        help="serve HTTPS with this certificate chain (with --keyfile; one process)",
    )
    serve.add_argument("--keyfile", metavar="PEM", help="the private key of --certfile")
    serve.add_argument("--threads", type=int, default=8, help="threads per process (8)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port and the database (1)",
    )
    serve.set_defaults(handler=run)


def _smtp(text: str | None) -> tuple[str | None, int]:
    if not text:
        return None, 25
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--smtp wants HOST:PORT, not {text!r}")
    return host, int(port)


def config_from(args: argparse.Namespace) -> BankConfig:
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    token = args.admin_token
    if not token:
        token_file = data / "admin-token"
        if not token_file.exists():
            token_file.touch(mode=0o600)
            token_file.write_text(secrets.token_hex(20))  # hex: never starts with "-"
        token = token_file.read_text().strip()
    smtp_host, smtp_port = _smtp(args.smtp)
    scheme = "https" if tls_context(args) is not None else "http"
    return BankConfig(
        database_url=args.database_url or f"sqlite:///{(data / 'renkei.db').resolve()}",
        admin_token=token,
        pin_key=load_or_create_key(data / "pin.key"),
        secret_key=load_or_create_key(data / "secret.key"),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        issuer=f"{scheme}://{args.host}:{args.port}",
        telephony_secret=args.telephony_secret or None,
    )


def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context of --certfile/--keyfile (R-AUTHZ-2), or None for plain HTTP.

    A missing or unreadable file, or a key that does not match, is a ValueError
    with a clear message rather than a traceback."""
    if not args.certfile and not args.keyfile:
        return None
    if not (args.certfile and args.keyfile):
        raise ValueError("--certfile and --keyfile go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.certfile, args.keyfile)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(
            f"cannot use --certfile {args.certfile} / --keyfile {args.keyfile}: {error}"
        ) from None
    return context


def banner(url: str, config: BankConfig, scenario: Any) -> str:
    clients = tabulate(
        [
            (c.client_id, c.client_secret, c.name, "\n".join(c.redirect_uris))
            for c in scenario.clients
        ],
        headers=["client_id", "client_secret", "app", "redirect URIs"],
    )
    personas = tabulate(
        [
            (p.id, "\n".join(str(a.key) for a in p.accounts), p.phone, p.behaviour)
            for p in scenario.personas
        ],
        headers=["persona", "accounts", "phone", "for"],
        maxcolwidths=[None, None, None, 60],
    )
    return "\n".join(
        [
            f"renkei sandbox bank on {url}",
            f"  authorize   {url}/oauth/authorize",
            f"  token       {url}/oauth/token",
            f"  metadata    {url}/.well-known/oauth-authorization-server",
            f"  API docs    {url}/docs",
            f"  admin token {config.admin_token}",
            f"  database    {config.database_url}",
            "",
            "Partner apps:",
            clients,
            "",
            "Personas:",
            personas,
        ]
    )


def run(args: argparse.Namespace, out: TextIO) -> int:
    # waitress warns "Task queue depth is N" each time a request waits for a
    # thread: under any load test, thousands of lines saying the test is a load
    # test. Requests queued in front of the bank show in a client's latency.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    try:
        scenario = load_scenario(args.scenario)
        config = config_from(args)
        if args.workers < 1 or args.threads < 1:
            raise ValueError("--workers and --threads must be at least 1")
        tls = tls_context(args)
        if tls is not None and args.workers > 1:
            raise ValueError(
                "HTTPS is served by one process; for more, run --workers behind a TLS proxy"
            )
    except (ScenarioError, ValueError, OSError) as error:
        print(f"renkei: {error}", file=sys.stderr)
        return 2
    if args.workers > 1:
        return run_workers(args, config, scenario, out)
    bank, sink = build(config, scenario)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if tls is not None:
            serve_tls(args, bank, scenario, tls, out)
        else:
            server = create_server(
                create_app(bank),
                host=args.host,
                port=args.port,
                threads=args.threads,
                connection_limit=CONNECTION_LIMIT,
            )
            url = f"http://{args.host}:{server.effective_port}"
            print(banner(url, bank.config, scenario), file=out, flush=True)
            server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if sink is not None:
            sink.stop()
        bank.db.dispose()  # close the database connections now, cleanly
        # The interpreter's last garbage collection would walk the whole heap
        # (Flask, SQLAlchemy, the scenario) for a few tenths of a second, to
        # free memory of a process that is ending; the harness waits for it.
        gc.freeze()
    return 0


def serve_tls(
    args: argparse.Namespace, bank: Bank, scenario: Any, tls: ssl.SSLContext, out: TextIO
) -> None:
    """HTTPS (R-AUTHZ-2: 通信はTLSで暗号化) with cheroot, as waitress has no TLS."""
    server = cheroot_wsgi.Server((args.host, args.port), create_app(bank), numthreads=args.threads)
    adapter = BuiltinSSLAdapter(args.certfile, args.keyfile)
    adapter.context = tls  # TLS 1.2 at least, as tls_context set it
    server.ssl_adapter = adapter
    server.prepare()
    port = server.bind_addr[1] if isinstance(server.bind_addr, tuple) else args.port
    # SIGTERM asks cheroot to stop from a thread of its own rather than raising
    # SystemExit in the main thread: raised while cheroot's buffered socket files
    # are being finalised (IOBase.__del__), the exception is printed and dropped,
    # and the server went on serving; 4 of 15 starts ignored a SIGTERM sent right
    # after a plain-HTTP request to the TLS port.
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=server.stop, daemon=True).start()
    )
    print(banner(f"https://{args.host}:{port}", bank.config, scenario), file=out, flush=True)
    try:
        server.serve()
    finally:
        server.stop()


def run_workers(args: argparse.Namespace, config: BankConfig, scenario: Any, out: TextIO) -> int:
    """Pre-fork: one listening socket, ``--workers`` processes serving it, each with
    its own database connections; the parent keeps the embedded mail sink."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(1024)
    url = f"http://{args.host}:{listener.getsockname()[1]}"
    config = replace(config, issuer=url)
    if config.smtp_host is None:
        config = replace(config, smtp_host="127.0.0.1", smtp_port=free_port(), embedded_mail=True)
    Bank(config, scenario).db.dispose()  # seed the database once, before forking
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:  # a worker: its own engine, the shared socket
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            app = create_app(Bank(config, scenario))
            create_server(
                app, sockets=[listener], threads=args.threads, connection_limit=CONNECTION_LIMIT
            ).run()
            os._exit(0)
        children.append(pid)
    listener.close()
    bank = Bank(config, scenario)
    sink = start_sink(bank, config.smtp_port)[0] if config.embedded_mail else None
    print(banner(url, config, scenario), file=out, flush=True)
    print(
        f"  workers     {args.workers} processes: {', '.join(map(str, children))}",
        file=out,
        flush=True,
    )

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        pid, _status = os.wait()
        children.remove(pid)  # a worker died: stop the rest rather than limp on
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if sink is not None:
            sink.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m simulator.serve [OPTIONS]``: ``renkei serve [OPTIONS]``, the same
    options and code, without importing the rest of the ``renkei`` command (conform,
    simulate, replay), which a server does not need. The harness's embedded target
    starts the bank this way, since it waits for it (harness/embedded.py)."""
    parser = argparse.ArgumentParser(prog="renkei")
    add_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as e:  # --help and usage errors: argparse has printed
        return e.code if isinstance(e.code, int) else 0
    status: int = args.handler(args, sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
