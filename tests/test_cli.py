"""The ``renkei`` command (INTERFACE.md §7): --help, --version, ``scenario check``, the
shipped defaults from any directory, and usage errors, a port in use or a bad
database URL as one line with exit 2; the telephony gateway's secret ``renkei
serve`` makes, keeps and prints."""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from harness.embedded import free_port, wait_until_answers
from renkei import __version__
from renkei.cli import build_parser, main
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
from simulator import serve
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenarios" / "default.yaml"


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


# -- the shipped defaults, from any directory (INTERFACE.md §7) ----------------------------


def test_scenario_check_without_a_file_checks_the_shipped_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scenario", "check", "--today", "2026-11-24"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scenarios/default.yaml: 中ノ郷信用組合")
    assert "Personas (16)" in out
    assert main(["scenario", "check", "load", "--today", "2026-11-24"]) == 0
    assert capsys.readouterr().out.startswith("scenarios/load.yaml: 中ノ郷信用組合")
    assert not list(tmp_path.iterdir())


def test_a_name_that_is_neither_a_file_nor_shipped_lists_the_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scenario", "check", "nosuch"]) == 2
    assert capsys.readouterr().err == (
        "renkei: nosuch: no such file, nor a shipped scenario (one of: default, load, platform)\n"
    )
    assert main(["simulate", "nosuchprofile"]) == 2
    assert capsys.readouterr().err == (
        "renkei: nosuchprofile: no such file, nor a shipped traffic profile "
        "(one of: after-maintenance, payday, platform-day, weekday)\n"
    )


def test_a_local_file_wins_over_a_shipped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``default`` names the shipped scenario unless a file of that name is here."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_text("personas: [\n", "utf-8")
    assert main(["scenario", "check", "default"]) == 2
    assert capsys.readouterr().err.startswith("renkei: default: line ")


def test_simulate_writes_under_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --out, ``./reports/twin/<profile>`` of wherever it runs, never the checkout's."""
    monkeypatch.chdir(tmp_path)
    scenario = ROOT / "tests" / "data" / "twin.yaml"
    argv = ["simulate", "weekday", "--customers", "40", "--scenario", str(scenario)]
    assert main([*argv, "--no-plots", "--quiet"]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*"))
    assert written == [
        "reports/twin/weekday/codes.csv",
        "reports/twin/weekday/hourly.csv",
        "reports/twin/weekday/summary.txt",
    ]


# -- usage errors are one line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["serve", "--port", "99999"],
            "argument --port: must be a port from 1 to 65535 (got 99999)",
        ),
        (["serve", "--port", "0"], "argument --port: must be a port from 1 to 65535 (got 0)"),
        (["serve", "--port", "http"], "argument --port: not a whole number: 'http'"),
        (["serve", "--workers", "0"], "argument --workers: must be 1 or more (got 0)"),
        (["simulate"], "the following arguments are required: PROFILE"),
    ],
)
def test_a_usage_error_is_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    command = " ".join(a for a in argv[:1])
    assert capsys.readouterr().err == (
        f"renkei {command}: error: {message} (see renkei {command} --help)\n"
    )


def test_a_bad_database_url_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert main(["serve", "--data-dir", data, "--database-url", "not a url"]) == 2
    assert capsys.readouterr().err == "renkei: --database-url is not a database URL: 'not a url'\n"

    real = importlib.util.find_spec

    def without_psycopg(name: str, *more: object) -> object:
        return None if name == "psycopg" else real(name, *more)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_psycopg)
    assert main(["serve", "--data-dir", data, "--database-url", "postgresql://u@db/renkei"]) == 2
    assert capsys.readouterr().err == (
        "renkei: --database-url postgresql needs the postgres extra: "
        "pip install 'renkei[postgres]'\n"
    )


def test_postgresql_urls_mean_psycopg_3() -> None:
    """SQLAlchemy's default driver for ``postgresql://`` is psycopg2, which renkei does
    not install; the postgres extra installs psycopg 3."""
    assert serve.database_url("postgresql://u:p@db:5432/renkei") == (
        "postgresql+psycopg://u:p@db:5432/renkei"
    )
    assert serve.database_url("postgres://u@db/renkei") == "postgresql+psycopg://u@db/renkei"
    assert serve.database_url("sqlite:///x.db") == "sqlite:///x.db"


