"""``renkei conform``: the Gherkin features against a target, then the report
(INTERFACE.md §7).

The features run in a pytest subprocess (so this process stays clean and a
crash there cannot take the report with it), against the embedded sandbox or
``--target URL``, with ``--strict-markers``, ``-m`` from ``--tags`` and pytest's
own Cucumber JSON and JUnit XML. While it runs, one line per finished scenario
is printed (from :mod:`harness.conform_plugin`); pytest's full output goes to
``<out>/pytest.log``.

With ``-n N`` (``-n auto``: one per core, the default for the whole features;
one with ``--tags``) the features run in parallel on pytest-xdist workers, each
in a sandbox of its own that it creates when it starts and deletes when it ends
(INTERFACE.md §9; harness.plugin): on the embedded sandbox (one server, a
process per worker), and on a ``--target`` that serves ``POST /sandboxes``. A
target that does not (it answers 404 or 405, or refuses the token) runs them
one at a time on the target itself, and the run says so in one line. The workers' records are
merged (harness.conform_parallel), so the report, the JUnit XML and the
Cucumber JSON are those of a sequential run. pytest loads only the plugins the
run needs (pytest-bdd, pytest-xdist, the harness's), not every plugin installed
beside it: the others' imports cost seconds at every start.

Then :mod:`harness.report` reads the Cucumber JSON and
the plugin's record, applies the expected deviations, and :mod:`harness.render`
writes ``conformance.md`` and ``conformance.html`` beside ``junit.xml`` and
``cucumber.json``: every requirement of REQUIREMENTS.md, with the scenarios
that show it, their results and the browser run's screenshots
(``<out>/screenshots/*.png``).

The features are the ones renkei ships (``features/`` of the repository,
inside the package once installed; :mod:`renkei.resources`), so the command
runs from any directory. It writes only into ``--out`` (``./reports``): pytest
runs with the current directory as its working directory, a configuration file
of its own in a scratch directory (no ``pytest.ini`` or ``pyproject.toml`` of
the surroundings applies), no cache provider and no bytecode written.

Exit status: 0 when no requirement failed; 1 when one did (a failing scenario
that no deviation entry expects), or with ``--strict`` when a requirement is not
covered or a deviation entry is stale; 2 when the run could not be made (bad
options, personas or deviations file, a ``--target`` that is not a URL or does
not answer, a missing extra, pytest could not collect or start) or ran no
scenario — each of these one line before any scenario runs. Nothing here
imports ``simulator``: the CLI imports this module.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO
from urllib.parse import urlsplit

from harness.args import SANDBOX_EACH, add_target
from harness.conform_plugin import PREFIX
from harness.personas import DEFAULT_FILE, PersonasError, load_personas
from harness.render import html_report, markdown, summary
from harness.report import (
    NO_RUN,
    Deviation,
    RunInfo,
    ScenarioResult,
    browser_not_run,
    browser_results,
    build,
    load_deviations,
    read_junit,
    read_results,
)
from harness.requirements import Requirements, load
from harness.tags import feature_tags
from renkei import resources
from renkei.args import positive_int
from renkei.contract.controls import CLOCK_PATH

if TYPE_CHECKING:
    from harness.embedded import EmbeddedSandbox, Target

FEATURES: Final = resources.features()
#: Files a run writes into ``--out`` (removed first, so that a failed run never
#: leaves the previous run's report looking current). Screenshots are kept.
OUTPUTS: Final = ("conformance.md", "conformance.html", "junit.xml", "cucumber.json", "pytest.log")
#: pytest's exit statuses that mean the features did not run (interrupted,
#: internal error, usage error).
PYTEST_BROKEN: Final = (2, 3, 4)
PYTEST_NOTHING: Final = 5
TAIL: Final = 40
INTERRUPTED: Final = 130
#: How long the target may take to answer the probe made before any scenario.
PROBE_SECONDS: Final = 10
#: The configuration file of the pytest child: nothing from the directories around.
PYTEST_INI: Final = "[pytest]\n"


def marker_expression(tags: str, known: set[str] | None = None) -> str:
    """A Gherkin tag expression (``@R-FLOW-7 and not @slow``) as a pytest ``-m``
    expression: tags are pytest markers of the same name (harness.plugin), and
    ``and``, ``or``, ``not`` and parentheses mean the same in both. With ``known``
    (the features' tags), a tag that no feature has is refused."""
    expression = re.sub(r"@(?=[^\s()@])", "", tags).strip()
    if not expression:
        raise ValueError("--tags is empty")
    if "@" in expression:
        raise ValueError(f"not a tag expression: {tags!r}")
    if known is not None:
        names = set(re.findall(r"[^\s()]+", expression)) - {"and", "or", "not"}
        unknown = sorted(names - known)
        if unknown:
            raise ValueError(f"no feature has the tag(s) {', '.join('@' + t for t in unknown)}")
    return expression


def add_parser(commands: Any) -> None:
    """``renkei conform`` on the CLI's subcommands (as simulator/serve.py's add_parser)."""
    p = commands.add_parser(
        "conform",
        help="run the Gherkin features against a target and write the conformance report",
        description="Run the conformance features (features/*.feature) against the embedded "
        "sandbox or --target URL, then write a requirement-by-requirement report "
        "(conformance.md and conformance.html, with junit.xml and cucumber.json) into --out. "
        "Exit status: 0 no requirement failed; 1 a requirement failed (with --strict also: "
        "one not covered or a stale deviation entry); 2 the run could not be made or ran "
        "no scenario.",
    )
    add_target(
        p,
        "base URL of the implementation under test (also RENKEI_TARGET); "
        "default: the embedded sandbox on a free loopback port",
    )
    p.add_argument(
        "-n",
        "--workers",
        dest="workers",
        type=workers_count,
        default=None,
        metavar="N",
        help="parallel workers, each in a sandbox of its own (INTERFACE.md §9); "
        "'auto': the number of cores; 1: one at a time on the target itself; "
        "default: 'auto' for the whole features, 1 with --tags",
    )
    p.add_argument(
        "--tags",
        metavar="EXPR",
        help="only scenarios matching a tag expression, e.g. '@R-FLOW-7 and not @slow'",
    )
    p.add_argument(
        "--deviations",
        metavar="FILE",
        help="expected deviations (JSON; see docs/conformance.md)",
    )
    p.add_argument(
        "--out", default="reports", metavar="DIR", help="where the reports go (./reports)"
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="also fail when a requirement is not covered or a deviation entry is stale",
    )
    p.add_argument(
        "--personas",
        metavar="FILE",
        help="the target's test customers as a scenario YAML (default: renkei's shipped "
        "default scenario)",
    )
    p.add_argument(
        "--requirements",
        metavar="FILE",
        help="REQUIREMENTS.md to report against (../shared/spec/REQUIREMENTS.md, "
        "else the copy in the package)",
    )
    p.add_argument(
        "--browser",
        action="store_true",
        help="after the features, also run the browser journeys in Chromium "
        "(/usr/bin/chromium) against the same target; screenshots into <out>/screenshots/",
    )
    p.add_argument(
        "--features",
        default=str(FEATURES),
        metavar="DIR",
        help="the feature files and their conftest.py (default: the features renkei ships)",
    )
    p.set_defaults(handler=run)


def workers_count(text: str) -> int:
    """``-n``: a whole number ≥ 1, or ``auto`` for the number of cores."""
    return (os.cpu_count() or 1) if text == "auto" else positive_int(text)


def default_workers(tags: str | None) -> int:
    """How many workers a run gets without ``-n``: one per core for the whole
    features; one for a ``--tags`` selection, which is mostly a handful of
    scenarios, done in one process before a second has started."""
    return 1 if tags else workers_count("auto")


def pytest_command(
    args: argparse.Namespace,
    out: Path,
    record: Path,
    expression: str | None,
    ini: Path,
    workers: int = 1,
) -> list[str]:
    """The pytest child's command line. ``ini`` is its configuration file (empty) and
    its rootdir is the features' parent, so that a feature is named
    ``features/<file>`` in the report wherever renkei is installed; no cache and
    no Locust plugin (which would patch the standard library with gevent). With
    ``workers`` > 1, pytest-xdist's ``-n``, each worker in a sandbox of its own
    (``--sandbox-each``). The plugins are named (:func:`_env` turns autoloading
    off)."""
    features = Path(args.features).resolve()
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(features),
        "-q",
        "--tb=short",
        "-c",
        str(ini),
        f"--rootdir={features.parent}",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:locust",
        "-p",
        "pytest_bdd.plugin",
        "-p",
        "harness.conform_plugin",
        "--strict-markers",
        f"--cucumberjson={out / 'cucumber.json'}",
        f"--junitxml={out / 'junit.xml'}",
        "-o",
        "junit_suite_name=renkei-conform",
        f"--renkei-record={record}",
    ]
    if workers > 1:
        cmd += ["-p", "xdist.plugin", "-n", str(workers)]
    if expression:
        cmd += ["-m", expression]
    if args.personas:
        cmd += ["--personas", str(Path(args.personas).resolve())]
    return cmd


