"""The certificate: every situation and check with its result, severity,
requirement and evidence, and one verdict (issue 8, deliverable 3).

``certificate.json`` is for programs (a vendor's CI), ``certificate.html`` for
people; both hold the same content. Evidence is the recorded requests with
every secret masked (:func:`harness.certify.record.masked`).

The verdict:

* ``failed`` — a failure-severity check failed;
* ``incomplete`` — none failed, but a failure-severity check could not be judged
  (the app never got as far: e.g. it never linked);
* ``passed with warnings`` — every failure-severity check passed, a warning or
  review check did not;
* ``passed``.

Exit status 0 only for ``passed`` and ``passed with warnings``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2

from harness.certify.judge import Result
from harness.certify.plan import Severity
from harness.certify.record import Exchange, masked
from harness.certify.runner import Judged

PASSED: Final = "passed"
WARNINGS: Final = "passed with warnings"
INCOMPLETE: Final = "incomplete"
FAILED: Final = "failed"
JSON_NAME: Final = "certificate.json"
HTML_NAME: Final = "certificate.html"


@dataclass(frozen=True)
class RunInfo:
    client_id: str
    client_name: str
    target: str
    proxy: str
    started_at: str
    seconds: float
    played_by: str | None = None


def verdict(judged: list[Judged]) -> str:
    failures = unjudged = lesser = 0
    for one in judged:
        for check in one.run.situation.checks:
            outcome = one.outcomes.get(check.id)
            if outcome is None:
                continue
            if check.severity is Severity.FAILURE:
                failures += outcome.result is Result.FAILED
                unjudged += outcome.result is Result.NOT_JUDGED
            elif outcome.result is Result.FAILED:
                lesser += 1
    if failures:
        return FAILED
    if unjudged:
        return INCOMPLETE
    return WARNINGS if lesser else PASSED


def exit_status(verdict_text: str) -> int:
    return 0 if verdict_text in (PASSED, WARNINGS) else 1


def document(info: RunInfo, judged: list[Judged], exchanges: list[Exchange]) -> dict[str, Any]:
    """The certificate as JSON-ready data."""
    totals: Counter[str] = Counter()
    situations = []
    for one in judged:
        run, s = one.run, one.run.situation
        checks = []
        for check in s.checks:
            outcome = one.outcomes[check.id]
            totals[outcome.result.value] += 1
            checks.append(
                {
                    "id": check.id,
                    "title": check.title,
                    "severity": check.severity.value,
                    "requirements": list(check.requirements),
                    "rule": check.rule,
                    "scope": check.scope,
                    "result": outcome.result.value,
                    "detail": outcome.detail,
                    "evidence": list(outcome.evidence),
                }
            )
        situations.append(
            {
                "id": s.id,
                "index": run.index,
                "title": s.title,
                "persona": s.persona,
                "instructions": s.instructions,
                "setup": s.setup.value,
                "timed_out": run.timed_out,
                # seconds since the run began, as the requests' "sent" and "answered"
                "timeline": {
                    "began": round(run.began, 3),
                    "acted": None if run.act_began is None else round(run.act_began, 3),
                    "fault_lifted": None if run.cleared is None else round(run.cleared, 3),
                    "ended": round(run.ended, 3),
                },
                "facts": run.facts,
                "problems": run.problems,
                "checks": checks,
                "requests": [masked(e) for e in exchanges if e.situation == s.id],
            }
        )
    decided = verdict(judged)
    return {
        "certificate": "renkei certify",
        "client_id": info.client_id,
        "client_name": info.client_name,
        "target": info.target,
        "proxy": info.proxy,
        "started_at": info.started_at,
        "seconds": round(info.seconds, 1),
        "played_by": info.played_by,
        "verdict": decided,
        "exit_status": exit_status(decided),
        "totals": dict(totals),
        "situations": situations,
    }


TEMPLATE: Final = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>renkei certify: {{ d.client_id }} — {{ d.verdict }}</title>
<style>
body { font-family: system-ui, "Hiragino Sans", "IPAGothic", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.passed { color: #176117; } .failed { color: #b00020; font-weight: bold; }
.not-judged { color: #8a5a00; } .not-applicable { color: #666; }
.verdict { font-size: 1.4em; padding: 0.4em 0.8em; display: inline-block; border-radius: 4px; }
.v-passed { background: #e3f4e3; } .v-passed-with-warnings { background: #fff4d6; }
.v-incomplete { background: #fff0d0; } .v-failed { background: #fde3e6; }
pre { background: #f8f8f8; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
small { color: #666; }
</style></head><body>
<h1>Certificate for {{ d.client_name }} (<code>{{ d.client_id }}</code>)</h1>
<p class="verdict v-{{ d.verdict | replace(' ', '-') }}">{{ d.verdict }}</p>
<p>Against {{ d.target }} through the certifying proxy {{ d.proxy }};
the bank's clock read {{ d.started_at }} at the start; {{ d.seconds }} s.
{% if d.played_by %}Played by renkei's {{ d.played_by }} app.{% endif %}</p>
<p>{% for name, n in d.totals.items() %}{{ n }} {{ name }}
{%- if not loop.last %}, {% endif %}{% endfor %}</p>
<h2>Checks</h2>
<table><tr><th>situation</th><th>check</th><th>severity</th><th>requirements</th><th>result</th></tr>
{% for s in d.situations %}{% for c in s.checks %}
<tr><td><a href="#{{ s.id }}">{{ s.index }}. {{ s.id }}</a></td>
<td><code>{{ c.id }}</code> {{ c.title }}</td><td>{{ c.severity }}</td>
<td>{{ c.requirements | join(", ") }}</td>
<td class="{{ c.result | replace(' ', '-') }}">{{ c.result }}</td></tr>
{% endfor %}{% endfor %}</table>
{% for s in d.situations %}
<h2 id="{{ s.id }}">{{ s.index }}. {{ s.id }} — {{ s.title }}</h2>
<p>{{ s.instructions }} <small>(persona {{ s.persona }}; setup {{ s.setup }})</small></p>
{% if s.facts %}<p>What certify did: <code>{{ s.facts | tojson }}</code></p>{% endif %}
<p><small>Timeline (s): began {{ s.timeline.began }}{% if s.timeline.acted is not none %},
set up {{ s.timeline.acted }}{% endif %}{% if s.timeline.fault_lifted is not none %},
fault lifted {{ s.timeline.fault_lifted }}{% endif %}, ended {{ s.timeline.ended }}</small></p>
{% for p in s.problems %}<p class="not-judged">{{ p }}</p>{% endfor %}
{% if s.timed_out %}
<p class="not-judged">certify stopped waiting for the app (timeout).</p>{% endif %}
<table><tr><th>check</th><th>rule</th><th>result</th><th>evidence</th></tr>
{% for c in s.checks %}
<tr><td><code>{{ c.id }}</code><br>{{ c.severity }}<br>
<small>{{ c.requirements | join(", ") }}</small></td>
<td>{{ c.rule }}</td>
<td class="{{ c.result | replace(' ', '-') }}">{{ c.result }}<br><small>{{ c.detail }}</small></td>
<td>{% for n in c.evidence %}<a href="#r{{ n }}">#{{ n }}</a> {% endfor %}</td></tr>
{% endfor %}</table>
<details><summary>{{ s.requests | length }} requests recorded</summary>
<table><tr><th>#</th><th>phase</th><th>at (s)</th><th>request</th><th>answer</th></tr>
{% for r in s.requests %}
<tr id="r{{ r.seq }}"><td>{{ r.seq }}</td><td>{{ r.phase }}</td><td>{{ r.sent }}</td>
<td><code>{{ r.method }} {{ r.path }}</code>
<pre>{{ r | tojson(indent=1) }}</pre></td>
<td>{{ r.status }}{% if r.get("screen") %} {{ r.screen.screen_id or "" }}
{{ r.screen.errors | join(" ") }}{% endif %}</td></tr>
{% endfor %}</table></details>
{% endfor %}
</body></html>
"""


def html(data: dict[str, Any]) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env.from_string(TEMPLATE).render(d=data)


def write(folder: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / JSON_NAME
    as_html = folder / HTML_NAME
    as_json.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")
    as_html.write_text(html(data), "utf-8")
    return as_json, as_html
