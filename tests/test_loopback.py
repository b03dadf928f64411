"""Helpers for running the bot as a process in tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.fakes.loopback import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]

# A parent that starts a long sleeper (with die_with_parent when given "on"), prints its pid
# and exits at once.
_PARENT = """
import subprocess, sys
from bot.fakes.loopback import die_with_parent
PREEXEC = die_with_parent if sys.argv[1:] == ["on"] else None
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"],
    stdout=subprocess.DEVNULL,  # not this process's pipe: the sleeper must not hold it open
    stderr=subprocess.DEVNULL,
    preexec_fn=PREEXEC,
)
print(child.pid, flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_started_with_die_with_parent_ends_with_its_parent() -> None:
    with_it, without = _orphan("on"), _orphan("off")
    try:
        deadline = time.monotonic() + 10
        while _alive(with_it) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(with_it), "the child outlived its parent"
        assert _alive(without), "without die_with_parent the child lives on: the check can tell"
    finally:
        for pid in (with_it, without):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _orphan(mode: str) -> int:
    """The pid of a sleeper whose parent has already exited."""
    parent = subprocess.run(
        [sys.executable, "-c", _PARENT, mode], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return int(parent.stdout)


async def test_wait_healthy_gives_up_at_once_when_the_server_exits() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(RuntimeError, match="exited with code 3"):
            await wait_healthy(session, free_port(), timeout=20, process=process)
    assert time.monotonic() - started < 10  # not the whole timeout
