"""``renkei certify``: the command line.

``renkei certify --client-id ID`` starts the embedded sandbox (``--scenario``,
a file or a shipped scenario's name, default the shipped ``default``: register
the app in its ``clients``) and certifies on its root, or speaks to ``--target
URL`` with the operator's ``--admin-token``, starts the recording proxy on a
loopback port (``--port``, default a free one), and steps through the plan
while the tester uses the app pointed at the proxy. ``--play reference`` or
``--play misbehaving[:FAULT,…]`` lets one of renkei's own apps
(:mod:`harness.certify.reference`) play instead of a person.

On a ``--target``, certify works in a new sandbox of its own (INTERFACE.md §9:
``POST /sandboxes`` from the scenario, by name when it is a shipped one, else
its text inline), so that the reset and the clock and faults of the plan touch
nobody else's world, and deletes it at the end unless ``--keep-sandbox``. Only
``--root`` certifies on the target's root sandbox and resets it, as a target
without §9 needs: without ``--root`` such a target is one line and exit 2.

Exit status: 0 the certificate is issued (``passed``, or ``passed with
warnings``); 1 it is not (``failed`` or ``incomplete``); 2 bad options, or the
run could not be made (the sandbox did not start or refused its controls, the
port is taken); 130 interrupted. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import requests
import yaml

from harness.args import add_target
from harness.certify import certificate
from harness.certify.plan import PERSONAS, PLAN
from harness.certify.proxy import CertifyProxy, Recorder
from harness.certify.reference import (
    MISBEHAVIOURS,
    AppRegistration,
    MisbehavingApp,
    Player,
    ReferenceApp,
)
from harness.certify.runner import Options, Runner, SetupError
from harness.driver import (
    NoSandboxes,
    Platform,
    Sandbox,
    SandboxInfo,
    SandboxRefused,
    discard_sandbox,
    gateway_credential,
)
from harness.embedded import EmbeddedSandbox, Target
from harness.personas import DEFAULT_FILE, Persona, PersonasError, load_personas
from renkei import resources
from renkei.contract.oauth import AUTHORIZE_PATH
from renkei.contract.telephony import CALLS_PATH

BAD_USAGE: Final = 2
INTERRUPTED: Final = 130
#: The branches a moved account may go to when the target's are not known.
DEFAULT_BRANCHES: Final = ("001", "011", "022", "033", "115")


class UsageError(Exception):
    """Options that cannot make a run; the message is the one line shown."""


def add_parser(commands: Any) -> None:
    """``renkei certify`` on the CLI's subcommands."""
    p = commands.add_parser(
        "certify",
        help="put a partner app through every situation of the manual and write its certificate",
        description="Certify a partner app: start a recording proxy in front of the sandbox "
        "bank (embedded, or --target), step through the certification plan — the happy path, "
        "cancel, lock and B84, out of hours and congestion, token expiry, the 30-day end, "
        "revocation, a moved account, 明細, unlink, a replayed code — telling the tester what "
        "to do in the app, and judge every check from the requests the app made. Writes "
        "certificate.json and certificate.html into --out. Exit status: 0 certified "
        "(passed, or passed with warnings); 1 failed or incomplete; 2 bad options or the "
        "run could not be made.",
    )
    p.add_argument("--client-id", required=True, metavar="ID", help="the app's client_id")
    p.add_argument(
        "--scenario",
        metavar="FILE",
        help="the embedded sandbox's scenario, with the app in its clients section: a file, "
        f"or the name of a shipped one (default: {resources.DEFAULT_SCENARIO})",
    )
    add_target(
        p,
        "a running sandbox bank instead of the embedded one (also RENKEI_TARGET): certify "
        "works in a new sandbox of it, made from --scenario (INTERFACE.md §9)",
    )
    p.add_argument(
        "--root",
        action="store_true",
        help="with --target: certify on its root sandbox instead, and reset it (a target "
        "without POST /sandboxes needs this)",
    )
    p.add_argument(
        "--keep-sandbox",
        action="store_true",
        help="with --target: keep the sandbox certify made, and print its base URL and admin "
        "token (it lives its TTL, 24 h)",
    )
    p.add_argument(
        "--personas",
        metavar="FILE",
        help="with --target --root: the target's test customers as a scenario YAML "
        "(default: renkei's shipped default scenario); without --root, the same as --scenario",
    )
    p.add_argument(
        "--port", type=int, default=0, metavar="N", help="the proxy's port on 127.0.0.1 (0: free)"
    )
    p.add_argument("--out", metavar="DIR", help="where the certificate goes (./reports/certify/ID)")
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="the longest certify waits for the app in one situation (600)",
    )
    p.add_argument(
        "--hold",
        type=float,
        default=5.0,
        metavar="S",
        help="how long a fault stays on after the app met it, to see whether it storms (5)",
    )
    p.add_argument(
        "--play",
        metavar="APP",
        help="let renkei's own app play: 'reference', 'misbehaving' or "
        f"'misbehaving:FAULT,…' with FAULT one of {', '.join(MISBEHAVIOURS)}",
    )
    p.add_argument(
        "--client-secret", metavar="S", help="for --play with --target: the app's secret"
    )
    p.add_argument(
        "--redirect-uri",
        metavar="URI",
        help="with --target: the app's registered redirect URI (compared exactly; --play sends it)",
    )
    p.set_defaults(handler=run)