def _stream(cmd: list[str], cwd: Path, log: Path, out: TextIO, env: dict[str, str]) -> int:
    """Run pytest; echo the progress lines; keep everything in ``log``."""
    tail: deque[str] = deque(maxlen=TAIL)
    with (
        log.open("w", encoding="utf-8") as kept,
        subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        ) as process,
    ):
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                line = raw.decode("utf-8", "replace")
                kept.write(line)
                tail.append(line)
                at = line.find(PREFIX)
                if at >= 0:
                    print("  " + line[at + len(PREFIX) :].rstrip(), file=out, flush=True)
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=30)
            raise
        status = process.wait()
    if status in PYTEST_BROKEN:
        print(f"renkei conform: pytest exited {status}; the end of {log}:", file=sys.stderr)
        print("".join(tail).rstrip(), file=sys.stderr)
    return status


def _env(target: Target | None, workers: int = 1) -> dict[str, str]:
    """The child's environment: the target and its token go to harness.plugin through
    ``RENKEI_TARGET`` and ``RENKEI_ADMIN_TOKEN``, never on a command line that ``ps`` shows."""
    # No bytecode: the features' conftest.py and step modules would otherwise get
    # pytest's rewritten .pyc beside them, in site-packages or in the checkout.
    # No plugin autoloading: every installed plugin (Hypothesis, Faker, Schemathesis…)
    # would be imported by pytest and each xdist worker; pytest_command names the
    # ones the run needs.
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    env.pop("RENKEI_TARGET", None)
    env.pop("RENKEI_ADMIN_TOKEN", None)
    env.pop(SANDBOX_EACH, None)
    if workers > 1:
        env[SANDBOX_EACH] = "1"  # harness.plugin: each worker in a sandbox of its own
    if target is not None:
        env["RENKEI_TARGET"] = target.url
        env["RENKEI_ADMIN_TOKEN"] = target.admin_token
    return env


