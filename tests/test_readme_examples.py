"""Every Python example of the README runs as written, from the checkout's root."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def examples() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text("utf-8"))


def test_the_readme_has_python_examples() -> None:
    assert examples(), "no ```python block in README.md"


@pytest.mark.parametrize("code", examples(), ids=lambda c: c.strip().splitlines()[-1][:40])
def test_a_readme_example_runs(code: str, tmp_path: Path) -> None:
    """In a fresh interpreter (so nothing of the test run helps it), from an empty
    directory: an example may only rely on what the package ships."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
