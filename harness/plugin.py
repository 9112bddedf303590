"""The pytest plugin of the conformance harness.

* ``--target URL`` and ``--admin-token T`` (or ``RENKEI_TARGET`` and
  ``RENKEI_ADMIN_TOKEN``) point the features at an implementation; without
  them the embedded sandbox is started on a free loopback port — launched when
  the plugin is configured, so that it boots while pytest collects, and
  stopped after the last scenario (or when pytest ends, if none used it).
* ``--personas FILE``: the test customers (a scenario YAML's ``personas``;
  renkei's shipped default scenario unless given).
* Every ``@tag`` of the feature files is registered as a marker, so the run
  can use ``--strict-markers`` and select with ``-m`` or ``--tags``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.embedded import EmbeddedSandbox, Target
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
        "--personas",
        default=str(DEFAULT_FILE),
        help="YAML with the test customers (default: renkei's shipped default scenario)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for tag in sorted(feature_tags()):
        config.addinivalue_line("markers", f"{tag}: a requirement or area of the features")
    # Nothing runs with --collect-only or --help; otherwise launch the sandbox
    # now, so its second or two of start-up overlaps collection.
    if not (config.getoption("--target") or config.option.collectonly or config.option.help):
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
        yield Target(url.rstrip("/"), token)
        return
    embedded = request.config.stash.get(EMBEDDED, None) or EmbeddedSandbox()
    try:
        yield embedded.ready()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def personas(request: pytest.FixtureRequest) -> dict[str, Persona]:
    return load_personas(Path(request.config.getoption("--personas")))
