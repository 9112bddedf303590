"""The pytest plugin of the conformance harness.

* ``--target URL`` and ``--admin-token T`` (or ``RENKEI_TARGET`` and
  ``RENKEI_ADMIN_TOKEN``) point the features at an implementation; without
  them the embedded sandbox is started on a free loopback port — launched when
  the plugin is configured, so that it boots while pytest collects, and
  stopped after the last scenario (or when pytest ends, if none used it).
* ``--sandbox-each`` (or ``RENKEI_SANDBOX_EACH=1``, which ``renkei conform``
  sets for its parallel run): the features run in a new sandbox of the target
  (INTERFACE.md §9), one per pytest-xdist worker, created when the worker
  starts and deleted when it ends; ``--target`` is then the server's base URL
  and ``--admin-token`` the operator's. The sandbox is made from ``--personas``
  (a scenario YAML, sent inline) when given, else from the shipped ``default``.
  Without it, a worker of ``-n`` with no ``--target`` starts an embedded
  sandbox of its own.
* ``--personas FILE``: the test customers (a scenario YAML's ``personas``;
  renkei's shipped default scenario unless given).
* Every ``@tag`` of the feature files is registered as a marker, so the run
  can use ``--strict-markers`` and select with ``-m`` or ``--tags``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.args import SANDBOX_EACH
from harness.driver import Platform
from harness.embedded import EmbeddedSandbox, Target, wait_until_answers
from harness.personas import DEFAULT_FILE, Persona, load_personas
from harness.tags import feature_tags

#: The embedded sandbox launched at configure time, if any.
EMBEDDED = pytest.StashKey[EmbeddedSandbox]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("renkei", "conformance harness")
    group.addoption(
        "--target",
        default=os.environ.get("RENKEI_TARGET"),
        help="base URL of the implementation under test (default: embedded)",
    )
    group.addoption(
        "--admin-token",
        default=os.environ.get("RENKEI_ADMIN_TOKEN"),
        help="its admin token (INTERFACE.md §6)",
    )
    group.addoption(
        "--sandbox-each",
        action="store_true",
        default=os.environ.get(SANDBOX_EACH) == "1",
        help="run in a new sandbox of --target (INTERFACE.md §9), one per worker "
        f"(also {SANDBOX_EACH}=1)",
    )
    group.addoption(
        "--personas",
        default=str(DEFAULT_FILE),
        help="YAML with the test customers (default: renkei's shipped default scenario)",
    )


def remember_step_definitions() -> bool:
    """Find each step's definition once per text and test module, not once per step.

    pytest-bdd finds the definition of a step by asking pytest, for every fixture
    name there is (a few hundred with the harness's steps), which definitions the
    test can see, and matching each against the step's text: about a tenth of a
    whole run's time in the tester, for an answer that is the same for every
    step of the same keyword and text in the same module (the step definitions
    are registered once, when the plugins load). False, and nothing changed, on a
    pytest-bdd without that function (the answers are then only slower).
    """
    module = importlib.import_module("pytest_bdd.scenario")
    find: Callable[..., Iterable[Any]] | None = getattr(module, "find_fixturedefs_for_step", None)
    if find is None or getattr(find, "remembers", False):
        return find is not None
    found: dict[tuple[Any, str, str], list[Any]] = {}

    def remembered(step: Any, fixturemanager: Any, node: pytest.Item) -> Iterable[Any]:
        key = (step.type, step.name, str(node.path))
        if key not in found:
            found[key] = list(find(step, fixturemanager, node))
        return found[key]

    remembered.remembers = True  # type: ignore[attr-defined]
    module.find_fixturedefs_for_step = remembered  # type: ignore[attr-defined]
    return True


def pytest_configure(config: pytest.Config) -> None:
    remember_step_definitions()
    for tag in sorted(feature_tags()):
        config.addinivalue_line("markers", f"{tag}: a requirement or area of the features")
    # Nothing runs with --collect-only or --help; otherwise launch the sandbox
    # now, so its second or two of start-up overlaps collection.
    # An xdist controller runs no scenario: its workers start their own.
    controller = bool(getattr(config.option, "numprocesses", None)) and not hasattr(
        config, "workerinput"
    )
    if not (
        config.getoption("--target")
        or config.option.collectonly
        or config.option.help
        or controller
    ):
        config.stash[EMBEDDED] = EmbeddedSandbox()


def pytest_unconfigure(config: pytest.Config) -> None:
    embedded = config.stash.get(EMBEDDED, None)
    if embedded is not None:
        embedded.stop()


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    url = request.config.getoption("--target")
    if url:
        token = request.config.getoption("--admin-token")
        if not token:
            raise pytest.UsageError("--target needs --admin-token (or RENKEI_ADMIN_TOKEN)")
        if not request.config.getoption("--sandbox-each"):
            yield Target(url.rstrip("/"), token)
            return
        given = request.config.getoption("--personas")
        scenario = None if Path(given) == DEFAULT_FILE else Path(given).read_text("utf-8")
        yield from _own_sandbox(request.config, url.rstrip("/"), token, scenario)
        return
    embedded = request.config.stash.get(EMBEDDED, None) or EmbeddedSandbox()
    try:
        yield embedded.ready()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def personas(request: pytest.FixtureRequest) -> dict[str, Persona]:
    return load_personas(Path(request.config.getoption("--personas")))


#: How long a worker waits for a target that ``renkei conform`` is still starting.
START_SECONDS = 30


def _own_sandbox(
    config: pytest.Config, origin: str, token: str, scenario: str | None
) -> Iterator[Target]:
    """A new sandbox of the server at ``origin`` for this process (INTERFACE.md §9),
    deleted afterwards. The server may still be starting (``renkei conform``
    launches the embedded one beside pytest): its answer is waited for first."""
    wait_until_answers(origin, START_SECONDS)
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    platform = Platform(origin, token)
    try:
        made = platform.create(yaml=scenario, label=f"renkei conform {worker}")
        try:
            yield Target(made.base_url.rstrip("/"), made.admin_token, made.telephony_secret)
        finally:
            platform.delete(made.id)
    finally:
        platform.close()