def _usage(message: str) -> int:
    print(f"renkei conform: {message}", file=sys.stderr)
    return NO_RUN


@dataclass(frozen=True)
class Plan:
    """What the options asked for, checked before anything runs."""

    features: Path
    expression: str | None
    requirements: Requirements
    deviations: list[Deviation]


def target_url_problem(url: str) -> str | None:
    """Why ``--target`` is not the base URL of an implementation, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        return f"--target {url!r} is not a URL ({e})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--target {url!r} is not an http:// or https:// URL"
    if parts.query or parts.fragment:
        return f"--target {url!r}: a base URL has no query or fragment"
    return None


def _reason(error: Exception) -> str:
    """What a failed connection comes to, without the requests library's wrapping."""
    text = str(error)
    found: list[str] = re.findall(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found[-1].strip().rstrip(".")
    name = type(error).__name__
    return "no answer in time" if "Timeout" in name else name


def target_problem(url: str, admin_token: str) -> str | None:
    """Why the target cannot be tested, asked once before any scenario runs: it
    does not answer, or it refuses the admin token the features need for the
    sandbox controls (INTERFACE.md §6, ``GET /sandbox/clock``). Any other answer
    is the features' to judge."""
    import requests  # noqa: PLC0415 (only with --target; see run)

    try:
        answer = requests.get(
            url + CLOCK_PATH,
            headers={"Authorization": f"Bearer {admin_token}", "Accept": "application/json"},
            timeout=PROBE_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as e:
        return f"cannot reach --target {url}: {_reason(e)}"
    if answer.status_code in (401, 403):
        return (
            f"--target {url} refused the admin token (GET {CLOCK_PATH} answered "
            f"{answer.status_code}); give its token with --admin-token or RENKEI_ADMIN_TOKEN"
        )
    return None


def _plan(args: argparse.Namespace) -> Plan | str:
    """The run the options ask for, or why it cannot be made: every check that can
    fail is made here, before pytest starts, the target's last."""
    if args.target and (problem := target_url_problem(args.target)):
        return problem
    if args.target and not args.admin_token:
        return "--target needs --admin-token (or RENKEI_ADMIN_TOKEN)"
    if args.browser and (problem := browser_missing()):
        return problem
    for module in ("pytest", "pytest_bdd"):
        if importlib.util.find_spec(module) is None:
            return f"needs {module}: pip install 'pytest>=8' 'pytest-bdd>=8'"
    features = Path(args.features).resolve()
    if not any(features.glob("*.feature")):
        return f"no feature files in {features} (--features DIR: a folder of *.feature files)"
    try:
        load_personas(Path(args.personas) if args.personas else DEFAULT_FILE)
        expression = marker_expression(args.tags, feature_tags(features)) if args.tags else None
        requirements = load(Path(args.requirements) if args.requirements else None)
        deviations = load_deviations(Path(args.deviations), requirements) if args.deviations else []
    except PersonasError as e:
        return f"--personas {e}"
    except OSError as e:
        return f"{e.filename}: {e.strerror}"
    except ValueError as e:  # a bad --tags, REQUIREMENTS.md or deviations file
        return str(e)
    if args.target and (problem := target_problem(args.target.rstrip("/"), args.admin_token)):
        return problem
    return Plan(features, expression, requirements, deviations)


@dataclass
class RunResult:
    """What the features (and the browser run) gave, before the report."""

    status: int
    record: dict[str, Any]
    journeys: list[ScenarioResult] = field(default_factory=list)
    browser_line: str | None = None


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``renkei conform``: run, report, print the summary; answers the exit status."""
    plan = _plan(args)
    if isinstance(plan, str):
        return _usage(plan)
    folder, label = _announce(args, plan, out)
    began = time.monotonic()
    servers: list[EmbeddedSandbox] = []  # the embedded server, once started
    try:
        outcome = _execute(args, plan, folder, out, servers)
        if isinstance(outcome, int):
            return outcome
        for server in servers:
            server.terminate()  # it shuts down while the report is written
        code = _report(args, plan, folder, label, outcome, out)
    finally:
        for server in servers:
            server.stop()
    written = "conformance.md, conformance.html, junit.xml, cucumber.json"
    if args.browser:
        written += ", screenshots/"
    print(f"\nReports in {folder}: {written} ({time.monotonic() - began:.1f} s)", file=out)
    return code


def _execute(
    args: argparse.Namespace,
    plan: Plan,
    folder: Path,
    out: TextIO,
    servers: list[EmbeddedSandbox],
) -> RunResult | int:
    """The features (and the browser run) against the target: what they gave, or the
    exit status of a run that could not be made. An embedded server it starts is
    put in ``servers`` for the caller to stop.

    With several workers, or ``--browser``: one embedded server for the features
    (their workers' sandboxes in it) and the browser run, so that both show the
    same target; sequentially without ``--browser``, the features' plugin starts
    its own. It serves §9, so nothing is asked of it before the workers start: it
    runs a process per worker, and pytest is launched while it boots (each worker
    waits for its answer before making its sandbox, harness.plugin)."""
    # Imported here: every renkei command imports this module, and requests
    # (harness.embedded) is needed only when the features run.
    from harness.embedded import EmbeddedSandbox, Target  # noqa: PLC0415

    workers = args.workers if args.workers is not None else default_workers(args.tags)
    try:
        target: Target | None = None
        if args.target:
            target = Target(args.target.rstrip("/"), args.admin_token)
            workers = _workers(args, target, workers, out)
        elif args.browser or workers > 1:
            embedded = EmbeddedSandbox(("--workers", str(workers)) if workers > 1 else ())
            servers.append(embedded)
            target = embedded.target
            if workers == 1:
                # One process runs the features on the target itself, and does not
                # wait for it as each of several workers does (harness.plugin).
                embedded.ready()
        outcome = _features(args, plan, folder, target, out, workers)
        for server in servers:
            # A server that never started failed every scenario for want of a
            # target: that is the run that could not be made, not a report.
            target = server.ready()
        if outcome is None:
            return NO_RUN
        if args.browser:
            assert target is not None
            outcome.journeys, outcome.browser_line = _browser(target, folder, args.personas, out)
    except RuntimeError as error:  # the embedded server did not start (harness.embedded)
        return _usage(str(error))
    except KeyboardInterrupt:
        print("renkei conform: interrupted; no report written", file=sys.stderr)
        return INTERRUPTED
    return outcome


def _announce(args: argparse.Namespace, plan: Plan, out: TextIO) -> tuple[Path, str]:
    """The output folder, emptied of a previous run's reports, and what the run is
    against; both said in the run's first lines."""
    folder = Path(args.out).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (folder / name).unlink(missing_ok=True)
    label = args.target or "the embedded sandbox (renkei serve, scenarios/default.yaml)"
    print(f"renkei conform: {plan.features} against {label}", file=out)
    if args.tags:
        print(f"  tags: {args.tags}  (pytest -m {plan.expression!r})", file=out)
    return folder, label


def _workers(args: argparse.Namespace, target: Target | None, workers: int, out: TextIO) -> int:
    """How many workers the features get: one when the target cannot give each a
    sandbox of its own, which the run says in one line."""
    if workers > 1 and target is not None and (why := sandboxes_problem(target, args.personas)):
        where = args.target or "the embedded sandbox"
        print(f"renkei conform: {why}: the features run one at a time on {where}", file=out)
        return 1
    return workers


def sandboxes_problem(target: Target, personas: str | None = None) -> str | None:
    """Why the features cannot run in sandboxes of their own on ``target``, or None:
    it does not serve INTERFACE.md §9, or refuses to make one (the token is not
    the operator's, the server is full, the ``--personas`` scenario is refused).
    Asked by making one as the workers will and deleting it."""
    from harness.driver import NoSandboxes, Platform, SandboxRefused  # noqa: PLC0415

    platform = Platform(target.url, target.admin_token)
    scenario = Path(personas).read_text("utf-8") if personas else None
    try:
        made = platform.create(yaml=scenario, label="renkei conform: probe", ttl_seconds=60)
        platform.delete(made.id)
    except NoSandboxes:
        return "the target does not serve POST /sandboxes (INTERFACE.md §9)"
    except SandboxRefused as error:
        return f"the target makes no sandbox ({error})".splitlines()[0]
    except (OSError, ValueError, KeyError) as error:  # requests' errors are OSErrors
        return f"the target makes no sandbox ({type(error).__name__}: {error})".splitlines()[0]
    finally:
        platform.close()
    return None


def _features(
    args: argparse.Namespace,
    plan: Plan,
    folder: Path,
    target: Target | None,
    out: TextIO,
    workers: int = 1,
) -> RunResult | None:
    """The features in a pytest child; None when pytest could not run them."""
    with tempfile.TemporaryDirectory(prefix="renkei-conform-") as scratch:
        record_path = Path(scratch) / "record.json"
        ini = Path(scratch) / "pytest.ini"
        ini.write_text(PYTEST_INI, "utf-8")
        cmd = pytest_command(args, folder, record_path, plan.expression, ini, workers)
        status = _stream(cmd, Path.cwd(), folder / "pytest.log", out, _env(target, workers))
        if status in PYTEST_BROKEN:
            return None
        record: dict[str, Any] = (
            json.loads(record_path.read_text("utf-8")) if record_path.exists() else {}
        )
    return RunResult(status, record)


def _report(
    args: argparse.Namespace, plan: Plan, folder: Path, label: str, outcome: RunResult, out: TextIO
) -> int:
    """conformance.md and conformance.html from the run; the summary printed; the exit status."""
    cucumber_path = folder / "cucumber.json"
    cucumber = json.loads(cucumber_path.read_text("utf-8")) if cucumber_path.exists() else []
    started, seconds, tests = read_junit(folder / "junit.xml")
    info = RunInfo(
        target=label,
        tags=args.tags,
        deviations=args.deviations,
        pytest_exit=outcome.status,
        started=started,
        seconds=seconds,
        tests=tests,
        browser=outcome.browser_line,
    )
    results = read_results(cucumber, outcome.record.get("scenarios"))
    scenarios = results + outcome.journeys
    report = build(plan.requirements, scenarios, plan.deviations, folder / "screenshots", info)
    (folder / "conformance.md").write_text(markdown(report, args.strict), "utf-8")
    (folder / "conformance.html").write_text(html_report(report, args.strict), "utf-8")

    code = report.exit_status(args.strict)
    print("", file=out)
    print(summary(report, args.strict), file=out)
    if outcome.status == 1 and not any(s.outcome == "failed" for s in results):
        print(
            "renkei conform: pytest reported a failure outside the scenarios; "
            f"see {folder / 'pytest.log'}",
            file=sys.stderr,
        )
        code = max(code, 1)
    if outcome.status == PYTEST_NOTHING:
        print("renkei conform: no scenario was selected", file=sys.stderr)
    return code


def browser_missing() -> str | None:
    """Why ``--browser`` cannot run on this machine, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "--browser needs the browser extra: pip install 'renkei[browser]'"
    # Playwright only when asked for: every renkei command imports this module.
    from harness import browser  # noqa: PLC0415

    if not Path(browser.CHROMIUM).exists():
        return (
            f"--browser needs Debian's chromium at {browser.CHROMIUM}, which is missing: "
            "apt-get install chromium fonts-ipafont-gothic (scripts/test does, as root)"
        )
    return None


def _browser(
    target: Target, folder: Path, personas: str | None, out: TextIO
) -> tuple[list[ScenarioResult], str]:
    """The browser run (harness/browser.py) against ``target``, its screenshots in
    ``<folder>/screenshots/``: its journeys as scenarios of the report, and one line
    for the report's header. A journey that fails, or a run that cannot start
    (Chromium, the target), fails the requirements it shows; nothing is raised."""
    from harness import browser  # noqa: PLC0415  (Playwright: see browser_missing)

    shots = folder / "screenshots"
    # Written anew: a journey that fails early must not leave an older run's
    # picture of its screen looking current.
    for old in shots.glob("*.png"):
        old.unlink()
    print(f"renkei conform: the browser run in Chromium ({browser.CHROMIUM})", file=out)
    try:
        people = load_personas(Path(personas) if personas else DEFAULT_FILE)
        journeys = browser.browser_run(target, shots, people)
    except Exception as error:  # Chromium or the target failing: the report says so
        why = f"the browser run could not run: {type(error).__name__}: {error}".splitlines()[0]
        print(f"  failed  {why}", file=out)
        shown = dict.fromkeys(r for reqs in browser.JOURNEYS.values() for r in reqs)
        detail = "".join(traceback.format_exception(error))
        return [browser_not_run(shown, why, detail)], why
    for j in journeys:
        why = f" — {j.error}" if j.error else ""
        state = "passed" if j.passed else "failed"
        print(f"  {state:<7} browser: {j.name}  ({' '.join(j.requirements)}){why}", file=out)
    failed = sum(1 for j in journeys if not j.passed)
    line = f"{len(journeys)} journeys in Chromium, {len(journeys) - failed} passed"
    line += f", {failed} failed" if failed else ""
    return browser_results(journeys), f"{line}; screenshots in {shots.name}/"
