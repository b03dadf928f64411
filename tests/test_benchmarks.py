"""The benchmark scripts run end to end at small sizes, so their numbers stay rerunnable.

What they measure is read in their own runs (docs/benchmarks.md); here each one runs as a
reader would run it, and what it reports must be whole: every server and phase, every row.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_database

ROOT = Path(__file__).resolve().parents[1]


async def _script(name: str, *args: str) -> str:
    """Run `scripts/<name>` with `args` in a process of its own; its output, once it succeeded."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "scripts" / name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def _microseconds(output: str, label: str) -> list[float]:
    """The µs values `bench_insert.py` or `bench_dispatch.py` printed after `label`."""
    [line] = [line for line in output.splitlines() if line.strip().startswith(label)]
    runs = line.split(":", 1)[1].split("µs", 1)[0]
    values = [float(v) for v in re.findall(r"(\d+(?:\.\d+)?) ", runs + " ")]
    assert values, line
    return values


@pytest.mark.parametrize("bot_loop", ["uvloop", "asyncio"])
async def test_bench_ack_times_every_server_in_both_phases(tmp_path: Path, bot_loop: str) -> None:
    out = tmp_path / "ack.json"
    printed = await _script(
        "bench_ack.py",
        *("--requests", "20", "--concurrency", "5", "--bot-loop", bot_loop, "--json", str(out)),
    )
    summary = json.loads(out.read_text())
    assert summary["bot_loop"] == bot_loop
    assert summary["database"] == "sqlite"
    [run] = summary["runs"]
    for server in ("retrain_bot", "minimal_bolt", "minimal_uvloop", "bolt_alone", "bolt_and_store"):
        for phase in ("sequential", "5 at a time"):
            numbers = run[server][phase]
            assert 0 < numbers["p50_ms"] <= numbers["p99_ms"] <= numbers["max_ms"], server
            # Read in clock ticks (10 ms): twenty quick requests may take none.
            assert isinstance(numbers["cpu_ms_per_request"], float), server
    # The bot's jobs were real: Einstein's retrain was called for every command.
    assert run["retrain_bot"]["5 at a time"]["retrains_done_after_s"] >= 0
    for ratio in (
        "p50_ratio_sequential",
        "p99_ratio_concurrent",
        "p99_ratio_concurrent_minimal_uvloop",
        "p99_ratio_concurrent_bolt_alone",
        "p99_ratio_concurrent_bolt_and_store",
    ):
        assert run[ratio] > 0, ratio
    assert "retrain-bot p99 / minimal p99" in printed


async def test_bench_ack_stores_on_postgresql_when_given_a_server(tmp_path: Path) -> None:
    out = tmp_path / "ack.json"
    async with postgres_database() as url:
        await _script(
            "bench_ack.py",
            *("--requests", "10", "--concurrency", "5", "--database-url", url, "--json", str(out)),
        )
    summary = json.loads(out.read_text())
    assert summary["database"] == "postgresql"
    [run] = summary["runs"]
    # Every command was stored and its job begun: Einstein's retrain was called for each.
    assert run["retrain_bot"]["5 at a time"]["retrains_done_after_s"] >= 0
    assert run["bolt_and_store"]["5 at a time"]["p99_ms"] > 0


async def test_bench_follow_tells_every_state_once(tmp_path: Path) -> None:
    out = tmp_path / "follow.json"
    await _script(
        "bench_follow.py",
        *("--trainings", "6", "--per-channel", "1", "--poll-interval", "0.5"),
        *("--submit-seconds", "1", "--queue", "1", "2", "--run", "1", "3", "--json", str(out)),
    )
    [result] = json.loads(out.read_text())
    assert result["trainings"] == 6
    assert result["drained"]
    assert not result["timed_out"]
    assert result["commands_failed"] == 0
    assert (result["replies_missing"], result["replies_repeated"]) == (0, 0)
    assert result["main_peak_rss_mb"] > 0
    # Every state change was seen by a status call before its reply: the delay in two parts.
    assert result["delay_seen_s"]["count"] == result["delay_told_s"]["count"] == 12
    assert 0 <= result["delay_seen_s"]["max"] <= result["delay_all_s"]["max"]
    assert result["delay_told_s"]["max"] <= result["delay_all_s"]["max"]


async def test_bench_insert_on_sqlite_and_postgresql() -> None:
    sizes = ("--rows", "40", "--batch", "1", "9", "--rounds", "1")
    async with postgres_database() as url:
        for database in ([], ["--database-url", url]):
            printed = await _script("bench_insert.py", *sizes, *database)
            for batch in ("1 a transaction", "9 a transaction"):
                assert all(v > 0 for v in _microseconds(printed, batch)), printed
                [line] = [line for line in printed.splitlines() if batch in line]
                assert re.search(r"longest batch \d+\.\d ms$", line), line


async def test_bench_dispatch_times_the_three_apps() -> None:
    printed = await _script("bench_dispatch.py", "--rounds", "1", "--requests", "50")
    for app in ("retrain-bot", "Bolt alone", "minimal Bolt"):
        assert all(v > 0 for v in _microseconds(printed, app)), printed
