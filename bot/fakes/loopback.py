"""Helpers for running the bot and its stand-ins on loopback ports (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import ctypes
import signal
import socket
import subprocess
import sys

import aiohttp

__all__ = ["die_with_parent", "free_port", "model_ids", "wait_healthy"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # Einstein's model IDs look like base32
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For `subprocess.Popen(preexec_fn=...)`: the child gets SIGTERM when its parent dies, so
    a benchmark killed outright leaves no bot polling on its own. Only a prctl call, safe
    between fork and exec; elsewhere than Linux it does nothing."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_ids(count: int, *, prefix: str = "MODEL") -> list[str]:
    """`count` distinct 26-character model IDs in Einstein's A-Z2-7 alphabet."""
    ids = []
    for n in range(count):
        digits = ""
        while True:
            n, rest = divmod(n, 32)
            digits = _ALPHABET[rest] + digits
            if n == 0:
                break
        ids.append(prefix + digits.rjust(26 - len(prefix), "A"))
    return ids


async def wait_healthy(
    session: aiohttp.ClientSession,
    port: int,
    *,
    timeout: float = 20.0,  # noqa: ASYNC109
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait until `GET /healthz` on `port` answers 200; RuntimeError at once if `process`
    (the server being waited for) exits first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with code {process.returncode} at start-up")
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError(f"nothing healthy on port {port} after {timeout} s")
