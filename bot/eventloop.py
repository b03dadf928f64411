"""The event loop every command runs on: uvloop's where it is installed, else asyncio's own.

uvloop does the same work for about a tenth less CPU, answering a burst of commands or following
a thousand trainings, for about 3 MB more memory (docs/benchmarks.md has the runs side by side).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "run"]

_T = TypeVar("_T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's `new_event_loop`, or None (asyncio's loop) where uvloop is not installed: it
    has no Windows build."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run(main)`, on the loop `loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
