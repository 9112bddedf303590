"""The ``renkei`` command: --help, --version and ``scenario check`` (INTERFACE.md §7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from renkei import __version__
from renkei.cli import main
from simulator import serve

DEFAULT = Path(__file__).resolve().parents[1] / "scenarios" / "default.yaml"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"renkei {__version__}\n"
    assert __version__ == "0.1.0"


def test_help_lists_the_scenario_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: renkei")
    assert "scenario" in out and "--version" in out


def test_scenario_check_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", "--help"]) == 0
    assert "FILE" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: renkei" in capsys.readouterr().err


def test_scenario_check_prints_bank_and_personas(capsys: pytest.CaptureFixture[str]) -> None:
    """R-FLOW-4 pool, R-ERR-HOST-3 threshold, R-AUTHZ-1 days, and every persona with its account."""
    assert main(["scenario", "check", str(DEFAULT), "--today", "2026-11-24"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert captured.err == ""
    assert "中ノ郷信用組合" in out
    assert "0120111111, 0120222222, 0120333333" in out
    assert "5 identity failures a day" in out and "30 days" in out
    assert "creco" in out and "しんくみアプリwithCRECO" in out
    assert "115-1-1100026 open, card 2008-04-15" in out
    assert "09012343333" in out
    assert "011-1-1111111 moved to 022-1-2222222" in out
    assert "115-1-2000001 open, no card" in out
    assert "115-1-2000002 open, card today+7d" in out
    assert "0356251234" in out  # a phone keeps its leading zero in the table
    assert "001-1-0000123" in out
    assert "Personas (16)" in out
    assert "Built for 2026-11-24: 116 customers" in out
    for persona in ("manual", "no-card", "moved", "closed", "lockout", "two-accounts"):
        assert f"\n{persona} " in out


def test_scenario_check_of_a_bad_file_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEFAULT.read_text("utf-8").replace('account_no: "1100026"', 'account_no: "110002"')
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, "utf-8")
    assert main(["scenario", "check", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"renkei: {bad}: personas[0].accounts[0].account_no: "
        "must be 7 half-width digits (got '110002')\n"
    )
    assert "Traceback" not in captured.err


def test_scenario_check_of_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.yaml"
    assert main(["scenario", "check", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"renkei: {missing}: no such file\n"
    assert "Traceback" not in captured.err


def test_scenario_check_of_broken_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("personas: [\n  {id: x\n", "utf-8")
    assert main(["scenario", "check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"renkei: {broken}: line ")
    assert "Traceback" not in err


def test_scenario_check_of_a_file_wrong_on_the_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Building is part of the check: a card issued before its account opened is refused."""
    text = DEFAULT.read_text("utf-8").replace("issued_on: 2008-04-15", "issued_on: 2008-03-15")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, "utf-8")
    assert main(["scenario", "check", str(bad), "--today", "2026-11-24"]) == 2
    assert "personas[0].accounts[0].card.issued_on: 2008-03-15 is before" in capsys.readouterr().err


def test_a_bad_today_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", str(DEFAULT), "--today", "24/11/2026"]) == 2
    assert "not a date" in capsys.readouterr().err


def test_python_m_simulator_serve_is_renkei_serve(capsys: pytest.CaptureFixture[str]) -> None:
    """The harness starts its embedded target with ``python -m simulator.serve``: the
    same command, options and usage errors as ``renkei serve``."""
    assert serve.main(["--help"]) == 0
    alone = capsys.readouterr().out
    assert main(["serve", "--help"]) == 0
    assert capsys.readouterr().out == alone
    assert "--admin-token" in alone and "--data-dir" in alone
    assert serve.main(["--port", "not-a-port"]) == main(["serve", "--port", "not-a-port"]) == 2