@dataclass(frozen=True)
class Plan:
    """A run the options allow, checked before anything starts."""

    client_id: str
    client_name: str
    personas: dict[str, Persona]
    branches: list[str]
    scenario: Path | None
    target: Target | None
    play: tuple[str, tuple[str, ...]] | None
    client: AppRegistration | None
    out: Path
    #: the client's registered redirect URIs, when known (the scenario's, or
    #: ``--redirect-uri`` with ``--target --root``): the judge compares them exactly
    redirect_uris: tuple[str, ...] = ()
    #: with ``--target`` and no ``--root``: certify works in a new sandbox of it
    in_sandbox: bool = False
    #: keep that sandbox at the end (``--keep-sandbox``)
    keep_sandbox: bool = False


def _number(args: argparse.Namespace) -> None:
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be more than 0 seconds (got {args.timeout:g})")
    if not args.hold >= 0:
        raise UsageError(f"--hold must be 0 seconds or more (got {args.hold:g})")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0 to 65535 (got {args.port})")


def _play(text: str | None) -> tuple[str, tuple[str, ...]] | None:
    if text is None:
        return None
    name, _, faults = text.partition(":")
    if name == "reference" and not faults:
        return ("reference", ())
    if name == "misbehaving":
        chosen = tuple(f for f in faults.split(",") if f) if faults else MISBEHAVIOURS
        unknown = [f for f in chosen if f not in MISBEHAVIOURS]
        if unknown:
            raise UsageError(
                f"--play: unknown misbehaviour {unknown[0]!r} (one of {', '.join(MISBEHAVIOURS)})"
            )
        return ("misbehaving", chosen)
    raise UsageError(f"--play must be 'reference' or 'misbehaving[:FAULT,…]' (got {text!r})")


def _personas(path: Path) -> tuple[dict[str, Persona], list[str]]:
    try:
        personas = load_personas(path)
        data = yaml.safe_load(path.read_text("utf-8"))
    except PersonasError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise UsageError(f"{path}: not a scenario file with personas ({error})") from None
    missing = [p for p in PERSONAS if p not in personas]
    if missing:
        raise UsageError(f"{path}: the plan needs the persona(s) {', '.join(missing)}")
    branches = [str(b["code"]) for b in data.get("branches") or [] if isinstance(b, dict)]
    return personas, branches or list(DEFAULT_BRANCHES)


def _embedded_client(path: Path, client_id: str) -> tuple[str, AppRegistration, tuple[str, ...]]:
    """The app as the scenario's ``clients`` section registers it. The file is read
    as data (the harness imports nothing of ``simulator``); the embedded sandbox
    checks the rest of it when it starts."""
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: not YAML ({' '.join(str(error).split())})") from None
    clients = data.get("clients") if isinstance(data, dict) else None
    if not isinstance(clients, list):
        raise UsageError(f"{path}: no clients section (docs/scenarios.md)")
    known = [c for c in clients if isinstance(c, dict) and c.get("client_id")]
    for c in known:
        if str(c["client_id"]) == client_id:
            uris = [str(u) for u in c.get("redirect_uris") or [""]]
            scopes = " ".join(map(str, c.get("scopes") or ["accounts", "transactions"]))
            secret = str(c.get("client_secret", ""))
            client = AppRegistration(client_id, secret, uris[0], scopes)
            return str(c.get("name") or client_id), client, tuple(u for u in uris if u)
    names = ", ".join(str(c["client_id"]) for c in known) or "none"
    raise UsageError(
        f"client {client_id!r} is not registered in {path} (its clients: {names}); add it to "
        "the clients section (docs/scenarios.md)"
    )


