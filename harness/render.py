"""The conformance report as a terminal table, Markdown and HTML (issue 5, deliverable 4).

Every requirement of REQUIREMENTS.md has a row, with the scenarios that show it
and their results; one that no scenario covers says so. The HTML shows the
browser run's screenshots beside the requirement of their screen.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Final

from tabulate import tabulate

from harness.report import Report, RequirementRow, ScenarioResult

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


# -- HTML -----------------------------------------------------------------------------------

CSS: Final = """
body { font-family: system-ui, "Hiragino Sans", "IPAGothic", sans-serif; margin: 1.5rem;
       color: #1d2330; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #d5d9e0; padding: .35rem .5rem; vertical-align: top; text-align: left; }
th { background: #f1f3f6; }
td.n { text-align: right; }
.verdict { font-weight: 600; white-space: nowrap; }
td.verdict span { padding: .1rem .45rem; border-radius: 4px; background: #eef0f3; }
tr.r-passed td.verdict span { background: #e6f4ea; }
tr.r-failed td.verdict span { background: #f9d6d2; }
tr.r-deviation td.verdict span { background: #fde9b8; }
.v-passed { color: #17683a; } .v-failed { color: #b3261e; } .v-deviation { color: #8a5a00; }
.v-not-run, .v-not-covered { color: #5f6673; }
tr.r-failed { background: #fdecea; } tr.r-deviation { background: #fff6e0; }
tr.r-not-covered { background: #f6f6f6; }
.banner { padding: .6rem .9rem; border-radius: 6px; font-weight: 600; }
.banner.ok { background: #e6f4ea; } .banner.bad { background: #fdecea; }
ul.sc { margin: 0; padding-left: 1.1rem; } .where { color: #5f6673; font-size: .85em; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: .5rem; max-height: 24rem;
      overflow: auto; font-size: .8em; }
.shots { display: flex; flex-wrap: wrap; gap: .4rem; }
.shots figure { margin: 0; }
.shots img { width: 150px; height: 240px; object-fit: cover; object-position: top;
             border: 1px solid #d5d9e0; }
.shots figcaption { font-size: .75em; color: #5f6673; }
.text { font-size: .9em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cls(verdict: str) -> str:
    return verdict.replace(" ", "-")


def _scenario_html(s: ScenarioResult) -> str:
    head = (
        f'<span class="verdict v-{_cls(s.verdict)}">{_e(s.verdict)}</span> {_e(s.label)} '
        f'<span class="where">{_e(s.where)}</span>'
    )
    if s.verdict not in ("failed", "deviation"):
        return f"<li>{head}</li>"
    parts = [head]
    if s.deviation is not None:
        parts.append(f"<div>expected: {_e(s.deviation.comment)}</div>")
    if s.failed_step:
        parts.append(f"<div>failed at: {_e(s.failed_step)}</div>")
    steps = "".join(
        f"<li class='v-{_cls(st.status)}'>{_e(st.status)}: {_e(st.keyword)} {_e(st.name)}</li>"
        for st in s.steps
    )
    body = f"<ol>{steps}</ol>" if steps else ""
    parts.append(
        f"<details><summary>{_e(s.message or 'details')}</summary>{body}"
        f"<pre>{_e((s.detail or s.message).strip()[-6000:])}</pre></details>"
    )
    return f"<li>{''.join(parts)}</li>"


def _shots_html(paths: Sequence[str]) -> str:
    if not paths:
        return ""
    figures = "".join(
        f'<figure><a href="{_e(p)}"><img src="{_e(p)}" alt="{_e(p)}" loading="lazy"></a>'
        f"<figcaption>{_e(p.rsplit('/', 1)[-1])}</figcaption></figure>"
        for p in paths
    )
    return f'<div class="shots">{figures}</div>'


#: Past this many scenarios, a requirement's passed and not-run ones fold away.
FOLD: Final = 6


def _scenarios_html(row: RequirementRow) -> str:
    if not row.scenarios:
        return "no scenario is tagged with this requirement"
    if len(row.scenarios) <= FOLD:
        return f'<ul class="sc">{"".join(_scenario_html(s) for s in row.scenarios)}</ul>'
    loud = [s for s in row.scenarios if s.verdict in ("failed", "deviation")]
    quiet = [s for s in row.scenarios if s.verdict not in ("failed", "deviation")]
    counts = ", ".join(
        f"{sum(1 for s in quiet if s.verdict == v)} {v}"
        for v in ("passed", "not run")
        if any(s.verdict == v for s in quiet)
    )
    folded = (
        f'<details><summary>{_e(counts)}</summary><ul class="sc">'
        f"{''.join(_scenario_html(s) for s in quiet)}</ul></details>"
    )
    return f'<ul class="sc">{"".join(_scenario_html(s) for s in loud)}</ul>{folded}'


def _row_html(row: RequirementRow) -> str:
    return (
        f'<tr class="r-{_cls(row.verdict)}" id="{_e(row.id)}"><th>{_e(row.id)}</th>'
        f'<td class="text">{_e(row.text)}</td>'
        f'<td class="verdict v-{_cls(row.verdict)}"><span>{_e(LABEL[row.verdict])}</span></td>'
        f"<td>{_scenarios_html(row)}</td><td>{_shots_html(row.screenshots)}</td></tr>"
    )


def html_report(report: Report, strict: bool = False) -> str:
    """``conformance.html``: one self-contained page (screenshots linked from ``screenshots/``)."""
    verdict = report.verdict_line(strict)
    ok = report.exit_status(strict) == 0
    titles = dict(report.requirements.areas)
    totals = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"n" if h != "area" else ""}">{_e(line[h])}'
            + (f' <span class="where">{_e(titles.get(line[h], ""))}</span>' if h == "area" else "")
            + "</td>"
            for h in SUMMARY_HEADERS
        )
        + "</tr>"
        for line in report.area_summary()
    )
    run = "".join(
        f"<li>{_e(line.removeprefix('- ').replace('`', ''))}</li>" for line in _run_lines(report)
    )
    sections = [
        f"<h1>renkei conformance report</h1><ul>{run}</ul>",
        f'<p class="banner {"ok" if ok else "bad"}">{_e(verdict)}</p>',
        "<h2>Totals</h2><table><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in SUMMARY_HEADERS)
        + f"</tr>{totals}</table>",
        "<h2>Requirements</h2><table><tr><th>requirement</th><th>what</th><th>verdict</th>"
        "<th>scenarios</th><th>screenshots</th></tr>"
        + "".join(_row_html(r) for r in report.rows)
        + "</table>",
    ]
    if report.deviations:
        rows = "".join(
            f"<tr><td>{_e(u.deviation.scenario)}</td><td>{_e(u.deviation.requirement or '—')}"
            f"</td><td>{_e(u.state)}</td><td>{_e(u.deviation.comment)}</td></tr>"
            for u in report.deviations
        )
        sections.append(
            "<h2>Expected deviations</h2><table><tr><th>scenario</th><th>requirement</th>"
            f"<th>state</th><th>comment</th></tr>{rows}</table>"
        )
    if report.unknown_tags:
        items = "".join(
            f"<li><code>@{_e(t)}</code>: {_e('; '.join(w))}</li>"
            for t, w in sorted(report.unknown_tags.items())
        )
        sections.append(f"<h2>Tags that name no requirement</h2><ul>{items}</ul>")
    if report.other_screenshots:
        sections.append(f"<h2>Other screenshots</h2>{_shots_html(report.other_screenshots)}")
    return (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>renkei conformance — {_e(verdict)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )
