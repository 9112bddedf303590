"""``renkei serve``: the sandbox bank on its embedded defaults (INTERFACE.md §7).

The shipped default scenario (``--scenario`` takes a file or a shipped
scenario's name), SQLite in a data directory under the current directory, the
embedded mail sink, the sandbox clock; the admin token from ``--admin-token``,
``RENKEI_ADMIN_TOKEN`` or, failing both, a random one kept in the data
directory; the telephony gateway's secret (INTERFACE.md §4) likewise from
``--telephony-secret``, ``RENKEI_TELEPHONY_SECRET`` or a file beside the admin
token's; the PIN key and the session key in files of their own beside the
database, never in it (R-AUTHZ-2). Whatever stops it from serving — a bad
option, a port in use, a missing database driver — is one line and exit 2.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib.util
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from aiosmtpd.controller import UnthreadedController
from cheroot import wsgi as cheroot_wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from tabulate import tabulate
from waitress import create_server

from renkei import resources
from renkei.args import OneLineParser, count, positive_int, tcp_port
from renkei.contract.docs import DOCS_PATH
from renkei.contract.oauth import AUTHORIZE_PATH, METADATA_PATH, TOKEN_PATH
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
from simulator.core.throttle import BURST, RATE, FailureBudget
from simulator.scenario import PlatformScenario, ScenarioError, load_platform
from simulator.store.retention import Retention, duration, duration_text, parse_retain
from simulator.store.schema import ROOT
from simulator.web.mail import SinkHandler, free_port
from simulator.web.platform import MAX_SANDBOXES, Platform, WSGIApp, bank_config
from simulator.web.retention import Purger
from simulator.web.security import over_https, strict_transport
from simulator.web.server import build
from simulator.web.service import Service, ServiceConfig, load_or_create_key
from simulator.web.throttle import behind_proxies, parse_budget, proxy_options
from simulator.workers import Workers

#: Open connections per process before waitress stops accepting: well above its
#: default of 100, since every customer's browser keeps one alive (keep-alive) and
#: load tests open many; idle ones are closed after waitress's channel timeout.
CONNECTION_LIMIT = 1000

#: The database drivers renkei knows, by SQLAlchemy driver name: the module to
#: import and the extra that installs it (pyproject.toml).
DRIVERS: dict[str, tuple[str, str]] = {"psycopg": ("psycopg", "postgres")}


def add_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the sandbox bank",
        description="Run the sandbox bank: the six screens, OAuth 2.0, the account API, the "
        "telephony gateway, mail and the sandbox controls.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=tcp_port, default=8000, help="port, 1 to 65535 (8000)")
    serve.add_argument(
        "--scenario",
        default=resources.DEFAULT_SCENARIO,
        metavar="FILE",
        help="a scenario YAML file, or the name of a shipped one: "
        f"{', '.join(resources.scenario_names())} (default: {resources.DEFAULT_SCENARIO})",
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
        help="SQLAlchemy URL, e.g. postgresql://… (read as postgresql+psycopg://…; needs the "
        "postgres extra); default: SQLite in --data-dir",
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
        "header (also RENKEI_TELEPHONY_SECRET); default: a random one kept in --data-dir "
        "(telephony-secret), printed at start",
    )
    serve.add_argument(
        "--certfile",
        metavar="PEM",
        help="serve HTTPS with this certificate chain (with --keyfile; one process)",
    )
    serve.add_argument("--keyfile", metavar="PEM", help="the private key of --certfile")
    serve.add_argument("--threads", type=positive_int, default=8, help="threads per process (8)")
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="server processes sharing the port and the database (1)",
    )
    serve.add_argument(
        "--max-sandboxes",
        type=count,
        default=MAX_SANDBOXES,
        metavar="N",
        help="sandboxes besides the root one this server holds at most (INTERFACE.md §9; "
        f"default {MAX_SANDBOXES}; 0: the root alone); POST /sandboxes beyond it is a 409",
    )
    serve.add_argument(
        "--open-sandboxes",
        type=count,
        default=0,
        metavar="N",
        help="let anyone create a sandbox without the operator's token while fewer than N "
        "exist (429 when they are taken); default 0: only the operator creates them",
    )
    serve.add_argument(
        "--auth-throttle",
        type=auth_throttle,
        default=FailureBudget(),
        metavar="BURST/RATE",
        help="wrong client secrets, bearer tokens, admin tokens and gateway secrets a source "
        f"address may send: BURST at once, then RATE a second (default {BURST}/{RATE:g}), "
        "each kind and sandbox apart; beyond it 429 with Retry-After, unjudged; per "
        "process (each of --workers counts its own); off: no throttle (docs/hardening.md, "
        "'Throttling wrong credentials')",
    )
    serve.add_argument(
        "--trusted-proxies",
        type=count,
        default=0,
        metavar="N",
        help="the proxies in front of this server that append X-Forwarded-For: a request's "
        "source is the address the nearest saw (default 0: the header is ignored; set it "
        "only when clients cannot reach the port but through them)",
    )
    serve.add_argument(
        "--retain",
        default=os.environ.get("RENKEI_RETAIN", ""),
        metavar="KIND=DURATION,…",
        help="how long the rows of each kind are kept before the server purges them, by the "
        "real time (never the sandbox clock), as KIND=DURATION pairs such as flows=24h,log=7d "
        "(also RENKEI_RETAIN); DURATION is a number and s, m, h or d. The kinds and their "
        f"defaults: {RETAINED} (flows: one not saved for that long; grants: after the grant "
        "ended, with its tokens; log: the operation log; mail: sent, delivered or failed; "
        "docs/hardening.md, 'Retention and size bounds')",
    )
    serve.add_argument(
        "--purge-every",
        type=purge_interval,
        metavar="DURATION",
        help="how often the purge runs (one server process of the database purges each time; "
        "default: half the shortest retention, at most 5m)",
    )
    serve.add_argument(
        "--issuer",
        action=IssuerOption,
        metavar="URL",
        help="the issuer (RFC 8414), the origin clients reach this server at, e.g. "
        "https://sandbox.example.jp behind a TLS proxy: the metadata and its endpoints, the "
        "iss of every authorization response, and each sandbox's and bank's issuer "
        "(ORIGIN/s/ID, ORIGIN/banks/CODE) derive from it, never from a request's Host "
        "(default: http://HOST:PORT of the listening socket)",
    )
    # The name it had before it was the issuer, for the scripts that still use it.
    serve.add_argument("--public-url", action=IssuerOption, help=argparse.SUPPRESS)
    serve.set_defaults(handler=run, issuer=None, issuer_option="--issuer")


#: The kinds of row and their retentions unless told, as ``--retain`` says them.
RETAINED = ",".join(f"{k}={duration_text(v)}" for k, v in Retention().kinds().items())


def auth_throttle(text: str) -> FailureBudget:
    """``--auth-throttle``: BURST/RATE, or off."""
    try:
        return parse_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def purge_interval(text: str) -> float:
    """``--purge-every``: a duration (``30s``, ``5m``)."""
    try:
        return duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def retention_of(args: argparse.Namespace) -> Retention:
    """The retention of ``--retain`` and ``--purge-every``; ValueError for a bad one."""
    retention = parse_retain(getattr(args, "retain", "") or "")
    every = getattr(args, "purge_every", None)
    return replace(retention, every=every) if every else retention


class IssuerOption(argparse.Action):
    """``--issuer`` (or ``--public-url``): the value, and which of the two was typed,
    so that an error names the option the operator wrote."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        namespace.issuer = values
        namespace.issuer_option = option_string or "--issuer"