def _probe(target: Target, client_id: str) -> None:
    """Whether the target knows the client: an authorization request without a
    redirect URI or PKCE starts no flow, and an unknown client gets the error
    page (RFC 6749 §4.1.2.1)."""
    try:
        r = requests.get(
            target.url + AUTHORIZE_PATH,
            params={"response_type": "code", "client_id": client_id},
            headers={"Accept": "application/json"},
            allow_redirects=False,
            timeout=10,
        )
    except requests.RequestException as error:
        raise UsageError(f"cannot reach {target.url}: {type(error).__name__}") from None
    try:
        codes = [e.get("code") for e in r.json().get("errors", [])]
    except (ValueError, AttributeError):
        codes = []
    if r.status_code == 400 and "invalid_client" in codes:
        raise UsageError(f"client {client_id!r} is not registered at {target.url}")


def plan(args: argparse.Namespace) -> Plan:
    """The run the options ask for; :class:`UsageError` when they cannot make one."""
    _number(args)
    play = _play(args.play)
    client_id = str(args.client_id)
    if not client_id.strip():
        raise UsageError("--client-id must not be empty")
    out = Path(args.out) if args.out else Path("reports") / "certify" / client_id
    if not args.target and (args.root or args.keep_sandbox):
        flag = "--root" if args.root else "--keep-sandbox"
        raise UsageError(f"{flag} is for --target; the embedded sandbox is certify's own")
    if args.target and not args.root:
        return _sandbox_plan(args, client_id, play, out)
    if args.target:
        if args.keep_sandbox:
            raise UsageError("--keep-sandbox is for a new sandbox; --root makes none")
        if args.scenario:
            raise UsageError(
                "--scenario is for a sandbox certify makes; with --target --root use --personas"
            )
        if not args.admin_token:
            raise UsageError("--target needs --admin-token (or RENKEI_ADMIN_TOKEN)")
        target = Target(str(args.target).rstrip("/"), str(args.admin_token))
        personas, branches = _personas(Path(args.personas) if args.personas else DEFAULT_FILE)
        client = None
        if play is not None:
            if not (args.client_secret and args.redirect_uri):
                raise UsageError("--play with --target needs --client-secret and --redirect-uri")
            client = AppRegistration(client_id, args.client_secret, args.redirect_uri)
        _probe(target, client_id)
        given: tuple[str, ...] = (str(args.redirect_uri),) if args.redirect_uri else ()
        return Plan(
            client_id, client_id, personas, branches, None, target, play, client, out, given
        )
    if args.personas:
        raise UsageError("--personas is for --target; the embedded sandbox uses --scenario")
    try:
        scenario = resources.find_scenario(args.scenario) if args.scenario else DEFAULT_FILE
    except resources.NotFound as error:
        raise UsageError(str(error)) from None
    if not scenario.is_file():
        raise UsageError(f"{scenario}: no such file")
    name, client, registered = _embedded_client(scenario, client_id)
    personas, branches = _personas(scenario)
    return Plan(client_id, name, personas, branches, scenario, None, play, client, out, registered)


def _sandbox_plan(
    args: argparse.Namespace,
    client_id: str,
    play: tuple[str, tuple[str, ...]] | None,
    out: Path,
) -> Plan:
    """``--target`` without ``--root``: a new sandbox of the target, from ``--scenario``
    (or ``--personas``, the scenario of the target's customers; default the shipped
    ``default``), which registers the app and its personas as for the embedded one."""
    if not args.admin_token:
        raise UsageError("--target needs --admin-token (or RENKEI_ADMIN_TOKEN)")
    if args.scenario and args.personas:
        raise UsageError("--scenario and --personas both name the new sandbox's scenario; give one")
    if args.client_secret or args.redirect_uri:
        raise UsageError(
            "--client-secret and --redirect-uri are for --root; the new sandbox registers the "
            "app as its scenario's clients section says"
        )
    given = args.scenario or args.personas
    try:
        scenario = resources.find_scenario(given) if given else DEFAULT_FILE
    except resources.NotFound as error:
        raise UsageError(str(error)) from None
    if not scenario.is_file():
        raise UsageError(f"{scenario}: no such file")
    name, client, registered = _embedded_client(scenario, client_id)
    personas, branches = _personas(scenario)
    target = Target(str(args.target).rstrip("/"), str(args.admin_token))
    return Plan(
        client_id,
        name,
        personas,
        branches,
        scenario,
        target,
        play,
        client,
        out,
        registered,
        in_sandbox=True,
        keep_sandbox=bool(args.keep_sandbox),
    )


