"""The README's screen map is the one generated from the declaration."""

from __future__ import annotations

from pathlib import Path

from simulator.core.screens import mermaid

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_screen_map_is_generated_from_screens_py() -> None:
    text = README.read_text("utf-8")
    block = text.split("<!-- screens:begin -->")[1].split("<!-- screens:end -->")[0]
    assert block.strip() == f"```mermaid\n{mermaid()}\n```"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text("utf-8").split("\n\n", 2)[1]
    assert "bash scripts/start" in head and "bash scripts/test" in head
