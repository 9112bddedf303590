"""The conformance report as a terminal table, Markdown and HTML, and the one way
the tester draws HTML: Jinja templates.

Every requirement of REQUIREMENTS.md has a row, with the scenarios that show it
and their results; one that no scenario covers says so. The HTML shows the
browser run's screenshots beside the requirement of their screen.

Every page of the tester is a template of ``harness/templates/`` rendered by
:func:`page`: ``report.html`` (``conformance.html``, :func:`html_report`),
``certificate.html`` (:func:`harness.certify.certificate.html`) and
``proxy.html`` (the certifying proxy's ``GET /_certify/``,
:func:`harness.certify.proxy.status_page`). All extend ``layout.html``, which
carries renkei's one stylesheet (:func:`renkei.resources.stylesheet`, the bank's
screens' too) inline, so that a page written to disk stands alone. Autoescaping
is on: what the pages show comes from the app, the bank and the features, and
may hold markup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

import jinja2
from markupsafe import Markup
from tabulate import tabulate

from harness.report import Report, ScenarioResult
from renkei.resources import stylesheet

SUMMARY_HEADERS: Final = (
    "area",
    "requirements",
    "covered",
    "passed",
    "deviation",
    "failed",
    "not run",
    "not covered",
)
MARK: Final = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "deviation": "⚠️ deviation (expected)",
    "not run": "⏭️ not run",
    "not covered": "⬜ not covered",
}
#: The same without the emoji, for HTML (a browser may lack an emoji font).
LABEL: Final = {v: m.split(" ", 1)[1] for v, m in MARK.items()}


def summary_table(report: Report, fmt: str = "simple") -> str:
    """Per area: requirements, covered, and how many passed, deviated, failed, were
    not run and are not covered; then the total."""
    rows = [[line[h] for h in SUMMARY_HEADERS] for line in report.area_summary()]
    return tabulate(rows, headers=SUMMARY_HEADERS, tablefmt=fmt, numalign="right")


def summary(report: Report, strict: bool = False) -> str:
    """What ``renkei conform`` prints at the end: the table, the failures, the verdict."""
    lines = [summary_table(report), ""]
    for s in report.scenarios:
        if s.verdict == "failed":
            ids = " ".join(s.requirement_ids(report.requirements.ids()))
            lines.append(f"  failed: {s.where} {s.label} ({ids})")
            lines.append(f"          {_short(s.message or 'failed', 160)}")
    for use in report.deviations:
        if use.state == "stale":
            lines.append(f"  stale deviation: {use.deviation.describe()} passed")
        elif use.state == "unknown":
            lines.append(f"  deviation entry names no scenario: {use.deviation.describe()}")
    for tag, where in sorted(report.unknown_tags.items()):
        lines.append(f"  @{tag} is not a requirement of REQUIREMENTS.md ({len(where)} scenarios)")
    if lines[-1]:
        lines.append("")
    lines.append(report.verdict_line(strict))
    return "\n".join(lines)


# -- Markdown -------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _scenario_md(s: ScenarioResult) -> str:
    text = f"{MARK[s.verdict].split()[0]} {s.label} (`{s.where}`)"
    if s.verdict in ("failed", "deviation") and s.message:
        text += f": {_short(s.message, 120)}"
    return text


def _run_lines(report: Report) -> list[str]:
    run = report.run
    lines = [f"- target: {run.target}"]
    if run.tags:
        lines.append(f"- tags: `{run.tags}`")
    if run.deviations:
        lines.append(f"- expected deviations: `{run.deviations}`")
    if run.started:
        lines.append(f"- started: {run.started}")
    if run.seconds is not None:
        lines.append(f"- pytest ran {run.tests} scenarios in {run.seconds:.1f} s")
    if run.browser:
        lines.append(f"- browser run: {run.browser}")
    lines.append(f"- requirements: {len(report.rows)} from {report.requirements.source}")
    return lines


def markdown(report: Report, strict: bool = False) -> str:
    """``conformance.md``: the run, the totals, the matrix, failures and deviations."""
    out = [
        "# renkei conformance report",
        "",
        *_run_lines(report),
        "",
        f"**{report.verdict_line(strict)}**",
        "",
        "## Totals",
        "",
        summary_table(report, "github"),
        "",
        "## Requirements",
        "",
        "| requirement | what | verdict | scenarios | screenshots |",
        "|---|---|---|---|---|",
    ]
    for row in report.rows:
        scenarios = "<br>".join(_md(_scenario_md(s)) for s in row.scenarios) or "—"
        shots = " ".join(f"[{p.rsplit('/', 1)[-1]}]({p})" for p in row.screenshots)
        out.append(
            f"| {row.id} | {_md(_short(row.text))} | {MARK[row.verdict]} | {scenarios} | {shots} |"
        )
    failures = [s for s in report.scenarios if s.verdict == "failed"]
    if failures:
        out += ["", "## Failures", ""]
        for s in failures:
            out += [f"### {s.label}", "", f"`{s.where}` — {', '.join(s.tags)}", ""]
            if s.failed_step:
                out += [f"failed at: {s.failed_step}", ""]
            if s.message:
                out += [f"why: {s.message}", ""]
            out += ["```", (s.detail or s.message).strip()[-3000:], "```", ""]
    if report.deviations:
        out += ["", "## Expected deviations", ""]
        out += ["| scenario | requirement | state | comment |", "|---|---|---|---|"]
        for use in report.deviations:
            d = use.deviation
            out.append(
                f"| {_md(d.scenario)} | {d.requirement or '—'} | {use.state} | {_md(d.comment)} |"
            )
    if report.unknown_tags:
        out += ["", "## Tags that name no requirement", ""]
        for tag, where in sorted(report.unknown_tags.items()):
            out.append(f"- `@{tag}`: {'; '.join(_md(w) for w in where)}")
    if report.other_screenshots:
        out += ["", "## Other screenshots", ""]
        out += [f"- [{p.rsplit('/', 1)[-1]}]({p})" for p in report.other_screenshots]
    return "\n".join(out).rstrip() + "\n"


# -- HTML: the tester's templates -----------------------------------------------------------


def css_class(value: object) -> str:
    """A verdict or result as a class name of the stylesheet: ``not run`` -> ``not-run``."""
    return str(value).replace(" ", "-")


def basename(path: str) -> str:
    """The last part of a ``/``-separated path: a screenshot's file name."""
    return path.rsplit("/", 1)[-1]