def issuer_origin(text: str, option: str = "--issuer") -> str:
    """``--issuer``: an http(s) origin, without a path, query or fragment (a sandbox's
    issuer is ORIGIN/s/ID, a bank's ORIGIN/banks/CODE); else ValueError."""
    parts = urlsplit(text)
    wrong = ValueError(f"{option} wants an origin such as https://host[:port], not {text!r}")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise wrong
    if parts.query or parts.fragment:
        raise wrong
    return f"{parts.scheme}://{parts.netloc}"


def _smtp(text: str | None) -> tuple[str | None, int]:
    if not text:
        return None, 25
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--smtp wants HOST:PORT, not {text!r}")
    return host, int(port)


def database_url(text: str) -> str:
    """``--database-url`` as SQLAlchemy should open it, or ``ValueError`` with the one
    line to show: a URL SQLAlchemy cannot read, or a driver that is not installed
    (with the extra that installs it). ``postgresql://`` and ``postgres://`` mean
    the driver renkei installs, psycopg 3, rather than SQLAlchemy's default,
    psycopg2, which renkei does not use."""
    try:
        url: URL = make_url(text)
    except ArgumentError:
        raise ValueError(f"--database-url is not a database URL: {text!r}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    module, extra = DRIVERS.get(url.get_driver_name(), (None, None))
    if module is not None and importlib.util.find_spec(module) is None:
        raise ValueError(
            f"--database-url {url.get_backend_name()} needs the {extra} extra: "
            f"pip install 'renkei[{extra}]'"
        )
    return url.render_as_string(hide_password=False)


def config_from(args: argparse.Namespace) -> ServiceConfig:
    database = database_url(args.database_url) if args.database_url else None
    data = Path(args.data_dir)
    # Its owner's alone when renkei makes it: keys, tokens and the database live here.
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = args.admin_token or kept_secret(data / "admin-token", 20)
    # Read here, before --workers forks: every process checks the same secret.
    telephony_secret = args.telephony_secret or kept_secret(data / "telephony-secret", 16)
    smtp_host, smtp_port = _smtp(args.smtp)
    scheme = "https" if tls_context(args) is not None else "http"
    return ServiceConfig(
        database_url=database or f"sqlite:///{(data / 'renkei.db').resolve()}",
        admin_token=token,
        pin_key=load_or_create_key(data / "pin.key"),
        secret_key=load_or_create_key(data / "secret.key"),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        issuer=issuer_origin(args.issuer, args.issuer_option)
        if getattr(args, "issuer", None)
        else f"{scheme}://{args.host}:{args.port}",
        telephony_secret=telephony_secret,
        auth_throttle=getattr(args, "auth_throttle", FailureBudget()),
        trusted_proxies=getattr(args, "trusted_proxies", 0),
    )


def kept_secret(path: Path, size: int) -> str:
    """The secret kept in ``path`` (mode 0600), made at first start: ``size`` random
    bytes as hex, which never starts with "-" and so is never read as an option."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(size))
    return path.read_text().strip()


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


def banner(url: str, config: ServiceConfig, scenario: Any) -> str:
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
            f"  authorize   {url}{AUTHORIZE_PATH}",
            f"  token       {url}{TOKEN_PATH}",
            f"  metadata    {url}{METADATA_PATH}",
            f"  API docs    {url}{DOCS_PATH}",
            f"  admin token {config.admin_token}",
            f"  telephony secret {config.telephony_secret} "
            f"({SECRET_HEADER} on POST {url}{CALLS_PATH})",
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
        banks = load_platform(resources.find_scenario(args.scenario))
        scenario = banks.first  # the root sandbox at / is its first bank (INTERFACE.md §10)
        config = config_from(args)
        retention_of(args)  # a bad --retain stops the start here, in one line
        config = bank_config(config, ROOT, banks, scenario, config.issuer)
        tls = tls_context(args)
        if tls is not None and args.workers > 1:
            raise ValueError(
                "HTTPS is served by one process; for more, run --workers behind a TLS proxy"
            )
    except (ScenarioError, resources.NotFound, ValueError, OSError) as error:
        print(f"renkei: {error}", file=sys.stderr)
        return 2
    if args.workers > 1:
        try:
            listener = listen(args.host, args.port)
        except OSError as error:
            print(f"renkei: {cannot_listen(args, error)}", file=sys.stderr)
            return 2
        return run_workers(args, listener, config, banks, out)
    try:
        service, sink = build(config, scenario)
    except SQLAlchemyError as error:  # a database that cannot be reached or written
        print(f"renkei: {cannot_open(config, error)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    status = 0
    try:
        if tls is not None:
            serve_tls(args, service, banks, tls, out)
        else:
            server = create_server(
                platform_of(args, service, banks),
                host=args.host,
                port=args.port,
                threads=args.threads,
                connection_limit=CONNECTION_LIMIT,
                **proxy_options(config.trusted_proxies),
            )
            url = f"http://{args.host}:{server.effective_port}"
            if not getattr(args, "issuer", None):
                service.config = replace(service.config, issuer=url)
            print(banner(url, service.config, scenario), file=out, flush=True)
            server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    except OSError as error:  # the port: taken, not ours to use, or no such address
        print(f"renkei: {cannot_listen(args, error)}", file=sys.stderr)
        status = 2
    finally:
        if sink is not None:
            sink.stop()
        service.db.dispose()  # close the database connections now, cleanly
        # The interpreter's last garbage collection would walk the whole heap
        # (Flask, SQLAlchemy, the scenario) for a few tenths of a second, to
        # free memory of a process that is ending; the harness waits for it.
        gc.freeze()
    return status


def platform_of(
    args: argparse.Namespace, service: Service, banks: PlatformScenario | None = None
) -> WSGIApp:
    """The sandboxes of INTERFACE.md §9 in front of the root ``service`` (the first of
    ``banks``, §10), with the limits of the options and the sweep of expired ones in
    a thread of this process; over HTTPS (an https issuer, whether renkei's own TLS
    or a proxy's serves it), with HSTS on every answer (simulator.web.security)."""
    platform = Platform(
        service,
        max_sandboxes=getattr(args, "max_sandboxes", MAX_SANDBOXES),
        open_sandboxes=getattr(args, "open_sandboxes", 0),
        root_platform=banks,
    )
    platform.start_sweeper()
    Purger(service.db, retention_of(args)).start()
    return strict_transport(platform) if over_https(service.config) else platform


def cannot_open(config: ServiceConfig, error: SQLAlchemyError) -> str:
    """The one line for a database the bank cannot open (the driver's first line)."""
    shown = make_url(config.database_url).render_as_string(hide_password=True)
    cause = getattr(error, "orig", None) or error
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return (
        f"cannot open the database {shown}: {lines[0].strip() if lines else type(cause).__name__}"
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; OSError when it cannot be had."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1024)
    except OSError:
        listener.close()
        raise
    return listener


def cannot_listen(args: argparse.Namespace, error: OSError) -> str:
    """The one line for a server that cannot listen where it was asked to."""
    where = f"{args.host}:{args.port}"
    if error.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is in use (another renkei serve?); try --port"
    if error.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need root)"
    why = error.strerror or str(error)
    return f"cannot listen on {where}: {why}"


def serve_tls(
    args: argparse.Namespace,
    service: Service,
    banks: PlatformScenario,
    tls: ssl.SSLContext,
    out: TextIO,
) -> None:
    """HTTPS (R-AUTHZ-2: 通信はTLSで暗号化) with cheroot, as waitress has no TLS."""
    scenario = banks.first
    server = cheroot_wsgi.Server(
        (args.host, args.port),
        behind_proxies(platform_of(args, service, banks), service.config.trusted_proxies),
        numthreads=args.threads,
    )
    adapter = BuiltinSSLAdapter(args.certfile, args.keyfile)
    adapter.context = tls  # TLS 1.2 at least, as tls_context set it
    server.ssl_adapter = adapter
    server.prepare()  # binds: an OSError for a busy port goes to run()
    port = server.bind_addr[1] if isinstance(server.bind_addr, tuple) else args.port
    # SIGTERM asks cheroot to stop from a thread of its own rather than raising
    # SystemExit in the main thread: raised while cheroot's buffered socket files
    # are being finalised (IOBase.__del__), the exception is printed and dropped,
    # and the server went on serving; 4 of 15 starts ignored a SIGTERM sent right
    # after a plain-HTTP request to the TLS port.
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=server.stop, daemon=True).start()
    )
    print(banner(f"https://{args.host}:{port}", service.config, scenario), file=out, flush=True)
    try:
        server.serve()
    finally:
        server.stop()


