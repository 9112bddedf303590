"""The pytest plugin that ``renkei conform`` loads into its pytest run.

pytest-bdd's Cucumber JSON lists only the scenarios whose steps ran: one that
errors before its first step (the target unreachable, a fixture failing) or that
``--tags`` deselected is not in it. So that such a scenario can never turn a
requirement into "not covered" instead of "failed", this plugin records every
collected scenario — selected or not — with its feature, name, tags (the
markers made from its ``@tags``, feature and examples tags included) and the
outcome pytest gave it, and writes them as JSON to ``--renkei-record PATH``.

It also prints one progress line per finished scenario, prefixed with
:data:`PREFIX` so that ``renkei conform`` can show them while the rest of
pytest's output goes to ``pytest.log``.

A failing scenario's detail in the report is what a tester needs to see what
went wrong: the short traceback of the harness's own code (the step and its
helpers, not the HTTP library's source) and the last HTTP exchanges the
scenario made — each request with its answer's status and body — which it
keeps by watching every ``requests`` session of the run (:class:`Exchanges`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # only for the types: ``renkei conform`` imports PREFIX without pytest
    import pytest
    import requests
    from _pytest._code.code import ExceptionInfo, Traceback

#: The start of a progress line meant for the user of ``renkei conform``.
PREFIX: Final = "renkei-conform> "
#: Markers that pytest and pytest-bdd add themselves, not from the features' tags.
NOT_TAGS: Final = frozenset(
    {"parametrize", "usefixtures", "skip", "skipif", "xfail", "filterwarnings"}
)
#: The parameter pytest-bdd gives each row of a Scenario Outline's examples.
EXAMPLE_PARAM: Final = "_pytest_bdd_example"
MAX_DETAIL: Final = 8000
#: The exchanges kept for a failure's detail, and how much of each body is shown.
KEPT_EXCHANGES: Final = 3
MAX_BODY: Final = 600
#: The harness's own code: a failure's traceback keeps only these frames.
HARNESS: Final = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("renkei-conform", "renkei conform's record")
    group.addoption(
        "--renkei-record",
        metavar="PATH",
        help="write every scenario's feature, tags and outcome to PATH (JSON)",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--renkei-record")
    if not path:
        return
    if hasattr(config, "workerinput") or getattr(config.option, "numprocesses", None):
        # A worker records into a file of its own; the controller merges them.
        from harness import conform_parallel  # noqa: PLC0415 (pytest-xdist's run only)

        recorder = conform_parallel.configure(config, Path(path))
        if recorder is not None:
            config.pluginmanager.register(recorder, "renkei-conform-recorder")
        if recorder is not None or conform_parallel.distributed(config):
            return
    config.pluginmanager.register(Recorder(Path(path), config), "renkei-conform-recorder")


def _cut(text: str, limit: int = MAX_BODY) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _request_body(request: requests.PreparedRequest) -> str:
    body = request.body
    if body is None or body in (b"", ""):
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return _cut(str(body))


class Exchanges:
    """The last HTTP exchanges of the running scenario, whichever party made them.

    Every party of the driver is a ``requests`` session (harness.driver), so
    :meth:`install` wraps ``requests.Session.send`` for the pytest run: each
    request is kept with its answer, or with the error that stopped it."""

    def __init__(self, kept: int = KEPT_EXCHANGES) -> None:
        self._kept: deque[str] = deque(maxlen=kept)
        self._restore: Callable[[], None] | None = None

    def clear(self) -> None:
        self._kept.clear()

    def shown(self) -> list[str]:
        return list(self._kept)

    def add(
        self,
        request: requests.PreparedRequest,
        answer: requests.Response | None,
        error: BaseException | None = None,
        streamed: bool = False,
    ) -> None:
        lines = [f"{request.method} {request.url}"]
        if body := _request_body(request):
            lines.append(f"  {body}")
        if answer is None:
            lines.append(f"→ no answer: {type(error).__name__}: {_cut(str(error), 300)}")
        else:
            kind = answer.headers.get("Content-Type", "").split(";")[0]
            head = f"→ {answer.status_code} {answer.reason}" + (f" ({kind})" if kind else "")
            if location := answer.headers.get("Location"):
                head += f", Location: {location}"
            lines.append(head)
            if not streamed and (text := _cut(answer.text)):
                lines.append(f"  {text}")
        self._kept.append("\n".join(lines))

    def install(self) -> None:
        import requests  # noqa: PLC0415 (the pytest child only; see the module's imports)

        original = requests.Session.send
        exchanges = self

        def send(session: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
            __tracebackhide__ = True  # a failure's traceback shows the step, not this wrapper
            try:
                answer = original(session, request, **kw)
            except Exception as error:
                exchanges.add(request, None, error)
                raise
            exchanges.add(request, answer, streamed=bool(kw.get("stream")))
            return answer

        requests.Session.send = send  # type: ignore[method-assign,assignment]

        def restore() -> None:
            requests.Session.send = original  # type: ignore[method-assign]

        self._restore = restore

    def uninstall(self) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None


def _ours(excinfo: ExceptionInfo[BaseException]) -> Traceback:
    """The traceback's frames in the harness's own code (pytest's hidden ones left
    out as usual); all of them if none is."""
    shown = excinfo.traceback.filter(excinfo)
    ours = shown.filter(lambda entry: Path(str(entry.path)).is_relative_to(HARNESS))
    return ours if len(ours) else shown


def failure_detail(excinfo: ExceptionInfo[BaseException], exchanges: list[str]) -> str:
    """A failure as the report shows it: the short traceback of the harness's frames,
    then the scenario's last HTTP exchanges, oldest first."""
    trace = str(excinfo.getrepr(style="short", chain=False, tbfilter=_ours)).strip()
    if not exchanges:
        return trace
    return trace + "\n\nThe last HTTP exchanges, oldest first:\n" + "\n\n".join(exchanges)