def shipped_name(scenario: Path) -> str | None:
    """The name ``POST /sandboxes`` knows a shipped scenario by, or None for any other
    file (sent inline, §9)."""
    folder = resources.scenarios().resolve()
    resolved = scenario.resolve()
    return resolved.stem if resolved.parent == folder else None


def where(p: Plan, made: SandboxInfo | None = None) -> str:
    """The bank certify speaks to, as the certificate names it."""
    if made is not None:
        assert p.target is not None
        return f"{made.base_url} (a sandbox of {p.target.url}, scenario {made.scenario})"
    if p.target is not None:
        return p.target.url
    assert p.scenario is not None
    shown = resources.shown(p.scenario)
    if shown == str(p.scenario):  # not a shipped scenario: as given, or from here
        with contextlib.suppress(ValueError):
            shown = p.scenario.resolve().relative_to(Path.cwd()).as_posix()
    return f"the embedded sandbox ({shown})"


def intro(p: Plan, proxy: str, out: TextIO, made: SandboxInfo | None = None) -> None:
    lines = [
        f"renkei certify: {p.client_name} ({p.client_id}) — {len(PLAN)} situations",
        f"  bank:   {where(p, made)}",
        f"  proxy:  {proxy}   ← point the app here (authorize, token, revoke, account API)",
        f"  tester: {proxy}/_certify/ (the instructions in a browser, with a Done button)",
        f"  phone:  on ④ call from the persona's phone: curl -s {proxy}{CALLS_PATH} "
        '-H \'Content-Type: application/json\' -d \'{"from": "PHONE", "to": "NUMBER ON ④"}\'',
        "  After each situation press Enter here, or POST /_certify/done from the app.",
        "",
    ]
    if made is not None:
        fate = "kept at the end (--keep-sandbox)" if p.keep_sandbox else "deleted at the end"
        lines.insert(2, f"  sandbox: {made.id}, certify's own, {fate}")
    print("\n".join(lines), file=out, flush=True)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``renkei certify``: answers the exit status."""
    try:
        chosen = plan(args)
    except UsageError as error:
        print(f"renkei certify: {error}", file=sys.stderr)
        return BAD_USAGE
    try:
        return certify(chosen, args, out)
    except UsageError as error:
        print(f"renkei certify: {error}", file=sys.stderr)
        return BAD_USAGE
    except KeyboardInterrupt:
        print("renkei certify: interrupted; no certificate written", file=sys.stderr)
        return INTERRUPTED


def make_sandbox(p: Plan) -> SandboxInfo:
    """A new sandbox of the target from the plan's scenario (INTERFACE.md §9)."""
    assert p.target is not None and p.scenario is not None
    name = shipped_name(p.scenario)
    platform = Platform(p.target.url, p.target.admin_token)
    label = f"renkei certify {p.client_id}"
    try:
        text = None if name is not None else p.scenario.read_text("utf-8")
    except OSError as error:
        raise UsageError(f"{p.scenario}: {error.strerror}") from None
    try:
        if name is not None:
            return platform.create(name, label=label)
        return platform.create(yaml=text, label=label)
    except NoSandboxes:
        raise UsageError(
            f"{p.target.url} does not serve POST /sandboxes (INTERFACE.md §9); add --root to "
            "certify on its root sandbox, which certify resets"
        ) from None
    except SandboxRefused as error:
        raise UsageError(f"the target made no sandbox: {' '.join(str(error).split())}") from None
    except requests.RequestException as error:
        raise UsageError(f"cannot reach {p.target.url}: {type(error).__name__}") from None
    finally:
        platform.close()


def end_sandbox(p: Plan, made: SandboxInfo, out: TextIO) -> None:
    """Delete certify's sandbox, or say where the kept one is."""
    assert p.target is not None
    if p.keep_sandbox:
        print(
            f"Sandbox kept: {made.base_url} (admin token {made.admin_token}, telephony secret "
            f"{made.telephony_secret}, until {made.expires_at})",
            file=out,
            flush=True,
        )
        return
    discard_sandbox(p.target.url, p.target.admin_token, made, "certify")