def _serve(port: int, data: Path, *more: str) -> subprocess.CompletedProcess[str]:
    """``renkei serve`` in a child process: it sets signal handlers of its own."""
    argv = ["serve", "--port", str(port), "--data-dir", str(data), *more]
    return subprocess.run(
        [sys.executable, "-m", "renkei", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("more", [(), ("--workers", "2")], ids=["one process", "workers"])
def test_a_port_in_use_is_one_line(tmp_path: Path, more: tuple[str, ...]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(port, tmp_path / "data", *more)
    assert done.returncode == 2
    assert done.stderr == (
        f"renkei: cannot listen on 127.0.0.1:{port}: the port is in use "
        "(another renkei serve?); try --port\n"
    )


def test_a_reader_that_goes_away_is_no_traceback() -> None:
    """``renkei scenario check | head -1``: the pipe closes early; renkei stops
    quietly instead of printing BrokenPipeError's traceback. The reading end is
    closed before the child writes anything, so its first write finds no reader."""
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-m", "renkei", "scenario", "check"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    err = child.stderr.read().decode()
    child.wait(timeout=60)
    assert "Traceback" not in err, err


# -- the telephony gateway's secret (INTERFACE.md §4, §7) -----------------------------------


def serve_args(data: Path, *more: str) -> argparse.Namespace:
    """``renkei serve``'s options as the command reads them (the environment read now)."""
    return build_parser(["serve"]).parse_args(["serve", "--data-dir", str(data), *more])


def test_the_telephony_secret_is_made_at_first_start_kept_and_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """None configured: a random one in the data directory's ``telephony-secret``,
    readable by its owner alone (0600) like ``admin-token``, the same at the next
    start, and in the banner beside the admin token."""
    monkeypatch.delenv("RENKEI_TELEPHONY_SECRET", raising=False)
    monkeypatch.delenv("RENKEI_ADMIN_TOKEN", raising=False)
    data = tmp_path / "data"
    config = serve.config_from(serve_args(data))
    kept = data / "telephony-secret"
    assert config.telephony_secret and kept.read_text() == config.telephony_secret
    for name in ("telephony-secret", "admin-token"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    again = serve.config_from(serve_args(data))
    assert again.telephony_secret == config.telephony_secret
    assert (data / "admin-token").read_text() == again.admin_token != again.telephony_secret
    shown = serve.banner("http://127.0.0.1:8000", again, load_scenario(DEFAULT))
    assert f"  admin token {again.admin_token}\n" in shown
    assert f"  telephony secret {again.telephony_secret} ({SECRET_HEADER}" in shown


def test_the_option_and_the_environment_give_the_telephony_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--telephony-secret`` wins over ``RENKEI_TELEPHONY_SECRET``, which wins over
    the kept file; a given secret makes no file."""
    monkeypatch.setenv("RENKEI_TELEPHONY_SECRET", "from-the-environment")
    data = tmp_path / "data"
    assert serve.config_from(serve_args(data)).telephony_secret == "from-the-environment"
    given = serve_args(data, "--telephony-secret", "from-the-option")
    assert serve.config_from(given).telephony_secret == "from-the-option"
    assert not (data / "telephony-secret").exists()
    monkeypatch.delenv("RENKEI_TELEPHONY_SECRET")
    made = serve.config_from(serve_args(data)).telephony_secret
    assert made not in ("from-the-environment", "from-the-option")


def test_every_worker_takes_the_secret_the_banner_prints(tmp_path: Path) -> None:
    """``renkei serve --workers 2`` with no secret configured: the banner's secret is
    the kept file's, and calls over new connections (spread over both processes)
    are taken with it and refused without it."""
    data, log = tmp_path / "data", tmp_path / "serve.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "RENKEI_TELEPHONY_SECRET"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "renkei", "serve", "--port", str(port), "--data-dir",
             str(data), "--admin-token", "operator", "--workers", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until_answers(url, 60, lambda: None if process.poll() is None else "exited")
        kept = (data / "telephony-secret").read_text()
        deadline = time.monotonic() + 60  # the banner is printed after the fork
        while "  telephony secret " not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert f"  telephony secret {kept} " in log.read_text()
        body = {"from": "09012343333", "to": "0120111111", "caller_id": "shown"}
        for headers, status in [({SECRET_HEADER: kept}, 200), ({}, 401)] * 6:
            with requests.Session() as fresh:
                answer = fresh.post(url + CALLS_PATH, json=body, headers=headers, timeout=10)
            assert answer.status_code == status, answer.text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
