"""Measuring the bots from outside, through /proc: CPU time and memory of every bot process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from followbench.scenario import _CLOCK_TICKS


@dataclass(frozen=True, slots=True)
class Sample:
    """The bots' CPU time and memory, and this process's CPU time, at one moment.

    `tree_*` cover every bot process and every process below it (the pictures worker, the
    multiprocessing resource tracker); `main_*` the bot processes alone; `instance_*` each bot's
    tree, in the order the bots were started. With one bot the totals are that bot's.
    """

    at: float
    tree_cpu: float
    main_cpu: float
    tree_pss_kib: int
    processes: int
    own_cpu: float
    instance_cpu: tuple[float, ...]
    instance_pss_kib: tuple[int, ...]


# --- /proc measurements ----------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds) of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        # The command name may contain spaces and parentheses; the fields after the last ")"
        # start at field 3 (state): ppid (field 4) is at 1, utime and stime (14, 15) at 11, 12.
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far, in seconds (1/100 s steps)."""
    return _stat(pid)[1]


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} missing from /proc/{pid}/status")


def _pss_kib(pid: int) -> int:
    """Proportional set size: pages shared between processes are split among them, so the sum
    over the tree counts each page once (a sum of RSS would count shared libraries twice)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return _status_kib(pid, "VmRSS")


@dataclass(slots=True)
class Meter:
    """Samples the bots' process trees: /proc has no children list here, so parents are read."""

    roots: tuple[int, ...]
    # CPU seconds last seen per process, one map per bot; a process that has ended keeps its
    # last value.
    cpu: tuple[dict[int, float], ...] = ()

    def __post_init__(self) -> None:
        self.cpu = tuple({} for _ in self.roots)

    def trees(self) -> list[dict[int, float]]:
        """CPU seconds of each root and its live descendants, by pid."""
        parents: dict[int, tuple[int, float]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    parents[int(name)] = _stat(int(name))
        trees = []
        for root in self.roots:
            members = {root}
            grew = True
            while grew:
                found = {pid for pid, (ppid, _) in parents.items() if ppid in members}
                grew = not found <= members
                members |= found
            trees.append({pid: parents[pid][1] for pid in members if pid in parents})
        return trees

    def sample(self) -> Sample:
        pss: list[int] = []
        processes = 0
        for live, seen in zip(self.trees(), self.cpu, strict=True):
            seen.update(live)
            processes += len(live)
            pss.append(0)
            for pid in live:
                with contextlib.suppress(OSError):
                    pss[-1] += _pss_kib(pid)
        instance_cpu = tuple(sum(seen.values()) for seen in self.cpu)
        return Sample(
            at=time.time(),
            tree_cpu=sum(instance_cpu),
            main_cpu=sum(
                seen.get(root, 0.0) for root, seen in zip(self.roots, self.cpu, strict=True)
            ),
            tree_pss_kib=sum(pss),
            processes=processes,
            own_cpu=time.process_time(),
            instance_cpu=instance_cpu,
            instance_pss_kib=tuple(pss),
        )

    async def run(self, samples: list[Sample], interval: float) -> None:
        while True:
            samples.append(self.sample())
            await asyncio.sleep(interval)


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU use over a window, in % of one core: all bots, the bot processes alone, this
    process, and each bot's tree."""

    tree: float
    main: float
    own: float
    seconds: float
    instances: tuple[float, ...] = ()


def _usage(samples: Sequence[Sample], start: float, end: float) -> Usage:
    """CPU use over the samples inside [start, end]."""
    inside = [s for s in samples if start <= s.at <= end]
    if len(inside) < 2:
        return Usage(float("nan"), float("nan"), float("nan"), 0.0)
    first, last = inside[0], inside[-1]
    wall = last.at - first.at
    return Usage(
        tree=100 * (last.tree_cpu - first.tree_cpu) / wall,
        main=100 * (last.main_cpu - first.main_cpu) / wall,
        own=100 * (last.own_cpu - first.own_cpu) / wall,
        seconds=wall,
        instances=tuple(
            100 * (b - a) / wall for a, b in zip(first.instance_cpu, last.instance_cpu, strict=True)
        ),
    )
