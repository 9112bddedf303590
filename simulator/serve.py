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
import os
import secrets
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from tabulate import tabulate
from waitress import create_server

from simulator.scenario import ScenarioError, load_scenario
from simulator.web.app import create_app
from simulator.web.bank import Bank, BankConfig, load_or_create_key
from simulator.web.mail import free_port, start_sink
from simulator.web.server import build

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
    return BankConfig(
        database_url=args.database_url or f"sqlite:///{(data / 'renkei.db').resolve()}",
        admin_token=token,
        pin_key=load_or_create_key(data / "pin.key"),
        secret_key=load_or_create_key(data / "secret.key"),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        issuer=f"http://{args.host}:{args.port}",
    )


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
    try:
        scenario = load_scenario(args.scenario)
        config = config_from(args)
        if args.workers < 1 or args.threads < 1:
            raise ValueError("--workers and --threads must be at least 1")
    except (ScenarioError, ValueError, OSError) as error:
        print(f"renkei: {error}", file=sys.stderr)
        return 2
    if args.workers > 1:
        return run_workers(args, config, scenario, out)
    bank, sink = build(config, scenario)
    server = create_server(create_app(bank), host=args.host, port=args.port, threads=args.threads)
    url = f"http://{args.host}:{server.effective_port}"
    print(banner(url, bank.config, scenario), file=out, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
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
            create_server(app, sockets=[listener], threads=args.threads).run()
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