def _scenario(item: pytest.Item, root: Path) -> dict[str, Any]:
    """Feature, scenario name (outline placeholders filled in) and tags of a pytest-bdd item.

    pytest-bdd sets each scenario function's docstring to ``"<feature file>: <name>"``.
    """
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    feature, sep, name = doc.partition(": ")
    if not sep:
        feature, name = str(item.path), item.name
    callspec = getattr(item, "callspec", None)
    given = callspec.params.get(EXAMPLE_PARAM) if callspec is not None else None
    example = {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
    # The columns the outline's name does not show tell its rows apart in the report.
    hidden = [f"{k}={v}" for k, v in example.items() if f"<{k}>" not in name]
    for key, value in example.items():
        name = name.replace(f"<{key}>", value)
    with contextlib.suppress(ValueError):  # a feature outside the rootdir keeps its path
        feature = Path(feature).resolve().relative_to(root).as_posix()
    tags = sorted({m.name for m in item.iter_markers()} - NOT_TAGS)
    return {
        "id": item.name,
        "nodeid": item.nodeid,
        "feature": feature,
        "scenario": name,
        "example": example,
        "label": f"{name} [{', '.join(hidden)}]" if hidden else name,
        "line": None,
        "tags": tags,
        "selected": True,
        "outcome": "not run",
        "phase": "",
        "message": "",
        "detail": "",
        "failed_step": "",
    }


def _short(report: pytest.TestReport) -> str:
    """The one line that says why: the exception of a failure, the reason of a skip."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    errorstring = getattr(longrepr, "errorstring", None)  # a fixture lookup error
    if errorstring:
        return str(errorstring).strip().splitlines()[0]
    crash = getattr(longrepr, "reprcrash", None)
    message = str(crash.message).strip() if crash is not None and crash.message else ""
    if message and not re.search(r"\.py:\d+$", message):
        return message.splitlines()[0]
    lines = report.longreprtext.strip().splitlines()
    marked = [line[1:].strip() for line in lines if line.startswith("E ")]
    return marked[0] if marked else (lines[-1] if lines else "")


def apply_report(entry: dict[str, Any], report: pytest.TestReport) -> None:
    """A scenario's outcome after one of its reports: a failure in any phase wins,
    then a skip, then the call's pass."""
    if report.failed and entry["outcome"] != "failed":
        entry.update(
            outcome="failed",
            phase=report.when,
            message=_short(report),
            detail=report.longreprtext[-MAX_DETAIL:],
        )
    elif report.skipped and entry["outcome"] == "not run":
        entry.update(outcome="skipped", phase=report.when, message=_short(report))
    elif report.when == "call" and report.passed and entry["outcome"] == "not run":
        entry.update(outcome="passed", phase="call")


def progress_line(done: int, total: int, entry: dict[str, Any]) -> str:
    """``[ 3/128] passed  flow.feature:12 <scenario>  (R-FLOW-1)``, with why when not passed."""
    width = len(str(total))
    where = Path(entry["feature"]).name + (f":{entry['line']}" if entry["line"] else "")
    reqs = " ".join(t for t in entry["tags"] if t.startswith("R-"))
    why = f" — {entry['message']}" if entry["outcome"] != "passed" and entry["message"] else ""
    return (
        f"[{done:>{width}}/{total}] {entry['outcome']:<7} {where} "
        f"{entry['label']}" + (f"  ({reqs})" if reqs else "") + why
    )


class Recorder:
    """Records each scenario's outcome; prints progress (unless ``quiet``: an xdist
    worker's output is not shown); writes the record at the end."""

    def __init__(self, path: Path, config: pytest.Config, *, quiet: bool = False) -> None:
        self.path = path
        self.config = config
        self.quiet = quiet
        self.root = Path(config.rootpath)
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.deselected: list[dict[str, Any]] = []
        self.total = 0
        self.done = 0
        self.exchanges = Exchanges()
        self.exchanges.install()

    def _say(self, text: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and not self.quiet:
            reporter.write_line(PREFIX + text)
            reporter.flush()

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            entry = _scenario(item, self.root)
            entry["selected"] = False
            self.deselected.append(entry)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            self.scenarios[item.nodeid] = _scenario(item, self.root)
        self.total = len(session.items)
        not_selected = f", {len(self.deselected)} not selected by --tags" if self.deselected else ""
        self._say(f"{self.total} scenarios to run{not_selected}")

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.exchanges.clear()

    def pytest_exception_interact(
        self, node: pytest.Item, call: pytest.CallInfo[Any], report: pytest.TestReport
    ) -> None:
        """A failure's detail, once pytest has reported it (logreport comes first)."""
        entry = self.scenarios.get(node.nodeid)
        if entry is None or call.excinfo is None or entry["phase"] != report.when:
            return
        entry["detail"] = failure_detail(call.excinfo, self.exchanges.shown())[-MAX_DETAIL:]

    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, scenario: Any) -> None:
        entry = self.scenarios.get(request.node.nodeid)
        if entry is not None:
            entry["scenario"] = scenario.name
            entry["line"] = scenario.line_number

    def pytest_bdd_step_error(self, request: pytest.FixtureRequest, step: Any) -> None:
        entry = self.scenarios.get(request.node.nodeid)
        if entry is not None and not entry["failed_step"]:
            entry["failed_step"] = f"{step.keyword} {step.name}".strip()
            entry["failed_step_line"] = step.line_number

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.scenarios.get(report.nodeid)
        if entry is not None:
            apply_report(entry, report)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        entry = self.scenarios.get(nodeid)
        if entry is None:
            return
        self.done += 1
        self._say(progress_line(self.done, self.total, entry))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.exchanges.uninstall()
        record = {
            "exitstatus": int(exitstatus),
            "scenarios": [*self.scenarios.values(), *self.deselected],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(record, ensure_ascii=False, indent=1), "utf-8")
