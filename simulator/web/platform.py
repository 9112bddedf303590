"""Many sandboxes on one server (INTERFACE.md §9): the WSGI dispatcher in front of
the sandboxes' applications, and the ``/sandboxes`` endpoints that create, list
and delete them.

Where a request goes, by its path:

* ``/s/ID/…`` — sandbox ``ID``'s own application (a :class:`~simulator.web.service.Service`
  with ``sandbox_id=ID``, handing the id to every store object), with
  ``SCRIPT_NAME=/s/ID`` so that its redirects, links and flow cookie carry the
  prefix; the application is built on first use in each process and kept;
* ``/.well-known/oauth-authorization-server/s/ID`` — that sandbox's metadata,
  where RFC 8414 §3.1 puts it for the issuer ``ORIGIN/s/ID``;
* ``/sandboxes``, ``/sandboxes/ID`` — the §9 endpoints (:func:`create_sandboxes_app`);
* anything else — the root sandbox's application, exactly as with one world.

Whether a sandbox exists is asked of the database on every request under its
prefix (one read by primary key), since another server process may have
deleted it: a deleted or expired sandbox answers 404 ``sandbox_not_found`` and
its application is dropped. Expired sandboxes are removed by :meth:`Platform.sweep`:
on every ``POST`` and ``GET /sandboxes`` and every :data:`SWEEP_SECONDS` in a
thread of each process (:meth:`Platform.start_sweeper`); removing one twice
removes nothing the second time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

import yaml
from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from renkei import resources
from renkei.contract import banks
from renkei.contract import sandboxes as contract
from renkei.contract.oauth import METADATA_PATH
from simulator.core.clock import SystemClock
from simulator.core.errors import SystemError_
from simulator.fields import ScenarioError
from simulator.scenario import PlatformScenario, Scenario, load_platform, parse_platform
from simulator.store.sandboxes import ROOT, SandboxRecord, SqlSandboxes
from simulator.store.schema import bank_world
from simulator.web import security, throttle
from simulator.web.app import create_app
from simulator.web.periodic import Periodic
from simulator.web.responses import StrictJSON, api_error
from simulator.web.schemas import Refused, read_body
from simulator.web.schemas import sandboxes as schemas
from simulator.web.service import BUILT, Service, ServiceConfig, secret_hash

log = logging.getLogger("renkei")

#: How often each process removes the sandboxes whose time is up.
SWEEP_SECONDS = 60.0
#: ``--max-sandboxes`` unless told: the sandboxes besides the root one server holds.
MAX_SANDBOXES = 100
#: The largest body of ``POST /sandboxes`` (an inline scenario of YAML_MAX characters,
#: Japanese ones being three bytes in UTF-8).
MAX_BODY = 4 * contract.YAML_MAX
#: The most YAML aliases an inline scenario may hold (:func:`inline_scenario`).
MOST_ALIASES = 100
#: Where an inline scenario's errors say they are.
INLINE_SOURCE = f"{contract.SCENARIO}.{contract.YAML}"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def utc_now() -> dt.datetime:
    """The real time: a sandbox's life is not measured by any sandbox's clock."""
    return SystemClock().now().astimezone(dt.UTC)


@dataclasses.dataclass(frozen=True)
class Served:
    """A sandbox, or a bank of one (INTERFACE.md §10), as this process serves it: its
    record (None for the root sandbox's banks), Service and application."""

    record: SandboxRecord | None
    service: Service
    app: Flask
    #: The sandbox's banks, read from its scenario once (an inline one is YAML).
    platform: PlatformScenario | None = None


def bank_config(
    config: ServiceConfig, sandbox_id: str, platform: PlatformScenario, bank: Scenario, base: str
) -> ServiceConfig:
    """``config`` (a sandbox's) for ``bank`` of its platform, served at ``base`` (the
    sandbox's base URL, or the bank's own ``BASE/banks/CODE``, which is its issuer):
    the first bank's rows are the sandbox's own, another's are keyed by
    :func:`~simulator.store.schema.bank_world`; all share the sandbox's settings of
    the platform, and congestion counts all their flows (INTERFACE.md §10)."""
    worlds = tuple(
        sandbox_id if b is platform.first else bank_world(sandbox_id, str(b.code))
        for b in platform.banks
    )
    return dataclasses.replace(
        config,
        sandbox_id=sandbox_id if bank is platform.first else bank_world(sandbox_id, str(bank.code)),
        platform_id=sandbox_id,
        platform_worlds=worlds if len(worlds) > 1 else (),
        issuer=base,
    )


class Platform:
    """The server's sandboxes: the root (``root``, served at ``/`` by ``root_app``)
    and those of the ``sandboxes`` table, each under ``/s/ID/``.

    ``max_sandboxes`` is how many besides the root may exist (0: the root alone);
    ``open_sandboxes``, when not 0, lets a request without the operator's token
    create one while fewer than that many exist. ``now`` is the clock the
    sandboxes' lives are measured with (real UTC time, not any sandbox's clock)."""

    def __init__(
        self,
        root: Service,
        root_app: WSGIApp | None = None,
        *,
        max_sandboxes: int = MAX_SANDBOXES,
        open_sandboxes: int = 0,
        now: Callable[[], dt.datetime] = utc_now,
        root_platform: PlatformScenario | None = None,
        throttled: throttle.Throttle | None = None,
    ) -> None:
        """``root_platform``: the banks of the root sandbox (INTERFACE.md §10), the
        first being ``root``'s; by default ``root``'s scenario alone. ``throttled``:
        the buckets of wrong credentials every sandbox of the process shares (by
        default those of ``root``'s budget, :mod:`simulator.web.throttle`)."""
        self.root = root
        self.throttle = throttle.Throttle.of(root.config) if throttled is None else throttled
        self.root_app: WSGIApp = root_app or create_app(root, self.throttle)
        self.root_platform = root_platform or PlatformScenario.of(root.scenario)
        self.records = SqlSandboxes(root.db)
        self.max_sandboxes = max_sandboxes
        self.open_sandboxes = open_sandboxes
        self.now = now
        self.api = create_sandboxes_app(self)
        self._served: dict[str, Served] = {}
        self._scenarios: dict[str, PlatformScenario] = {}
        self._lock = threading.Lock()
        self._sweeper: Periodic | None = None

    # -- the dispatcher ----------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "") or "/"
        if path.startswith(contract.SANDBOX_PREFIX):
            sandbox_id, _, rest = path[len(contract.SANDBOX_PREFIX) :].partition("/")
            return self._in_sandbox(sandbox_id, "/" + rest, environ, start_response)
        if path.startswith(METADATA_PATH + contract.SANDBOX_PREFIX):
            sandbox_id, _, rest = path[len(METADATA_PATH + contract.SANDBOX_PREFIX) :].partition(
                "/"
            )
            issuer = "/" + rest if rest else ""
            return self._in_sandbox(sandbox_id, issuer + METADATA_PATH, environ, start_response)
        if path.startswith(METADATA_PATH + banks.BANK_PREFIX):
            code = path[len(METADATA_PATH + banks.BANK_PREFIX) :]
            return self._in_bank(ROOT, code, METADATA_PATH, environ, start_response)
        if path.startswith(banks.BANK_PREFIX):
            code, _, rest = path[len(banks.BANK_PREFIX) :].partition("/")
            return self._in_bank(ROOT, code, "/" + rest, environ, start_response)
        if path == contract.SANDBOXES_PATH or path.startswith(contract.SANDBOXES_PATH + "/"):
            return self.api(environ, start_response)
        return self.root_app(environ, start_response)

    def _in_sandbox(
        self, sandbox_id: str, path: str, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        if path.startswith(banks.BANK_PREFIX):
            code, _, rest = path[len(banks.BANK_PREFIX) :].partition("/")
            return self._in_bank(sandbox_id, code, "/" + rest, environ, start_response)
        served = self.served(sandbox_id)
        if served is None:
            return unknown_sandbox(sandbox_id)(environ, start_response)
        inner = {
            **environ,
            "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + contract.sandbox_base(sandbox_id),
            "PATH_INFO": path,
        }
        return served.app(inner, start_response)

    def _in_bank(
        self,
        sandbox_id: str,
        code: str,
        path: str,
        environ: Environ,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """Bank ``code`` of a sandbox, at ``BASE/banks/CODE/`` (INTERFACE.md §10)."""
        at_base = None
        if sandbox_id != ROOT:
            at_base = self.served(sandbox_id)
            if at_base is None:
                return unknown_sandbox(sandbox_id)(environ, start_response)
        served = self.bank_served(sandbox_id, code, at_base)
        if served is None:
            return unknown_bank(code)(environ, start_response)
        base = "" if sandbox_id == ROOT else contract.sandbox_base(sandbox_id)
        inner = {
            **environ,
            "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + base + banks.bank_base(code),
            "PATH_INFO": path,
        }
        return served.app(inner, start_response)

    def bank_served(
        self, sandbox_id: str, code: str, at_base: Served | None = None
    ) -> Served | None:
        """Bank ``code`` of sandbox ``sandbox_id`` (``at_base``: the sandbox as just
        served at its base; None for the root) as this process serves it; None when
        the sandbox's scenario has no such bank."""
        if not banks.is_bank_code(code):
            return None
        record = at_base.record if at_base is not None else None
        key = f"{sandbox_id}{banks.bank_base(code)}"
        with self._lock:
            found = self._served.get(key)
            if found is not None and found.record == record:
                return found
        platform = (at_base.platform if at_base is not None else None) or self.root_platform
        bank = platform.bank(code)
        if bank is None:
            return None
        service = self._bank_service(sandbox_id, record, platform, bank, seed=record is None)
        with self._lock:
            found = self._served[key] = Served(record, service, create_app(service, self.throttle))
        return found

    def served(self, sandbox_id: str) -> Served | None:
        """Sandbox ``sandbox_id`` as this process serves it, None when there is no such
        sandbox (any more): not the form of an id, no record, or its time is up."""
        if not contract.is_sandbox_id(sandbox_id):
            return None
        record = self.records.get(sandbox_id)
        if record is None or record.expires_at <= self.now():
            self.forget(sandbox_id)
            return None
        with self._lock:
            found = self._served.get(sandbox_id)
            if found is not None and found.record == record:
                return found
            platform = self._scenario_of(record)
            service = self._service(record, platform, seed=False)
            found = Served(record, service, create_app(service, self.throttle), platform)
            self._served[sandbox_id] = found
            return found

    def forget(self, sandbox_id: str) -> None:
        """Drop this process's applications of the sandbox and its banks (deleted, or expired)."""
        with self._lock:
            self._served.pop(sandbox_id, None)
            for key in [k for k in self._served if k.startswith(sandbox_id + banks.BANK_PREFIX)]:
                del self._served[key]

    # -- the sandboxes' worlds ----------------------------------------------------------------

    def origin(self) -> str:
        """The server's origin: the root's issuer (INTERFACE.md §1), never read from a request."""
        return self.root.config.issuer.rstrip("/")

    def base_url(self, sandbox_id: str) -> str:
        """Where the sandbox is served, and its issuer: ``ORIGIN/s/ID``."""
        return self.origin() + contract.sandbox_base(sandbox_id)

    def _service(self, record: SandboxRecord, platform: PlatformScenario, seed: bool) -> Service:
        """The sandbox at its base: its first bank (INTERFACE.md §10)."""
        return self._bank_service(record.id, record, platform, platform.first, seed, at_base=True)

    def _bank_service(
        self,
        sandbox_id: str,
        record: SandboxRecord | None,
        platform: PlatformScenario,
        bank: Scenario,
        seed: bool,
        *,
        at_base: bool = False,
    ) -> Service:
        config = self.root.config
        if record is not None:
            config = dataclasses.replace(
                config,
                admin_token_hash=record.admin_token_hash,
                telephony_secret_hash=record.telephony_secret_hash,
            )
        base = self.origin() if sandbox_id == ROOT else self.base_url(sandbox_id)
        if not at_base:
            base += banks.bank_base(str(bank.code))
        config = bank_config(config, sandbox_id, platform, bank, base)
        return Service(config, bank, db=self.root.db, seed=seed)

    def _scenario_of(self, record: SandboxRecord) -> PlatformScenario:
        if record.scenario_yaml is not None:
            return inline_scenario(record.scenario_yaml)
        if record.scenario not in self._scenarios:
            self._scenarios[record.scenario] = load_platform(resources.scenario(record.scenario))
        return self._scenarios[record.scenario]

    def create(self, body: schemas.CreateSandbox) -> tuple[SandboxRecord, str, str]:
        """A new sandbox of ``body``'s scenario, loaded with its data: its record, its
        admin token and its telephony secret (only their hashes are kept).
        Raises :class:`ScenarioError` for an inline scenario that cannot be used."""
        if isinstance(body.scenario, schemas.InlineScenario):
            text: str | None = body.scenario.yaml
            scenario = checked_inline_scenario(body.scenario.yaml, self.root.vault, self.now())
            name = contract.INLINE
        else:
            text, name = None, body.scenario
            scenario = self._scenario_of(
                SandboxRecord(name, "", name, None, "", "", self.now(), self.now())
            )
        admin_token, telephony_secret = secrets.token_hex(20), secrets.token_hex(16)
        now = self.now()
        record = SandboxRecord(
            id=secrets.token_hex(8),
            label=body.label,
            scenario=name,
            scenario_yaml=text,
            admin_token_hash=secret_hash(admin_token),
            telephony_secret_hash=secret_hash(telephony_secret),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=body.ttl_seconds),
        )
        self.records.create(record)
        try:
            service = self._service(record, scenario, seed=True)
            for bank in scenario.banks[1:]:  # each bank loaded with its data (§10)
                self._bank_service(record.id, record, scenario, bank, seed=True)
        except BaseException:
            self.records.delete(record.id)
            raise
        with self._lock:
            app = create_app(service, self.throttle)
            self._served[record.id] = Served(record, service, app, scenario)
        return record, admin_token, telephony_secret

    def delete(self, sandbox_id: str) -> bool:
        """Remove the sandbox and all it holds; False when there was none."""
        self.forget(sandbox_id)
        return contract.is_sandbox_id(sandbox_id) and self.records.delete(sandbox_id)

    def sweep(self) -> list[str]:
        """Remove every sandbox whose time is up; answers the ids this call removed."""
        removed = []
        for sandbox_id in self.records.expired(self.now()):
            if self.delete(sandbox_id):
                removed.append(sandbox_id)
        return removed

    def start_sweeper(self, every: float = SWEEP_SECONDS) -> None:
        """Sweep every ``every`` seconds in a thread of this process, until :meth:`stop`."""
        if self._sweeper is None:
            self._sweeper = Periodic(
                self.sweep, lambda: every, "renkei-sweeper", "the sweep of expired sandboxes"
            )
            self._sweeper.start()

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()

    # -- answers -----------------------------------------------------------------------------

    def listed(self, record: SandboxRecord) -> schemas.Sandbox:
        counts = self.records.counts(record.id)
        return {
            "id": record.id,
            "label": record.label,
            "scenario": record.scenario,
            "base_url": self.base_url(record.id),
            "created": record.created_at.isoformat(),
            "expires": record.expires_at.isoformat(),
            "counts": {
                "flows": counts["flows"],
                "grants": counts["grants"],
                "mails": counts["mails"],
            },
        }


def inline_scenario(text: str) -> PlatformScenario:
    """An inline scenario's text read as ``renkei scenario check`` reads a file.

    A text with more than :data:`MOST_ALIASES` YAML aliases is refused first: a few
    lines of nested aliases name millions of values (the "billion laughs"), which
    reading the scenario would walk; the shipped scenarios have none."""
    try:
        aliases = sum(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, yaml.SafeLoader))
    except yaml.YAMLError:
        aliases = 0  # load_yaml says where the syntax is wrong
    if aliases > MOST_ALIASES:
        raise ScenarioError(INLINE_SOURCE, "", f"more than {MOST_ALIASES} YAML aliases (*name)")
    return parse_platform(text, INLINE_SOURCE)


def checked_inline_scenario(text: str, vault: Any, now: dt.datetime) -> PlatformScenario:
    """:func:`inline_scenario`, built for today as ``renkei scenario check`` builds it
    (what only a day can tell: an account opened after today)."""
    scenario = inline_scenario(text)
    try:
        # Kept: the new sandbox's reset loads this very build (service.BUILT).
        for bank in scenario.banks:
            BUILT.host(bank, vault, now.date())
    except ScenarioError:
        raise
    except ValueError as error:
        raise ScenarioError(INLINE_SOURCE, "", str(error)) from None
    return scenario


def line_of(text: str, path: str) -> int | None:
    """The line (from 1) of the YAML node at ``path`` (``personas[0].phone``, as
    :class:`ScenarioError` names a field), or of the nearest node above it that exists."""
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = int(node.start_mark.line) + 1
    for part in path.replace("[", ".").replace("]", "").split("."):
        if not part:
            continue
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if getattr(k, "value", None) == part]
            if not found:
                break
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            break
        line = int(node.start_mark.line) + 1
    return line


