"""What the web adapter serves a request with: one bank's scenario and rules, the
store, the clock and the shared sandbox state (a :class:`Service`), and the
request's own unit of work on a flow (a :class:`FlowRequest`).

"Service", not "bank": the bank itself is the scenario's bank (its
:class:`~simulator.core.bank.BankRules`); this is how the adapter serves it.

Several server processes may serve one database, so nothing that two requests
must agree on lives in a process: the sandbox clock's setting, the faults and
the maintenance windows are read from the database on each request — once per
request, in one query, however often the request asks for them.

One server holds many sandboxes (INTERFACE.md §9): one Service per sandbox,
built with its id and handing it to every store object, so that nothing it
reads or writes is another sandbox's. The root sandbox, served at ``/``, is
:data:`~simulator.store.schema.ROOT`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import g, has_request_context
from sqlalchemy.engine import Engine

from renkei.contract import banks
from simulator.core.clock import ClockSetting, SandboxClock, SystemClock, to_jst
from simulator.core.faults import Faults
from simulator.core.flow import ConnectFlow, Event, FlowState, Journal
from simulator.core.grants import Grant, RevokedBy
from simulator.core.host import PinVault
from simulator.core.hours import ServiceCalendar
from simulator.core.memory import MemoryHost
from simulator.core.throttle import FailureBudget
from simulator.scenario import Scenario
from simulator.store.database import open_database
from simulator.store.grants import SqlGrants
from simulator.store.host import SqlHost
from simulator.store.schema import ROOT
from simulator.store.state import SqlCalls, SqlFlows, SqlLog, SqlMailbox, SqlSettings
from simulator.store.tokens import SqlTokens


@dataclass(frozen=True)
class ServiceConfig:
    database_url: str
    admin_token: str
    #: The key of the PIN hashes: held outside the database (R-AUTHZ-2).
    pin_key: bytes = field(repr=False)
    #: Signs the flow cookie's CSRF tokens.
    secret_key: bytes = field(repr=False)
    sandbox: bool = True
    smtp_host: str | None = None
    smtp_port: int = 25
    #: True when ``smtp_host`` is renkei's own sink, which files what it receives.
    embedded_mail: bool = False
    #: The completion mail's outbox (simulator.web.mail; docs/hardening.md, "The
    #: completion mail: leases and deadlines"): a whole SMTP conversation is abandoned
    #: after ``mail_deadline_seconds``; a claimed mail is another outbox's to take
    #: ``mail_lease_seconds`` after its claim (at least the deadline and 1 s more);
    #: a conversation that did not deliver is tried again ``mail_retry_seconds``
    #: later, doubled after each further one, and ``mail_attempts`` in all.
    mail_deadline_seconds: float = 30.0
    mail_lease_seconds: float = SqlMailbox.LEASE_SECONDS
    mail_retry_seconds: float = 30.0
    mail_attempts: int = SqlMailbox.ATTEMPTS
    #: Access tokens are short-lived (INTERFACE.md §1): 15 minutes.
    access_token_seconds: int = 900
    #: Authorization codes: 60 seconds (RFC 6749 §4.1.2 recommends at most 10 minutes).
    code_seconds: int = 60
    #: Where the 「連携元画面へ」 links of the footer point; a sandbox's is ORIGIN/s/ID.
    issuer: str = "http://127.0.0.1:8000"
    telephony_secret: str | None = None
    #: The sandbox served (INTERFACE.md §9): the root at ``/``, or the id of one at
    #: ``/s/ID/``; for a bank of it but the first (§10), that bank's key (bank_world).
    sandbox_id: str = ROOT
    #: The sandbox whose banks this one shares a platform with (§10): the key of the
    #: settings that are the platform's (the clock; faults and windows set with
    #: ``"scope": "platform"``); None for the sandbox itself.
    platform_id: str | None = None
    #: The keys of every bank of the platform, whose flows congestion counts
    #: together (R-PLAT-3); empty for a sandbox of one bank.
    platform_worlds: tuple[str, ...] = ()
    #: A sandbox's own admin token and telephony secret, as sha256 hex (the secrets
    #: themselves are never stored); ``admin_token`` above stays the operator's,
    #: which works on every sandbox (§9).
    admin_token_hash: str | None = field(default=None, repr=False)
    telephony_secret_hash: str | None = field(default=None, repr=False)
    #: Wrong credentials a source may send (``--auth-throttle``): a burst, then a rate
    #: a second (simulator.web.throttle); and how many proxies in front of the server
    #: append ``X-Forwarded-For`` (``--trusted-proxies``; 0: the header is not read).
    auth_throttle: FailureBudget = field(default_factory=FailureBudget)
    trusted_proxies: int = 0

    def is_admin(self, given: str) -> bool:
        """Whether ``given`` is the operator's token or this sandbox's own."""
        if hmac.compare_digest(given.encode(), self.admin_token.encode()):
            return True
        own = self.admin_token_hash
        return own is not None and hmac.compare_digest(secret_hash(given), own)

    def may_report_call(self, secret: str, bearer: str) -> bool:
        """Whether a request to the telephony gateway (INTERFACE.md §4) comes from the
        carrier or the sandbox's operator: ``secret`` (its ``X-Telephony-Secret``) is
        the gateway's, or ``bearer`` (its ``Authorization: Bearer``) an admin token of
        this sandbox. Never open: with neither configured nothing is accepted."""
        return (bool(secret) and self.is_gateway_secret(secret)) or (
            bool(bearer) and self.is_admin(bearer)
        )

    def is_gateway_secret(self, given: str) -> bool:
        """Whether ``given`` is the gateway's shared secret (the server's, or the sandbox's own)."""
        if self.telephony_secret and hmac.compare_digest(
            given.encode(), self.telephony_secret.encode()
        ):
            return True
        own = self.telephony_secret_hash
        return own is not None and hmac.compare_digest(secret_hash(given), own)


