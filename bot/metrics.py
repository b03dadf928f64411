"""The bot's Prometheus metrics: one registry per bot, served at `GET /metrics`.

Each bot builds its own `Metrics` (no global registry), so several bots in one process, as in
the tests, each export their own numbers. The parts that count get the object through the
wiring (`bot.app`):

    metric                                       counted in
    retrain_jobs_started_total                   Follower.store_new (a job stored, leased here)
    retrain_jobs_finished_total{outcome}         the follower, when a finished job is let go
    retrain_jobs_active                          the follower's held jobs, read at scrape time
    retrain_einstein_calls_total{call,outcome}   EinsteinClient and token minting, every attempt
    retrain_slack_calls_total{method,outcome}    the outbox, every Web API attempt
    retrain_ack_seconds                          the /retrain listener, until it answers
    retrain_poll_lag_seconds                     the observer, each turn against its due time
    retrain_outbox_queued_messages               the outbox's queued calls, read at scrape time

Outcomes are a short, fixed list: `ok` or an `EinsteinError.kind` for Einstein; `ok`,
`rate_limited` (HTTP 429), `transient` or `refused` for Slack; a job's final status in lower
case for finished jobs. No label ever carries a token, a URL or a person.

The follower's hot paths call these a thousand times a second: each labelled child is looked
up once and kept, so a count is a dictionary hit and an increment.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# An ack must leave within Slack's 3 s; the buckets resolve the range that matters.
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
# Polls run on half-second slots, every 30 s by default: lateness beyond that is trouble.
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """Counters, gauges and histograms of one bot, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._started = Counter(
            "retrain_jobs_started", "Retrains stored and followed by this instance", registry=r
        )
        self._finished = Counter(
            "retrain_jobs_finished",
            "Jobs this instance saw to their end, by final status",
            ["outcome"],
            registry=r,
        )
        self._active = Gauge("retrain_jobs_active", "Jobs this instance follows now", registry=r)
        self._einstein = Counter(
            "retrain_einstein_calls",
            "Einstein API requests, by call and outcome (ok or the error kind)",
            ["call", "outcome"],
            registry=r,
        )
        self._slack = Counter(
            "retrain_slack_calls",
            "Slack Web API requests, by method and outcome (ok, rate_limited, transient, refused)",
            ["method", "outcome"],
            registry=r,
        )
        self._ack = Histogram(
            "retrain_ack_seconds",
            "How long /retrain took to answer Slack",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self._lag = Histogram(
            "retrain_poll_lag_seconds",
            "How late the observer's turns ran against their schedule",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self._queued = Gauge(
            "retrain_outbox_queued_messages",
            "Slack calls waiting in the outbox (posts, edits, reads)",
            registry=r,
        )
        self._children: dict[tuple[object, ...], Counter] = {}
        self.started = self._started.inc
        self.ack = self._ack.observe
        self.poll_lag = self._lag.observe

    def finished(self, outcome: str) -> None:
        self._child(self._finished, outcome.lower()).inc()

    def einstein_call(self, call: str, outcome: str) -> None:
        self._child(self._einstein, call, outcome).inc()

    def slack_call(self, method: str, outcome: str) -> None:
        self._child(self._slack, method, outcome).inc()

    def _child(self, counter: Counter, *labels: str) -> Counter:
        key = (counter, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        return child

    def watch_active(self, read: Callable[[], float]) -> None:
        """Read the followed jobs at scrape time (the follower's count)."""
        self._active.set_function(read)

    def watch_queued(self, read: Callable[[], float]) -> None:
        """Read the outbox's queued calls at scrape time."""
        self._queued.set_function(read)

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
