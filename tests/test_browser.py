"""The browser run against the embedded sandbox, alone
and as ``renkei conform --browser`` (docs/conformance.md, "The browser run").

Chromium must be installed (``scripts/test`` installs Debian's ``chromium`` and
``fonts-ipafont-gothic`` when run as root, as CI does). Outside CI a machine
without it skips these tests and says why; in CI its absence is a failure.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from harness.embedded import Target, embedded_sandbox
from harness.personas import load_personas
from renkei.cli import main

CHROMIUM = Path("/usr/bin/chromium")
#: What the six journeys photograph (harness/browser.py).
SHOTS = {
    "SOA201",
    "SOA202",
    "SOA208",
    "SOA209",
    "SOA211",
    "SOA206",
    "SOA201-required",
    "SOA202-identity_mismatch",
    "locked_now",
    "B84",
    "cancelled",
    "SOA211-identity_mismatch",
}


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium (scripts/test installs it as root)")
        pytest.skip("Debian's chromium is not installed: apt-get install chromium")
    return CHROMIUM


@pytest.fixture(scope="module")
def target(chromium: Path) -> Iterator[Target]:
    with embedded_sandbox() as running:
        yield running


def test_browser_run_through_every_screen(target: Target, tmp_path: Path) -> None:
    from harness.browser import browser_run

    journeys = browser_run(target, tmp_path, load_personas())
    assert [j.name for j in journeys] == [
        "happy path",
        "empty-field dialog",
        "identity error",
        "B84",
        "cancel",
        "wrong PIN dialog",
    ]
    assert [j.error for j in journeys if j.error] == []
    shots = {name for j in journeys for name in j.shots}
    assert shots >= SHOTS
    for j in journeys:
        for path in j.shots.values():
            assert path.stat().st_size > 5_000, path  # a rendered page, not an empty image
    assert sum(len(j.checks) for j in journeys) >= 30
    checks = {j.name: j.checks for j in journeys}
    for name in ("empty-field dialog", "wrong PIN dialog"):
        # the エラー dialog as the manual's figures show it: modal, the form out of
        # reach, closed by OK
        assert "the エラー dialog is modal (dialog:modal)" in checks[name]
        assert '[data-action="next"] behind the dialog cannot be tapped' in checks[name]
        assert "OK closes the dialog" in checks[name]
    assert "the focus on #branch_no after OK" in checks["empty-field dialog"]
    assert "without script the dialog stands open in the page" in checks["empty-field dialog"]
    assert "the identity message on the screen" in checks["wrong PIN dialog"]
    assert "the focus on #pin after OK" in checks["wrong PIN dialog"]


def test_conform_browser_puts_the_screenshots_in_the_report(chromium: Path, tmp_path: Path) -> None:
    """``renkei conform --browser --tags …``: the tagged features, then the six
    journeys against the same embedded sandbox; their screenshots in
    ``<out>/screenshots/`` (an older run's removed), shown by both reports beside
    their requirements, and each journey a passed scenario of those requirements."""
    out = tmp_path / "out"
    (out / "screenshots").mkdir(parents=True)
    (out / "screenshots" / "SOA999-old.png").write_bytes(b"an older run")
    with redirect_stdout(io.StringIO()) as printed:
        status = main(["conform", "--browser", "--tags", "@R-FLOW-7", "--out", str(out)])
    assert status == 0, printed.getvalue()
    names = {p.stem for p in (out / "screenshots").glob("*.png")}
    assert names >= SHOTS and "SOA999-old" not in names
    assert "passed  browser: happy path" in printed.getvalue()
    md = (out / "conformance.md").read_text("utf-8")
    html = (out / "conformance.html").read_text("utf-8")
    assert "browser run: 6 journeys in Chromium, 6 passed" in md
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if "| R-" in line}
    assert "[SOA209.png](screenshots/SOA209.png)" in rows["R-FLOW-4"]
    assert "✅ browser: happy path" in rows["R-FLOW-4"]
    assert "[B84.png](screenshots/B84.png)" in rows["R-ERR-HOST-4"]
    assert "✅ browser: B84" in rows["R-ERR-HOST-4"]
    assert "[SOA201-required.png](screenshots/SOA201-required.png)" in rows["R-ERR-INPUT-1"]
    assert "[SOA211-identity_mismatch.png]" in rows["R-ERR-HOST-2"]
    assert "✅ browser: wrong PIN dialog" in rows["R-ERR-HOST-2"]
    html_rows = {m[1]: m[0] for m in re.finditer(r'<tr [^>]*id="([^"]+)">.*?</tr>', html)}
    assert '<img src="screenshots/cancelled.png"' in html_rows["R-FLOW-7"]
    assert 'class="r-passed"' in html_rows["R-FLOW-7"]
