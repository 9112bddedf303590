"""``renkei conform`` on several pytest-xdist workers: the same record, Cucumber JSON
and JUnit XML as one sequential run.

Each worker runs some of the scenarios (in a sandbox of its own, harness.plugin)
and records them as :class:`harness.conform_plugin.Recorder` does in a
sequential run, into files of its own beside the record (``<record>.<worker>.json``
and ``<record>.<worker>.cucumber.json``): pytest-bdd writes no Cucumber JSON on a
worker, and the scenario it reports on does not travel to the controller with
the report. The controller prints the progress lines (each report carries its
scenario's place and name, :data:`SHOWN`), and when the session ends merges the
workers' files into the record and the Cucumber JSON, in the order of the
collection, which is the order a sequential run gives them; it also puts the
test cases of pytest's JUnit XML (written by the controller, in the order the
workers finished them) back in that order. So the report is the same whichever
way the features ran; only the times differ.

Imported only inside the pytest child (it imports pytest and pytest-bdd).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Generator
from pathlib import Path
from typing import Any, Final

import pytest
from _pytest.junitxml import mangle_test_address
from pytest_bdd.cucumber_json import LogBDDCucumberJSON

from harness.conform_plugin import PREFIX, Recorder, apply_report, progress_line

#: The attribute of a worker's report with what the controller's progress line shows.
SHOWN: Final = "renkei_scenario"
#: The members of a record's entry that a progress line shows.
SHOWN_KEYS: Final = ("feature", "line", "label", "tags")


def worker_file(record: Path, worker: str, kind: str = "") -> Path:
    """A worker's own file beside the record: ``record.json.gw0.json``, or with
    ``kind``, ``record.json.gw0.cucumber.json``."""
    middle = f".{kind}" if kind else ""
    return record.with_name(f"{record.name}.{worker}{middle}.json")


def distributed(config: pytest.Config) -> bool:
    """Whether this pytest is an xdist controller handing the scenarios to workers."""
    return bool(getattr(config.option, "numprocesses", None)) and (
        getattr(config.option, "dist", "no") != "no"
    )


class Worker:
    """On a worker: each report carries its scenario's place and name (:data:`SHOWN`)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[Any]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        entry = self.recorder.scenarios.get(item.nodeid)
        if entry is not None:
            setattr(report, SHOWN, {key: entry[key] for key in SHOWN_KEYS})
        return report


class WorkerCucumber(LogBDDCucumberJSON):
    """pytest-bdd's Cucumber JSON of one worker, each scenario with its node id, so
    that the controller can put them in the collection's order."""

    def __init__(self, logfile: str) -> None:
        super().__init__(logfile)
        self.added: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        sizes = {name: len(f["elements"]) for name, f in self.features.items()}
        super().pytest_runtest_logreport(report)
        for name, feature in self.features.items():
            if len(feature["elements"]) > sizes.get(name, 0):
                self.added.append((report.nodeid, name))

    def pytest_sessionfinish(self) -> None:
        count: dict[str, int] = {}
        entries = []
        for nodeid, name in self.added:
            feature: dict[str, Any] = dict(self.features[name])
            index = count.get(name, 0)
            count[name] = index + 1
            element = feature["elements"][index]
            feature["elements"] = []
            entries.append({"nodeid": nodeid, "key": name, "feature": feature, "element": element})
        Path(self.logfile).write_text(json.dumps(entries, ensure_ascii=False), "utf-8")


