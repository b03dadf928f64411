"""The follow benchmark's scenario: its knobs, the trainings the simulator plays, the channels."""

from __future__ import annotations

import os
import random
import secrets
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.fakes.einstein.simulator import EinsteinSimulator

SECRET = secrets.token_hex(16)
STATUS_CALL = "getTrainStatusAndProgress"
POSTGRESQL = ("postgres", "postgresql", "postgresql+asyncpg")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Config:
    """One benchmark run's knobs; durations are simulated seconds."""

    trainings: int
    poll_interval: float
    time_scale: float
    queue: tuple[float, float]
    run: tuple[float, float]
    failed_share: float
    per_channel: int
    submit_seconds: float
    concurrency: int
    instances: int
    sample_interval: float
    drain_timeout: float
    seed: int


@dataclass(frozen=True, slots=True)
class Course:
    """One training as the simulator planned it, converted to wall-clock time."""

    model_id: str
    outcome: str
    created: float
    started: float
    ended: float


# --- setting up ------------------------------------------------------------------------------


def _model_id(n: int) -> str:
    """26 characters of Einstein's A-Z2-7 alphabet, distinct for each n."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    digits = ""
    while True:
        n, rest = divmod(n, 32)
        digits = alphabet[rest] + digits
        if n == 0:
            break
    return "FOLLOW" + digits.rjust(20, "A")


def _channel_count(config: Config) -> int:
    return -(-config.trainings // config.per_channel)


def _channel_id(n: int, *, channels: int) -> str:
    # Round robin, so each channel's commands are spread over the whole submission window.
    return f"C{n % channels:08d}"


def _simulator(config: Config) -> tuple[EinsteinSimulator, list[str]]:
    """A simulator with N trained models, each with its next training scripted."""
    rng = random.Random(config.seed)
    simulator = EinsteinSimulator(time_scale=config.time_scale, seed=config.seed)
    model_ids = [_model_id(n) for n in range(config.trainings)]
    for model_id in model_ids:
        # Each model gets its own dataset, so the one-training-per-dataset rule never refuses.
        simulator.add_model(model_id)
        simulator.script(
            model_id,
            outcome="FAILED" if rng.random() < config.failed_share else "SUCCEEDED",
            # Random lengths spread the state changes out instead of firing them in one burst.
            queue_seconds=rng.uniform(*config.queue),
            run_seconds=rng.uniform(*config.run),
        )
    return simulator, model_ids


def _courses(
    simulator: EinsteinSimulator, model_ids: Sequence[str], *, time_scale: float
) -> dict[str, Course]:
    """Each training's transition times as the simulator fixed them when it accepted it."""
    # Simulated time runs `time_scale` times as fast as the wall clock from a common origin;
    # one reading of both clocks anchors the conversion.
    wall_anchor, sim_anchor = time.time(), simulator.now()

    def wall(simulated: float) -> float:
        return wall_anchor + (simulated - sim_anchor) / time_scale

    courses: dict[str, Course] = {}
    for model_id in model_ids:
        # The plan is not part of the HTTP API; it is the ground truth the bot cannot see.
        plans = simulator._models[model_id].plans
        if len(plans) < 2:  # the retrain never reached the simulator
            continue
        plan = plans[-1]
        courses[model_id] = Course(
            model_id=model_id,
            outcome=plan.outcome,
            created=wall(plan.created_at),
            started=wall(plan.started_at),
            ended=wall(plan.ended_at),
        )
    return courses


# --- one run ---------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(values) if values else float("nan"),
        "p95": _percentile(values, 0.95),
        "max": max(values, default=float("nan")),
        "count": len(values),
    }


def _deadline(config: Config) -> float:
    """Seconds after the last command by which every training must have been reported."""
    longest = (config.queue[1] + config.run[1]) / config.time_scale
    # A queued training is polled at most every 3.6 intervals (3x with +20 % jitter); the
    # rest is room for a slow machine, not an expected delay.
    return longest + 4 * config.poll_interval + 120