def run_workers(
    args: argparse.Namespace,
    listener: socket.socket,
    config: ServiceConfig,
    banks: PlatformScenario,
    out: TextIO,
) -> int:
    """Pre-fork: one listening socket, ``--workers`` processes serving it, each with
    its own database connections; the parent keeps the embedded mail sink and
    replaces a worker that dies (simulator.workers: the rules, and when it stops
    replacing them and exits 1)."""
    scenario = banks.first
    url = f"http://{args.host}:{listener.getsockname()[1]}"
    if not getattr(args, "issuer", None):
        config = replace(config, issuer=url)
    if config.smtp_host is None:
        config = replace(config, smtp_host="127.0.0.1", smtp_port=free_port(), embedded_mail=True)
    Service(config, scenario).db.dispose()  # seed the database once, before forking

    def start() -> Callable[[], object]:
        """A worker's server: its own engine, the shared socket."""
        app = platform_of(args, Service(config, scenario), banks)
        server = create_server(
            app,
            sockets=[listener],
            threads=args.threads,
            connection_limit=CONNECTION_LIMIT,
            **proxy_options(config.trusted_proxies),
        )
        serve: Callable[[], object] = server.run
        return serve

    def why(error: Exception) -> str:
        return cannot_open(config, error) if isinstance(error, SQLAlchemyError) else str(error)

    workers = Workers(start, why)
    sink = None
    try:
        pids = [workers.fork() for _ in range(args.workers)]
        if config.embedded_mail:
            # On the parent's loop, in its one thread (simulator.workers says why).
            handler = SinkHandler(Service(config, scenario))
            sink = UnthreadedController(
                handler, loop=workers.loop, hostname="127.0.0.1", port=config.smtp_port
            )
            sink.begin()  # type: ignore[no-untyped-call]
        print(banner(url, config, scenario), file=out, flush=True)
        print(
            f"  workers     {args.workers} processes: {', '.join(map(str, pids))}",
            file=out,
            flush=True,
        )
        return workers.run()
    finally:
        if sink is not None:
            sink.end()  # type: ignore[no-untyped-call]
        workers.close()
        listener.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m simulator.serve [OPTIONS]``: ``renkei serve [OPTIONS]``, the same
    options and code, without importing the rest of the ``renkei`` command (conform,
    simulate, replay), which a server does not need. The harness's embedded target
    starts the bank this way, since it waits for it (harness/embedded.py)."""
    parser = argparse.ArgumentParser(prog="renkei")
    add_parser(parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser))
    try:
        args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as e:  # --help and usage errors: argparse has printed
        return e.code if isinstance(e.code, int) else 0
    status: int = args.handler(args, sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
