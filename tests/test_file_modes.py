"""The data directory is its owner's alone: ``renkei serve`` makes it 0700 and every
file in it 0600 — the SQLite database and its ``-wal`` and ``-shm``, the PIN and
session keys, the admin token — under the usual umask of 022; a database file
others may read is made 0600 when it is opened, with a warning line."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from test_server_processes import free_port, stop, wait_until_up

from simulator.store.database import open_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_serve_makes_its_data_directory_and_files_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "renkei", "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        umask=0o022,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process)
        # The server's pooled connections keep the WAL open: its -wal and -shm are there.
        assert requests.get(url + "/sandbox/clock", timeout=10).status_code == 401
        files = {p.name: mode(p) for p in data.iterdir()}
        expected = {"renkei.db", "renkei.db-wal", "renkei.db-shm", "pin.key", "secret.key"}
        assert expected | {"admin-token"} <= set(files)
        assert files == dict.fromkeys(files, 0o600)
        assert mode(data) == 0o700
    finally:
        stop(process)


def test_an_open_database_file_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database another renkei (or a copy) left 0644, with a -wal and -shm as loose,
    is 0600 once opened; each file tightened is one warning line."""
    db = tmp_path / "renkei.db"
    open_database(f"sqlite:///{db}").dispose()
    leftovers = [tmp_path / "renkei.db-wal", tmp_path / "renkei.db-shm"]
    for path in (db, *leftovers):
        path.touch()
        os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="renkei"):
        engine = open_database(f"sqlite:///{db}")
    try:
        assert [mode(p) for p in (db, *leftovers)] == [0o600] * 3
        warned = [r.getMessage() for r in caplog.records]
        assert len(warned) == 3
        assert all("was mode 644, open to others; now 600" in line for line in warned)
    finally:
        engine.dispose()
    caplog.clear()
    open_database(f"sqlite:///{db}").dispose()  # already private: nothing to say
    assert caplog.records == []