def secret_hash(secret: str) -> str:
    """How a sandbox's secrets are kept: sha256 hex (what the store's record holds)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def load_or_create_key(path: Path) -> bytes:
    """A random key kept in a file of its own (mode 0600), made on first use."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_text(key.hex())
    return key


class Service:
    """Everything a request of one sandbox needs, built once per process.

    ``db`` is the database the server's other sandboxes use (one engine and one
    pool for all); without it the Service opens ``config.database_url``. An empty
    sandbox is loaded with the scenario's data unless ``seed`` is false: a
    process that builds the Service of a sandbox another created finds it loaded,
    and one deleted meanwhile must not be loaded again."""

    def __init__(
        self,
        config: ServiceConfig,
        scenario: Scenario,
        *,
        db: Engine | None = None,
        seed: bool = True,
    ) -> None:
        self.config = config
        self.scenario = scenario
        self.rules = scenario.rules
        self.clients = {c.client_id: c for c in scenario.clients}
        self.db = db if db is not None else open_database(config.database_url)
        sandbox = self.sandbox = config.sandbox_id
        self.host = SqlHost(self.db, sandbox=sandbox)
        self.flows = SqlFlows(
            self.db, sandbox=sandbox, platform=config.platform_worlds, slots=self.rules.slots
        )
        self.log = SqlLog(self.db, sandbox=sandbox)
        self.settings = SqlSettings(self.db, sandbox=sandbox)
        platform = config.platform_id or sandbox
        #: The platform's settings: the bank's own store when it is the first bank.
        self.platform_settings = (
            self.settings if platform == sandbox else SqlSettings(self.db, sandbox=platform)
        )
        self.mailbox = SqlMailbox(self.db, sandbox=sandbox)
        self.grants = SqlGrants(self.db, sandbox=sandbox)
        self.tokens = SqlTokens(self.db, sandbox=sandbox)
        self.calls = SqlCalls(self.db, sandbox=sandbox)
        self.vault = PinVault(config.pin_key)
        self.rng = random.SystemRandom()
        if seed and self.host.is_empty():
            self.reset()

    # -- shared sandbox state -----------------------------------------------------------

    def _setting(self, name: str, default: Any) -> Any:
        """A setting as the database has it when the request being served first asks
        for any (outside a request, such as in the mail sink's thread: as it has it now).

        A screen asks for the clock, the faults and the windows several times
        (gate, flow engine, footer); one read keeps them consistent within the
        request and spares the repeated queries. Another process's change shows
        from the next request on, as it would have a moment later anyway.
        """
        return self._read(self.settings, "renkei_settings", name, default)

    def _platform_setting(self, name: str, default: Any) -> Any:
        """A setting of the platform (INTERFACE.md §10), read as :meth:`_setting` reads."""
        if self.platform_settings is self.settings:
            return self._setting(name, default)
        return self._read(self.platform_settings, "renkei_platform_settings", name, default)

    @staticmethod
    def _read(store: SqlSettings, kept: str, name: str, default: Any) -> Any:
        if not has_request_context():
            rows: dict[str, Any] = store.all()
        elif kept in g:
            rows = g.get(kept)
        else:
            rows = store.all()
            setattr(g, kept, rows)
        value = rows.get(name)
        return default if value is None else value

    def _put_setting(self, name: str, value: Any, *, platform: bool = False) -> None:
        (self.platform_settings if platform else self.settings).put(name, value)
        self._forget_settings()

    def _forget_settings(self) -> None:
        """After a change, the request reads the settings again (it shows what it set)."""
        if has_request_context():
            g.pop("renkei_settings", None)
            g.pop("renkei_platform_settings", None)

    def clock(self) -> SandboxClock:
        """The sandbox's clock: one for all the banks of its platform (INTERFACE.md §10)."""
        stored = self._platform_setting("clock", {})
        frozen = stored.get("frozen_at")
        setting = ClockSetting(
            offset=dt.timedelta(seconds=stored.get("offset_seconds", 0.0)),
            frozen_at=dt.datetime.fromisoformat(frozen) if frozen else None,
        )
        return SandboxClock(SystemClock(), setting)

    def save_clock(self, clock: SandboxClock) -> None:
        s = clock.setting
        self._put_setting(
            "clock",
            {
                "offset_seconds": s.offset.total_seconds(),
                "frozen_at": s.frozen_at.isoformat() if s.frozen_at else None,
            },
            platform=True,
        )

    def faults(self, scope: str | None = None) -> Faults:
        """The faults in force: the bank's own and the platform's together (R-PLAT-3);
        with ``scope`` (``bank`` or ``platform``, INTERFACE.md §10) only those set so."""
        own = Faults(**self._setting("faults", {}))
        if scope == banks.BANK:
            return own
        shared = Faults(**self._platform_setting(PLATFORM_FAULTS, {}))
        if scope == banks.PLATFORM:
            return shared
        return Faults(
            congestion=own.congestion or shared.congestion,
            system_error=own.system_error or shared.system_error,
            service_suspended=own.service_suspended or shared.service_suspended,
        )

    def save_faults(self, faults: Faults, scope: str = banks.BANK) -> None:
        platform = scope == banks.PLATFORM
        self._put_setting(
            PLATFORM_FAULTS if platform else "faults",
            {
                "congestion": faults.congestion,
                "system_error": faults.system_error,
                "service_suspended": faults.service_suspended,
            },
            platform=platform,
        )

    def maintenance(self, scope: str | None = None) -> list[dict[str, Any]]:
        """The ad-hoc windows (R-HOURS-6): the bank's own and the platform's; with
        ``scope``, only those set so."""
        own = [] if scope == banks.PLATFORM else list(self._setting("maintenance", []))
        shared = (
            [] if scope == banks.BANK else list(self._platform_setting(PLATFORM_MAINTENANCE, []))
        )
        return own + shared

    def add_maintenance(
        self, start: dt.datetime, end: dt.datetime, label: str, scope: str = banks.BANK
    ) -> None:
        # Validated by the calendar first, so a bad window is refused, not stored.
        ServiceCalendar(self.rules.windows).add_maintenance(start, end, label)
        windows = self.maintenance(scope)
        windows.append(
            {"start": to_jst(start).isoformat(), "end": to_jst(end).isoformat(), "label": label}
        )
        platform = scope == banks.PLATFORM
        self._put_setting(
            PLATFORM_MAINTENANCE if platform else "maintenance", windows, platform=platform
        )

    def calendar(self) -> ServiceCalendar:
        calendar = ServiceCalendar(self.rules.windows)
        for w in self.maintenance():
            calendar.add_maintenance(
                dt.datetime.fromisoformat(w["start"]),
                dt.datetime.fromisoformat(w["end"]),
                w["label"],
            )
        return calendar

    def connect_flow(
        self, clock: SandboxClock | None = None, journal: Journal | None = None
    ) -> ConnectFlow:
        """The core's flow engine over this bank, for one request. Its operation-log
        lines go to ``journal`` (a :class:`FlowRequest`'s, to wait for the flow's
        save); without one they are written at once."""
        return ConnectFlow(
            self.rules,
            self.host,
            self.host,
            self.vault,
            clock or self.clock(),
            self.rng,
            self.calendar(),
            self.faults,
            journal or self.log.append,
        )

    def note(self, kind: str, flow_id: str = "", **detail: Any) -> None:
        """A line of the operation log that is not the flow engine's (R-AUTHZ-6),
        written at once: where it is called (the controls, the token endpoints, the
        completion mail after ⑥'s save, the outbox's thread) no flow save is still
        to come that could take it. Within a flow's request, :meth:`FlowRequest.note`."""
        self.log.append(Event(self.clock().now(), flow_id, kind, detail))

    def revoke_grant(self, grant_id: str, by: RevokedBy) -> Grant | None:
        """End a grant and every token issued under it (R-AUTHZ-3 by the bank,
        RFC 7009 §2.1 by the app); None when there is no such grant."""
        grant = self.grants.get(grant_id)
        if grant is None:
            return None
        now = self.clock().now()
        grant = self.rules.grants.revoke(grant, now, by=by)
        self.grants.save(grant)
        self.tokens.revoke_grant(grant_id, now)
        self.note("revoked", grant_id=grant_id, by=by)
        return grant

    # -- sandbox controls -----------------------------------------------------------------

    def reset(self, today: dt.date | None = None) -> None:
        """Back to the scenario's data (as on ``today``, by default the real day);
        clock, faults and windows back to default."""
        self.settings.clear()
        self._forget_settings()
        for part in (self.flows, self.grants, self.tokens, self.log, self.mailbox):
            part.clear()
        today = today or self.clock().now().date()
        self.host.load(BUILT.host(self.scenario, self.vault, today))


