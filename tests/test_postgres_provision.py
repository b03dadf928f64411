"""`make test` on a machine without PostgreSQL: a throwaway server, or one line saying how.

The machine's own server is never touched: TEST_POSTGRES_URL points at a closed port instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.fakes.loopback import free_port
from tests.pgcluster import pg_bin_dir
from tests.postgres import how_to_provide, reachable

ROOT = Path(__file__).resolve().parents[1]
ONE_PG_TEST = "tests/test_store.py::test_save_updates_in_place[postgresql]"


def _pytest(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        check=False,
    )


def _has_server_binaries() -> bool:
    try:
        return (pg_bin_dir() / "pg_ctl").exists()
    except RuntimeError:
        return False


def test_closed_port_is_unreachable() -> None:
    """A port nothing listens on is detected as no server."""
    assert not reachable(f"postgresql://postgres@127.0.0.1:{free_port()}/test")


def test_how_to_provide_is_one_line() -> None:
    """The message names where it looked and the ways to provide a server, without a password."""
    text = how_to_provide("postgresql://bot:pw@127.0.0.1:6543/test")
    assert "\n" not in text
    assert "127.0.0.1:6543" in text
    assert "TEST_POSTGRES_URL" in text
    assert "pw@" not in text


def test_without_server_or_binaries_the_run_stops_with_one_line(tmp_path: Path) -> None:
    """No server and no binaries: the run stops before any test, with the how-to line."""
    port = free_port()
    result = _pytest(
        tmp_path,
        f"--basetemp={tmp_path / 'run'}",
        ONE_PG_TEST,
        TEST_POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{port}/test",
        PG_BIN=str(tmp_path),  # holds no initdb
    )
    assert result.returncode == 4, result.stdout[-2000:]
    lines = [line for line in result.stdout.splitlines() if "PostgreSQL tests:" in line]
    assert len(lines) == 1, result.stdout[-2000:]
    assert f"no PostgreSQL at 127.0.0.1:{port}" in lines[0]
    assert "passed" not in result.stdout
    assert "Error" not in result.stdout + result.stderr


def test_without_server_tests_without_postgres_still_run(tmp_path: Path) -> None:
    """A run holding no PostgreSQL test goes on without a server."""
    result = _pytest(
        tmp_path,
        f"--basetemp={tmp_path / 'run'}",
        "tests/test_mrkdwn.py",
        TEST_POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/test",
        PG_BIN=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.skipif(not _has_server_binaries(), reason="no PostgreSQL server binaries here")
def test_without_server_a_throwaway_one_serves_the_run(tmp_path: Path) -> None:
    """With the binaries, the run starts its own server, passes, and stops it at the end."""
    result = _pytest(
        tmp_path,
        f"--basetemp={tmp_path / 'run'}",
        ONE_PG_TEST,
        TEST_POSTGRES_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/test",
    )
    assert result.returncode == 0, result.stdout[-2000:]
    said = re.search(r"throwaway server on 127\.0\.0\.1:(\d+), removed at the end", result.stdout)
    assert said, result.stdout[-2000:]
    assert "1 passed" in result.stdout
    assert not reachable(f"postgresql://postgres@127.0.0.1:{said[1]}/postgres")