def unknown_bank(code: str) -> Response:
    """404 ``bank_not_found``: the sandbox's scenario has no bank of this code (§10)."""
    shown = code[:40] + ("…" if len(code) > 40 else "")
    body = {"errorCode": banks.NOT_FOUND, "errorMessage": f"no bank {shown!r} on this platform"}
    return Response(json.dumps(body), status=404, mimetype="application/json")


def unknown_sandbox(sandbox_id: str) -> Response:
    """404 ``sandbox_not_found``: never created, deleted, or its time is up (§9)."""
    shown = sandbox_id[:40] + ("…" if len(sandbox_id) > 40 else "")
    body = {"errorCode": contract.NOT_FOUND, "errorMessage": f"no sandbox {shown!r}"}
    return Response(json.dumps(body), status=404, mimetype="application/json")


def refused_scenario(error: ScenarioError, text: str) -> Response:
    """400 for an inline scenario that cannot be used: the line and the field named,
    as ``renkei scenario check`` names them for a file."""
    line = line_of(text, error.path) if error.path else None
    if line is None and error.problem.startswith("line "):
        line = int(error.problem.split(",")[0].split()[1])
    where = f"line {line}: " if line is not None and error.path else ""
    field = f"{error.path}: " if error.path else ""
    response = jsonify(
        {
            "errorCode": "invalid_parameter",
            "errorMessage": f"'{INLINE_SOURCE}': {where}{field}{error.problem}",
            "field": error.path or INLINE_SOURCE,
            "line": line,
        }
    )
    response.status_code = 400
    return response


