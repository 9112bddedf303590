"""The wheel, installed anywhere (INTERFACE.md §7: "The package installed from a wheel,
in any directory, runs every command on its embedded defaults").

The wheel is built from a copy of the sources (so that the build leaves nothing
in the checkout) and installed, not editable, with its dependencies as pip
resolves them, into a virtual environment of its own; then, from an empty
directory, every command runs on what the package ships: ``renkei serve``
answers its metadata URL and stops on SIGTERM, ``renkei scenario check``,
``renkei simulate weekday``, ``renkei conform --tags @R-FLOW-7`` and ``renkei
certify --play reference`` exit 0, and nothing is written outside that
directory: not in the checkout, not in the environment's files (bytecode
included: the environment variable that stops Python writing it is taken away),
not in the temporary directory, and in the home directory only the caches and
settings of the libraries (matplotlib's font list). The extras the default
install leaves out are named when a command needs them.

It takes a minute or two: most of it is pip installing the dependencies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What of the checkout is not the sources: never copied into the build.
NOT_SOURCES = (
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".pytest_cache",
    "reports",
    "data",
)
#: The folders of the sources and where the wheel puts them (pyproject.toml).
SHIPPED = {
    "renkei": "renkei",
    "simulator": "simulator",
    "harness": "harness",
    "scenarios": "renkei/scenarios",
    "features": "renkei/features",
}
#: Whatever pip, the build or a command needs longer than this has hung.
TIMEOUT = 600


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    sources: Path

    @property
    def renkei(self) -> str:
        return str(self.venv / "bin" / "renkei")


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, status: int = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == status, (
        f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel of the sources, installed with its dependencies into a new venv
    (removed afterwards: a third of a gigabyte that pytest would keep for days)."""
    work = tmp_path_factory.mktemp("packaging")
    sources = work / "sources"
    shutil.copytree(ROOT, sources, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    wheels = work / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(sources),
        ]
    )
    [wheel] = wheels.glob("renkei-*.whl")
    venv = work / "venv"
    # The venv without a pip of its own (ensurepip takes seconds): this pip installs into it.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            str(wheel),
        ]
    )
    yield Installed(venv, wheel, sources)
    shutil.rmtree(work, ignore_errors=True)


def test_the_wheel_holds_every_file_of_the_sources(installed: Installed) -> None:
    """Every module, scenario, profile, feature, template and static file is in the
    wheel, where renkei.resources and the packages look for it."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    missing = []
    for folder, inside in SHIPPED.items():
        for path in sorted((installed.sources / folder).rglob("*")):
            if path.is_file():
                name = f"{inside}/{path.relative_to(installed.sources / folder).as_posix()}"
                if name not in names:
                    missing.append(name)
    assert not missing, (
        "not in the wheel (a package setup.py does not find, or a file pyproject.toml's "
        f"package-data does not match): {', '.join(missing)}"
    )
    assert "renkei/scenarios/traffic/weekday.yaml" in names  # what the loop above checked


def test_the_default_install_leaves_the_extras_out(installed: Installed) -> None:
    metadata = next(installed.venv.glob("lib/python3*/site-packages/renkei-*.dist-info/METADATA"))
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in metadata.read_text("utf-8").splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    default = [r for r in requires if "extra ==" not in r]
    for heavy in ("playwright", "locust", "psycopg", "distributed"):
        assert not [r for r in default if r.startswith(heavy)], f"{heavy} in the default install"
    for extra in ("browser", "dask", "locust", "postgres", "test"):
        assert any(f'extra == "{extra}"' in r for r in requires), extra


def _snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` with its size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in [*dirs, *files]:
            path = Path(folder) / name
            with_stat = path.lstat()
            found[path.relative_to(root).as_posix()] = (with_stat.st_size, with_stat.st_mtime_ns)
    return found


def _checkout() -> set[str]:
    """Where in the checkout a command's files would land if it wrote there: the top
    level, ``reports/``, and the scenarios and features it ships (compared by name
    only, as other work may change the checkout's own files meanwhile)."""
    found = {p.name for p in ROOT.iterdir()}
    for folder in ("reports", "scenarios", "features"):
        skip = ("__pycache__",)  # the test process itself may write bytecode there
        found |= {f"{folder}/{p}" for p in _snapshot(ROOT / folder, skip)}
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """An empty working directory and the environment of a new user: a home and a
    temporary directory of their own, no renkei settings, bytecode written."""
    cwd, home, temp = tmp_path / "empty", tmp_path / "home", tmp_path / "tmp"
    for folder in (cwd, home, temp):
        folder.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RENKEI_", "PYTHON", "VIRTUAL_ENV", "MPL", "XDG_"))
    }
    env.update(HOME=str(home), TMPDIR=str(temp))
    yield cwd, env


