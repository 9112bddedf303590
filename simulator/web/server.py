"""Serving the app: waitress in this process, for ``renkei serve`` and for tests."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from waitress import create_server

from simulator.scenario import PlatformScenario, Scenario
from simulator.store.schema import ROOT
from simulator.web.mail import start_sink
from simulator.web.platform import MAX_SANDBOXES, Platform, bank_config, utc_now
from simulator.web.service import Service, ServiceConfig
from simulator.web.throttle import Throttle, proxy_options


@dataclass
class RunningServer:
    """A sandbox bank listening on a loopback port, in a background thread."""

    service: Service
    url: str
    _server: Any
    _thread: threading.Thread
    _sink: Any

    _stopping: threading.Event
    #: The server's sandboxes (INTERFACE.md §9); ``service`` is the root's.
    platform: Platform

    def stop(self) -> None:
        self.platform.stop()
        self._stopping.set()
        self._thread.join(timeout=10)
        if self._sink is not None:
            self._sink.stop()


def build(
    config: ServiceConfig, scenario: Scenario, embedded_mail: bool = True
) -> tuple[Service, Any]:
    """The bank and, unless an SMTP server is configured, the embedded mail sink."""
    service = Service(config, scenario)
    sink = None
    if embedded_mail and config.smtp_host is None:
        sink, port = start_sink(service)
        service.config = replace(config, smtp_host="127.0.0.1", smtp_port=port, embedded_mail=True)
    return service, sink


def start_in_thread(
    config: ServiceConfig,
    scenario: Scenario | PlatformScenario,
    host: str = "127.0.0.1",
    port: int = 0,
    threads: int = 8,
    max_sandboxes: int = MAX_SANDBOXES,
    open_sandboxes: int = 0,
    now: Callable[[], dt.datetime] = utc_now,
    throttled: Throttle | None = None,
) -> RunningServer:
    """The server of ``renkei serve``, the sandboxes of §9 with it (``now``: the
    clock their lives are measured with); the sweep runs when asked
    (``platform.sweep()``) and on the §9 calls, not in a thread of its own. A
    platform ``scenario`` serves its first bank at ``/`` and each at ``/banks/CODE/``
    (INTERFACE.md §10). ``throttled``: the buckets of wrong credentials, when not
    those of ``config``'s budget on the process's clock."""
    banks = scenario if isinstance(scenario, PlatformScenario) else PlatformScenario.of(scenario)
    config = bank_config(config, ROOT, banks, banks.first, config.issuer)
    service, sink = build(config, banks.first)
    platform = Platform(
        service,
        max_sandboxes=max_sandboxes,
        open_sandboxes=open_sandboxes,
        now=now,
        root_platform=banks,
        throttled=throttled,
    )
    server = create_server(
        platform, host=host, port=port, threads=threads, **proxy_options(config.trusted_proxies)
    )
    url = f"http://{host}:{server.effective_port}"
    service.config = replace(service.config, issuer=url)
    stopping = threading.Event()
    thread = threading.Thread(
        target=_serve_until, args=(server, stopping), name="renkei-waitress", daemon=True
    )
    thread.start()
    return RunningServer(service, url, server, thread, sink, stopping, platform)


def _serve_until(server: Any, stopping: threading.Event) -> None:
    """waitress's loop, a tenth of a second at a time, until told to stop; then
    close everything from this same thread (idle keep-alive connections would
    otherwise keep the loop alive)."""
    while not stopping.is_set():
        server.asyncore.loop(timeout=0.1, map=server._map, count=1)
    server.close()
    for channel in list(server._map.values()):
        channel.close()
    server.task_dispatcher.shutdown()