def start_target(p: Plan) -> tuple[Target, EmbeddedSandbox | None]:
    if p.target is not None:
        return p.target, None
    assert p.scenario is not None
    embedded = EmbeddedSandbox(("--scenario", str(p.scenario)))
    try:
        return embedded.ready(), embedded
    except RuntimeError as error:
        embedded.stop()
        # The child's last words say why (a bad scenario: "renkei: FILE: FIELD: problem").
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise UsageError(f"the embedded sandbox did not start: {lines[-1].strip()}") from None


def player_for(p: Plan, proxy: str, timeout: float) -> Player | None:
    """renkei's own app for ``--play``, pointed at the proxy."""
    if p.play is None:
        return None
    assert p.client is not None
    name, faults = p.play
    app = (
        ReferenceApp(proxy, p.client)
        if name == "reference"
        else MisbehavingApp(proxy, p.client, faults)
    )
    return Player(proxy, app, p.personas, timeout=timeout)


def certify(p: Plan, args: argparse.Namespace, out: TextIO) -> int:
    began = time.monotonic()
    made = make_sandbox(p) if p.in_sandbox else None
    try:
        return _certify(p, args, out, began, made)
    finally:
        if made is not None:
            end_sandbox(p, made, out)


def _certify(
    p: Plan, args: argparse.Namespace, out: TextIO, began: float, made: SandboxInfo | None
) -> int:
    if made is not None:
        target, embedded = Target(made.base_url, made.admin_token, made.telephony_secret), None
    else:
        target, embedded = start_target(p)
    proxy: CertifyProxy | None = None
    sandbox = Sandbox(target.url, target.admin_token)
    try:
        recorder = Recorder()
        try:
            credential = gateway_credential(target.telephony_secret, target.admin_token)
            proxy = CertifyProxy(
                target.url, recorder, args.port, phone_credential=credential
            ).start()
        except OSError as error:
            raise UsageError(
                f"the proxy cannot listen on port {args.port}: {error.strerror}"
            ) from None
        keyboard = p.play is None and sys.stdin.isatty()
        options = Options(
            p.client_id, p.personas, p.branches, args.timeout, args.hold, keyboard, p.redirect_uris
        )
        runner = Runner(options, recorder, sandbox, proxy.url, out)
        try:
            runner.prepare()
        except (SetupError, requests.RequestException) as error:
            raise UsageError(f"the sandbox refused certify's controls: {error}") from None
        intro(p, proxy.url, out, made)
        player = player_for(p, proxy.url, args.timeout)
        playing = threading.Thread(target=player.run, daemon=True) if player else None
        judged = runner.run(playing.start if playing else None)
        recorder.show(situation=None)
        played = (
            None if p.play is None else ":".join(filter(None, (p.play[0], ",".join(p.play[1]))))
        )
        info = certificate.RunInfo(
            p.client_id,
            p.client_name,
            where(p, made),
            proxy.url,
            runner.started_at,
            time.monotonic() - began,
            played,
        )
        data = certificate.document(info, judged, recorder.snapshot())
        recorder.show(situation=None, finished=True, verdict=data["verdict"])
        if playing is not None and player is not None:
            playing.join(timeout=30)
            if player.errors:
                data["player_errors"] = player.errors
        as_json, as_html = certificate.write(p.out, data)
        summary(data, out)
        print(f"Certificate: {as_json} and {as_html}", file=out, flush=True)
        return certificate.exit_status(str(data["verdict"]))
    finally:
        if proxy is not None:
            proxy.stop()
        sandbox.close()
        if embedded is not None:
            embedded.stop()


def summary(data: dict[str, Any], out: TextIO) -> None:
    """The verdict, the totals and every check that did not pass."""
    totals = ", ".join(f"{n} {name}" for name, n in data["totals"].items())
    print(f"\nVerdict: {str(data['verdict']).upper()} ({totals})", file=out)
    for s in data["situations"]:
        for c in s["checks"]:
            if c["result"] != "passed":
                print(
                    f"  {c['result']:>14}  {c['id']} [{c['severity']}; "
                    f"{', '.join(c['requirements'])}]: {c['detail']}",
                    file=out,
                )