class Controller:
    """On the controller: the progress lines, then the workers' files merged."""

    def __init__(self, record: Path, config: pytest.Config) -> None:
        self.record = record
        self.config = config
        self.entries: dict[str, dict[str, Any]] = {}
        self.total = 0
        self.done = 0

    def _say(self, text: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(PREFIX + text)
            reporter.flush()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.total:
            self.total = len(ids)
            workers = self.config.option.numprocesses
            self._say(f"{self.total} scenarios to run on {workers} workers, a sandbox each")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.entries.setdefault(
            report.nodeid,
            {"feature": report.nodeid, "line": None, "label": report.nodeid, "tags": []},
        )
        entry.setdefault("outcome", "not run")
        entry.setdefault("message", "")
        entry.setdefault("phase", "")
        entry.update(getattr(report, SHOWN, None) or {})
        apply_report(entry, report)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        entry = self.entries.get(nodeid)
        if entry is not None:
            self.done += 1
            self._say(progress_line(self.done, max(self.total, self.done), entry))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """After pytest's JUnit XML and pytest-bdd's (empty) Cucumber JSON are written."""
        order = self._merge_records(int(exitstatus))
        cucumber = self.config.option.cucumber_json_path
        if cucumber:
            self._merge_cucumber(Path(cucumber), order)
        junit = getattr(self.config.option, "xmlpath", None)
        if junit and Path(junit).exists():
            sort_junit(Path(junit), order)

    def _worker_files(self, kind: str) -> list[Path]:
        pattern = worker_file(self.record, "gw*", kind).name
        return sorted(self.record.parent.glob(pattern))

    def _merge_records(self, exitstatus: int) -> list[str]:
        """The record of every scenario, each from the worker that ran it; the node
        ids in the collection's order."""
        files = [
            path for path in self._worker_files("") if not path.name.endswith(".cucumber.json")
        ]
        records = [json.loads(path.read_text("utf-8")) for path in files]
        merged: dict[str, dict[str, Any]] = {}
        for record in records:
            for entry in record.get("scenarios", []):
                key = entry["nodeid"]
                if key not in merged or merged[key]["outcome"] == "not run":
                    merged[key] = entry
        result = {"exitstatus": exitstatus, "scenarios": list(merged.values())}
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self.record.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
        return list(merged)

    def _merge_cucumber(self, path: Path, order: list[str]) -> None:
        found: dict[str, dict[str, Any]] = {}
        for part in self._worker_files("cucumber"):
            for entry in json.loads(part.read_text("utf-8")):
                found[entry["nodeid"]] = entry
        features: dict[str, dict[str, Any]] = {}
        for nodeid in order:
            entry = found.get(nodeid)
            if entry is None:
                continue
            feature = features.setdefault(entry["key"], entry["feature"])
            feature["elements"].append(entry["element"])
        path.write_text(json.dumps(list(features.values())), "utf-8")


def sort_junit(path: Path, order: list[str]) -> None:
    """The test cases of a JUnit XML file in the order of ``order`` (node ids), as
    pytest writes them in a sequential run; the rest of the file as it was."""
    place = {}
    for index, nodeid in enumerate(order):
        names = mangle_test_address(nodeid)
        place[(".".join(names[:-1]), names[-1])] = index
    tree = ET.parse(path)
    root = tree.getroot()
    for suite in root.iter("testsuite"):
        children = list(suite)
        slots = [i for i, child in enumerate(children) if child.tag == "testcase"]
        cases = sorted(
            (children[i] for i in slots),
            key=lambda c: place.get((c.get("classname", ""), c.get("name", "")), len(place)),
        )
        for slot, case in zip(slots, cases, strict=True):
            children[slot] = case
        suite[:] = children
    text = ET.tostring(root, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="utf-8"?>' + text, "utf-8")


def configure(config: pytest.Config, record: Path) -> Recorder | None:
    """The plugins of this process of a distributed run: a worker's recorder and its
    Cucumber JSON, or the controller's merge. None when the run is not distributed."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        worker = str(workerinput["workerid"])
        recorder = Recorder(worker_file(record, worker), config, quiet=True)
        config.pluginmanager.register(Worker(recorder), "renkei-conform-worker")
        if config.option.cucumber_json_path:
            logfile = str(worker_file(record, worker, "cucumber"))
            config.pluginmanager.register(WorkerCucumber(logfile), "renkei-conform-cucumber")
        return recorder
    if distributed(config):
        config.pluginmanager.register(Controller(record, config), "renkei-conform-controller")
    return None
