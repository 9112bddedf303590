"""The pytest plugin of the conformance harness.

* ``--target URL`` and ``--admin-token T`` (or ``RENKEI_TARGET`` and
  ``RENKEI_ADMIN_TOKEN``) point the features at an implementation; without
  them the embedded sandbox is started on a free loopback port.
* ``--personas FILE``: the test customers (a scenario YAML's ``personas``).
* Every ``@tag`` of the feature files is registered as a marker, so the run
  can use ``--strict-markers`` and select with ``-m`` or ``--tags``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.embedded import Target, embedded_sandbox
from harness.personas import DEFAULT_FILE, Persona, load_personas

FEATURES = Path(__file__).resolve().parents[1] / "features"
TAG = re.compile(r"(?<!\S)@([^\s@]+)")


def feature_tags(folder: Path = FEATURES) -> set[str]:
    """Every tag written in the feature files of ``folder``."""
    tags: set[str] = set()
    for path in folder.glob("*.feature"):
        for line in path.read_text("utf-8").splitlines():
            if line.strip().startswith("@"):
                tags.update(TAG.findall(line))
    return tags


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
        help="YAML with the test customers (default: scenarios/default.yaml)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for tag in sorted(feature_tags()):
        config.addinivalue_line("markers", f"{tag}: a requirement or area of the features")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    url = request.config.getoption("--target")
    if url:
        token = request.config.getoption("--admin-token")
        if not token:
            raise pytest.UsageError("--target needs --admin-token (or RENKEI_ADMIN_TOKEN)")
        yield Target(url.rstrip("/"), token)
        return
    with embedded_sandbox() as embedded:
        yield embedded


@pytest.fixture(scope="session")
def personas(request: pytest.FixtureRequest) -> dict[str, Persona]:
    return load_personas(Path(request.config.getoption("--personas")))