# -- the §9 endpoints ----------------------------------------------------------------------------


def create_sandboxes_app(platform: Platform) -> Flask:
    """``POST``/``GET /sandboxes``, ``GET``/``DELETE /sandboxes/{id}`` (INTERFACE.md §9).
    Errors are the controls' JSON ``{"errorCode", "errorMessage"}``, naming the field."""
    app = Flask(__name__)
    app.json = StrictJSON(app)
    app.json.ensure_ascii = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["renkei.platform"] = platform
    app.register_blueprint(endpoints)
    security.install(app)
    # A sandbox's own admin token is tried here and under its base alike: one bucket.
    throttle.install(app, platform.throttle, _managed_base)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        # 405 must say what is allowed (RFC 9110 §15.5.6).
        allow = {k: v for k, v in error.get_headers() if k == "Allow"}
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            status, "invalid_request"
        )
        return api_error(code, error.description or error.name, status, allow)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # R-ERR-SYS-3 for a real fault: logged here, never shown as a traceback.
        log.exception("unexpected error")
        fault = SystemError_()
        return api_error(fault.code, fault.message, 500)

    return app


endpoints = Blueprint("sandboxes", __name__)


def platform_() -> Platform:
    found: Platform = current_app.extensions["renkei.platform"]
    return found


def _managed_base() -> str:
    """Where the sandbox a request names is served (``/s/ID``), its bucket of wrong
    admin tokens; the root's for ``/sandboxes`` itself."""
    sandbox_id = (request.view_args or {}).get("sandbox_id", "")
    if contract.is_sandbox_id(sandbox_id):
        return request.script_root + contract.sandbox_base(sandbox_id)
    return request.script_root


