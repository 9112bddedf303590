"""renkei's own files, read from the installed package with :mod:`importlib.resources`
(INTERFACE.md §7), the same way by both sides.

Whatever a command needs ships inside the package and is read from there, never
from a path relative to a checkout or the current directory, so that an
installed wheel works from any directory.

The stylesheet lives in ``renkei/assets/``. The scenarios
(``scenarios/*.yaml``), the traffic profiles (``scenarios/traffic/*.yaml``) and
the conformance features (``features/``) stand at the top of the repository,
where a reader looks for them, and are installed as the packages
``renkei.scenarios`` and ``renkei.features`` (``pyproject.toml`` maps the
folders), so that the same code finds them in a wheel installed anywhere and in
the editable install of a checkout.

The commands hand these files to code that wants a path (pytest, the YAML
loaders, a child process's ``--scenario``), so each is answered as a
:class:`~pathlib.Path`: renkei is installed as files, never imported from a zip.

This module imports only the standard library: the bank and its tester both
read it (``tests/test_two_sides.py``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

#: The one stylesheet of every page renkei draws (``renkei/assets/``).
STYLESHEET: Final = "renkei.css"

#: The packages the top-level folders are installed as (``pyproject.toml``).
SCENARIOS_PACKAGE: Final = "renkei.scenarios"
FEATURES_PACKAGE: Final = "renkei.features"
#: The traffic profiles' folder inside the scenarios.
TRAFFIC: Final = "traffic"
#: The scenario every command starts from unless told otherwise (INTERFACE.md §8).
DEFAULT_SCENARIO: Final = "default"
#: The scenario ``renkei simulate`` plays its profiles with (a generated population).
LOAD_SCENARIO: Final = "load"


@cache
def stylesheet() -> str:
    """The stylesheet of the bank's screens, the conformance report, the certificate
    and the certifying proxy's page: one file, so that they look like one product.

    The bank serves it at ``/static/renkei.css``; the tester's pages, written to
    disk, carry it inline so that each HTML file stands alone.
    """
    return resources.files("renkei").joinpath("assets", STYLESHEET).read_text("utf-8")


def _folder(package: str) -> Path:
    """The installed folder of ``package`` as a path.

    Raises ``RuntimeError`` when the package is not on the file system (a zip
    import), where nothing here could hand pytest or a child process a file."""
    found = resources.files(package)
    if not isinstance(found, Path):
        raise RuntimeError(f"{package} is not installed as files ({found!r}); reinstall renkei")
    return found


def scenarios() -> Path:
    """The folder of the shipped scenarios (``scenarios/`` of the repository)."""
    return _folder(SCENARIOS_PACKAGE)


def traffic() -> Path:
    """The folder of the shipped traffic profiles (``scenarios/traffic/``)."""
    return scenarios() / TRAFFIC


def features() -> Path:
    """The folder of the conformance features with their ``conftest.py``
    (``features/`` of the repository)."""
    return _folder(FEATURES_PACKAGE)


def _names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml"))


def scenario_names() -> list[str]:
    """The shipped scenarios by name (``default``, ``load``, ``platform``)."""
    return _names(scenarios())


def profile_names() -> list[str]:
    """The shipped traffic profiles by name (``weekday``, ``payday``…)."""
    return _names(traffic())


def scenario(name: str = DEFAULT_SCENARIO) -> Path:
    """The shipped scenario ``name`` (``default``, ``load``…); ``KeyError`` if none."""
    path = scenarios() / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(name)
    return path


def profile(name: str) -> Path:
    """The shipped traffic profile ``name``; ``KeyError`` if none."""
    path = traffic() / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(name)
    return path


class NotFound(LookupError):
    """A name that is neither a file nor a shipped one; the message, one line, lists
    the shipped ones."""


def shipped_or_file(text: str, kind: str, names: list[str], folder: Path) -> Path:
    """``text`` as a file when it looks like one (it exists, has a YAML suffix or a
    slash: the loader then says what is wrong with it), else the shipped ``kind``
    of that name; :class:`NotFound` when it is neither."""
    given = Path(text)
    if given.exists() or given.suffix in (".yaml", ".yml") or "/" in text:
        return given
    if text in names:
        return folder / f"{text}.yaml"
    raise NotFound(f"{text}: no such file, nor a shipped {kind} (one of: {', '.join(names)})")


def find_scenario(text: str) -> Path:
    """A scenario option's value: a path, or the name of a shipped scenario."""
    return shipped_or_file(text, "scenario", scenario_names(), scenarios())


def find_profile(text: str) -> Path:
    """A traffic profile argument: a path, or the name of a shipped profile."""
    return shipped_or_file(text, "traffic profile", profile_names(), traffic())


def shown(path: Path | str) -> str:
    """A shipped file by its place in the repository (``scenarios/load.yaml``),
    whether renkei runs from a checkout or from site-packages; any other file as
    given. Reports print this, so that they read the same on every machine."""
    resolved = Path(path).resolve()
    for folder, prefix in ((scenarios(), "scenarios"), (features(), "features")):
        try:
            inside = resolved.relative_to(folder.resolve())
        except ValueError:
            continue
        return f"{prefix}/{inside.as_posix()}"
    return str(path)