@cache
def environment() -> jinja2.Environment:
    """The one environment of the tester's templates (built once: it caches them)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The certificate shows JSON as it is stored: Japanese as written, keys in order.
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    env.filters["css_class"] = css_class
    env.filters["basename"] = basename
    return env


def page(template: str, **context: Any) -> str:
    """The page of ``harness/templates/<template>`` with ``context``, the stylesheet inline."""
    # Markup: the stylesheet is renkei's own file, and CSS inside <style> is not escaped.
    return environment().get_template(template).render(stylesheet=Markup(stylesheet()), **context)


# -- the conformance report in HTML -------------------------------------------------------------

#: The verdicts a scenario is shown in full for; the others are one line each.
LOUD: Final = ("failed", "deviation")
#: Past this many scenarios, a requirement's passed and not-run ones fold away.
FOLD: Final = 6


def _tally(quiet: Sequence[ScenarioResult]) -> str:
    """What a folded list holds: ``12 passed, 3 not run``."""
    counts = Counter(s.verdict for s in quiet)
    return ", ".join(f"{counts[v]} {v}" for v in ("passed", "not run") if counts[v])


def html_report(report: Report, strict: bool = False) -> str:
    """``conformance.html``: one self-contained page (``harness/templates/report.html``;
    the stylesheet inline, screenshots linked from ``screenshots/``)."""
    return page(
        "report.html",
        verdict=report.verdict_line(strict),
        ok=report.exit_status(strict) == 0,
        run=[line.removeprefix("- ").replace("`", "") for line in _run_lines(report)],
        headers=SUMMARY_HEADERS,
        totals=report.area_summary(),
        areas=dict(report.requirements.areas),
        rows=report.rows,
        labels=LABEL,
        loud=LOUD,
        fold=FOLD,
        tally=_tally,
        deviations=report.deviations,
        unknown_tags=sorted(report.unknown_tags.items()),
        other_screenshots=report.other_screenshots,
    )