def _token() -> str:
    given = request.headers.get("Authorization", "")
    return given[7:].strip() if given.startswith("Bearer ") else ""


def _is_operator() -> bool:
    """The operator's token: the server's admin token (§9)."""
    return platform_().root.config.is_admin(_token())


def _may_manage(record: SandboxRecord) -> bool:
    """The operator's token, or the sandbox's own admin token (on it alone)."""
    given = _token()
    return _is_operator() or (
        bool(given) and hmac.compare_digest(secret_hash(given), record.admin_token_hash)
    )


def _unauthorized(what: str) -> Response:
    response = api_error("unauthorized", f"{what} needs the operator's token", 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="renkei-admin"'
    return response


def _found(sandbox_id: str) -> SandboxRecord | None:
    """The record of a sandbox that exists and whose time is not up."""
    if not contract.is_sandbox_id(sandbox_id):
        return None
    record = platform_().records.get(sandbox_id)
    if record is None or record.expires_at <= platform_().now():
        return None
    return record


def _full(operator: bool, created: int = 0) -> Response | None:
    """The refusal of one sandbox more when the server holds all it may: 409 at
    ``--max-sandboxes``, 429 for a create without the operator's token once the
    ``--open-sandboxes`` are taken. ``created``: the caller's own, just made."""
    platform = platform_()
    count = platform.records.count() - created
    if count >= platform.max_sandboxes:
        return api_error(
            contract.LIMIT,
            f"the server holds its most sandboxes ({platform.max_sandboxes}, "
            "--max-sandboxes); delete one first",
            409,
        )
    if not operator and count >= platform.open_sandboxes:
        return api_error(
            contract.FULL,
            f"all {platform.open_sandboxes} open sandboxes are taken; try again when one expires",
            429,
            {"Retry-After": str(int(SWEEP_SECONDS))},
        )
    return None


@endpoints.post(contract.SANDBOXES_PATH)
def create() -> Response:
    """A new sandbox (201), from a shipped scenario or one sent inline."""
    platform = platform_()
    platform.sweep()
    operator = _is_operator()
    if not operator and platform.open_sandboxes <= 0:
        return _unauthorized("creating a sandbox")
    try:
        body = read_body(schemas.CreateSandbox, request.get_json(silent=True), bool(request.data))
    except Refused as refused:
        return api_error("invalid_parameter", str(refused), 400)
    refusal = _full(operator)
    if refusal is not None:
        return refusal
    try:
        record, admin_token, telephony_secret = platform.create(body)
    except ScenarioError as error:
        text = body.scenario.yaml if isinstance(body.scenario, schemas.InlineScenario) else ""
        return refused_scenario(error, text)
    # Two processes may each have seen room for one more: the later one gives way.
    if _full(operator, created=1) is not None:
        platform.delete(record.id)
        return _full(operator) or api_error(contract.LIMIT, "no room for a sandbox", 409)
    created: schemas.Created = {
        "id": record.id,
        "base_url": platform.base_url(record.id),
        "issuer": platform.base_url(record.id),
        "admin_token": admin_token,
        "telephony_secret": telephony_secret,
        "expires_at": record.expires_at.isoformat(),
        "scenario": record.scenario,
    }
    response = jsonify(created)
    response.status_code = 201
    response.headers["Location"] = contract.sandbox_path(record.id)
    return response


@endpoints.get(contract.SANDBOXES_PATH)
def listing() -> Response:
    """Every sandbox but the root, oldest first (the operator's token)."""
    if not _is_operator():
        return _unauthorized("listing the sandboxes")
    platform = platform_()
    platform.sweep()
    answer: schemas.Sandboxes = {"sandboxes": [platform.listed(r) for r in platform.records.all()]}
    return jsonify(answer)


@endpoints.get(contract.sandbox_path("<sandbox_id>"))
def one(sandbox_id: str) -> Response:
    """One sandbox (the operator's token, or its own admin token)."""
    record = _found(sandbox_id)
    if record is None:
        return unknown_sandbox(sandbox_id)
    if not _may_manage(record):
        return _unauthorized("reading a sandbox")
    return jsonify(platform_().listed(record))


@endpoints.delete(contract.sandbox_path("<sandbox_id>"))
def remove(sandbox_id: str) -> Response:
    """Remove the sandbox and all it holds (204; the operator's token, or its own)."""
    record = _found(sandbox_id)
    if record is None:
        return unknown_sandbox(sandbox_id)
    if not _may_manage(record):
        return _unauthorized("deleting a sandbox")
    if not platform_().delete(sandbox_id):
        return unknown_sandbox(sandbox_id)
    return Response(status=204)


__all__ = ["MAX_SANDBOXES", "ROOT", "Platform", "create_sandboxes_app", "line_of"]