#: The names of the platform's own faults and windows among its settings: apart from
#: the first bank's own, which live under the same key (INTERFACE.md §10).
PLATFORM_FAULTS = "platform_faults"
PLATFORM_MAINTENANCE = "platform_maintenance"


class BuiltHosts:
    """The host data a scenario builds on a day, kept for the next sandbox of the same
    scenario that day (INTERFACE.md §9: each POST /sandboxes and each reset builds
    one, and the build — personas, a population, months of history — is most of the
    cost of making a sandbox). A build depends only on the scenario, the PIN key
    and the day (Scenario.build_host), so a kept one is the one a new build would
    give. A kept host is only ever read (SqlHost.load copies it into the store)."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._lock = threading.Lock()
        # The scenario itself is kept beside its host: its id is the key, and an id
        # is only unique while the object lives.
        self._kept: OrderedDict[tuple[int, bytes, dt.date], tuple[Scenario, MemoryHost]] = (
            OrderedDict()
        )

    def host(self, scenario: Scenario, vault: PinVault, today: dt.date) -> MemoryHost:
        key = (id(scenario), vault.secret, today)
        with self._lock:
            found = self._kept.get(key)
            if found is not None and found[0] is scenario:
                self._kept.move_to_end(key)
                return found[1]
        built = scenario.build_host(vault, today)
        with self._lock:
            self._kept[key] = (scenario, built)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return built


#: The builds of this process.
BUILT = BuiltHosts()


class FlowRequest:
    """One request's way through the flow (the screens of INTERFACE.md §2, the
    authorization request of §1, a call of §4): the flow engine over ``bank``, and
    the operation-log lines it and the adapter write, which wait here for the
    request's flow save and go in its transaction (R-AUTHZ-6): one commit fewer,
    and a line and the move it tells of are kept or lost together. A stale save
    writes neither and leaves the lines waiting, for the save of the newer copy.
    The lines no save took are written when the request is done with the flow
    (:meth:`flush`, or leaving the ``with`` block), before its answer leaves.

    The adapter makes one per request and hands it along, so that nothing of a
    request's log lives in ``flask.g`` or in the process."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._waiting: list[Event] = []
        self.engine = service.connect_flow(journal=self.log)

    def __enter__(self) -> FlowRequest:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        # Also when the request failed: the lines tell of moves already made.
        self.flush()

    @property
    def waiting(self) -> tuple[Event, ...]:
        """The lines no save has taken yet, in order."""
        return tuple(self._waiting)

    def log(self, event: Event) -> None:
        """A line of the operation log, to wait for the flow's save (the engine's journal)."""
        self._waiting.append(event)

    def note(self, kind: str, flow_id: str = "", **detail: Any) -> None:
        """A line of the adapter's own, waiting as the engine's do."""
        self.log(Event(self.engine.clock.now(), flow_id, kind, detail))

    def save(self, flow: FlowState, oauth_params: dict[str, str] | None = None) -> None:
        """Save ``flow`` with the lines waiting so far; raises
        :class:`~simulator.store.state.StaleFlow` as ``SqlFlows.save`` does, having
        written nothing, the lines then still waiting."""
        self.service.flows.save(flow, oauth_params, log=self._waiting)
        self._waiting.clear()

    def load(self, flow_id: str) -> FlowState | None:
        """The flow as the latest save left it."""
        return self.service.flows.load(flow_id)

    def flush(self) -> None:
        """Write the lines no save took, in one transaction, in order."""
        if self._waiting:
            self.service.log.extend(self._waiting)
            self._waiting.clear()