def _serve(installed: Installed, cwd: Path, env: dict[str, str]) -> None:
    """``renkei serve`` answers its metadata URL (RFC 8414) and stops on SIGTERM with 0."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [installed.renkei, "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as server:
        try:
            metadata = None
            deadline = time.monotonic() + 120
            while metadata is None and server.poll() is None and time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(
                        f"{url}/.well-known/oauth-authorization-server"
                    ) as r:
                        metadata = json.load(r)
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.1)
            assert metadata is not None, f"renkei serve did not answer:\n{server.communicate()[0]}"
            assert metadata["issuer"] == url
        finally:
            server.send_signal(signal.SIGTERM)
            output = server.communicate(timeout=60)[0]
    assert server.returncode == 0, output
    assert "renkei sandbox bank on" in output


def test_every_command_runs_from_an_empty_directory(
    installed: Installed, empty: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = empty
    home, temp = Path(env["HOME"]), Path(env["TMPDIR"])
    venv_before = _snapshot(installed.venv)
    checkout_before = _checkout()

    _serve(installed, cwd, env)
    check = _run([installed.renkei, "scenario", "check"], cwd=cwd, env=env)
    assert check.stdout.startswith("scenarios/default.yaml: 中ノ郷信用組合")
    _run([installed.renkei, "simulate", "weekday", "--customers", "300"], cwd=cwd, env=env)
    conform = _run([installed.renkei, "conform", "--tags", "@R-FLOW-7"], cwd=cwd, env=env)
    assert "PASSED" in conform.stdout
    certify = ["certify", "--client-id", "creco", "--play", "reference"]
    assert "Verdict: PASSED" in _run([installed.renkei, *certify], cwd=cwd, env=env).stdout

    written = sorted(_snapshot(cwd))
    for expected in (
        "data/renkei.db",
        "reports/twin/weekday/summary.txt",
        "reports/twin/weekday/day.png",
        "reports/conformance.md",
        "reports/cucumber.json",
        "reports/certify/creco/certificate.json",
    ):
        assert expected in written, f"{expected} not written under the working directory"
    venv_after = _snapshot(installed.venv)
    changed = sorted(
        k for k in venv_after.keys() | venv_before.keys() if venv_after.get(k) != venv_before.get(k)
    )
    assert not changed, f"written into the installed environment: {changed[:20]}"
    new_in_checkout = sorted(_checkout() - checkout_before)
    assert not new_in_checkout, f"written into the checkout: {new_in_checkout[:20]}"
    assert not list(temp.iterdir()), "temporary files left behind"
    outside = [p for p in _snapshot(home) if not p.startswith((".cache", ".config"))]
    assert not outside, f"written into the home directory: {outside}"


EXTRA = "needs the {0} extra: pip install 'renkei[{0}]'"


def test_a_missing_extra_is_named_in_one_line(
    installed: Installed, empty: tuple[Path, dict[str, str]]
) -> None:
    """The default install has no Playwright, Locust, psycopg or Dask: what needs one
    says which extra to install, in one line, exit 2."""
    cwd, env = empty
    python = str(installed.venv / "bin" / "python")
    for cmd, line in (
        (
            [installed.renkei, "conform", "--browser"],
            "renkei conform: --browser " + EXTRA.format("browser"),
        ),
        (
            [installed.renkei, "serve", "--database-url", "postgresql://renkei@127.0.0.1/db"],
            "renkei: --database-url postgresql " + EXTRA.format("postgres"),
        ),
        (
            [python, "-c", "import harness.locustfile"],
            "renkei: the Locust file " + EXTRA.format("locust"),
        ),
        (
            [
                installed.renkei,
                "simulate",
                "weekday",
                "--replications",
                "2",
                "--scheduler",
                "tcp://127.0.0.1:8786",
            ],
            "renkei simulate: --scheduler " + EXTRA.format("dask"),
        ),
    ):
        done = _run(cmd, cwd, env, status=2)
        assert done.stderr == line + "\n", cmd
    assert not list(cwd.iterdir()), "nothing written before refusing"
