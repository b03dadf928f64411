"""`GET /metrics` of a served bot: what moves after a retrain, 429s, and one registry per bot."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_bot
from bot.server import start_http
from tests.conftest import Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(session: aiohttp.ClientSession, events_url: str) -> Samples:
    """Every sample of the bot's /metrics, by name and labels."""
    url = events_url.replace("/slack/events", "/metrics")
    async with session.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def settled(stack: Stack) -> None:
    """Every job ended and let go: its thread told in full."""
    await stack.wait_final()
    await stack.slack.wait_for(
        lambda: stack.bot.follower.running == 0, timeout=10, what="every job let go"
    )


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_retrain_moves_the_counters_and_histograms(stack: Stack) -> None:
    """After one retrain: one started, one succeeded, its calls counted, one ack, polls timed."""
    stack.simulator.add_model(MODEL)
    before = await scrape(stack.session, stack.url)
    assert value(before, "retrain_jobs_started_total") == 0
    await stack.command(MODEL)
    await settled(stack)
    after = await scrape(stack.session, stack.url)
    assert value(after, "retrain_jobs_started_total") == 1
    assert value(after, "retrain_jobs_finished_total", outcome="succeeded") == 1
    assert value(after, "retrain_jobs_active") == 0
    assert value(after, "retrain_einstein_calls_total", call="token", outcome="ok") == 1
    assert value(after, "retrain_einstein_calls_total", call="retrain", outcome="ok") == 1
    assert value(after, "retrain_einstein_calls_total", call="status", outcome="ok") >= 2
    posts = value(after, "retrain_slack_calls_total", method="chat.postMessage", outcome="ok")
    assert posts == len(stack.slack.calls_to("chat.postMessage"))
    assert value(after, "retrain_ack_seconds_count") == 1
    assert 0 < value(after, "retrain_ack_seconds_sum") < 3
    assert value(after, "retrain_poll_lag_seconds_count") >= 2
    assert value(after, "retrain_outbox_queued_messages") == 0


async def test_a_slack_429_is_counted_as_rate_limited(stack: Stack) -> None:
    """A 429 from Slack shows as its own outcome, beside the retry that went through."""
    stack.simulator.add_model(MODEL)
    stack.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    await stack.command(MODEL)
    await settled(stack)
    samples = await scrape(stack.session, stack.url)
    limited = value(
        samples, "retrain_slack_calls_total", method="chat.postMessage", outcome="rate_limited"
    )
    assert limited == 1
    assert value(samples, "retrain_slack_calls_total", method="chat.postMessage", outcome="ok")


async def test_an_einstein_failure_is_counted_by_its_kind(stack: Stack) -> None:
    """A 503 from Einstein's status call is counted as `unavailable`, the retry as `ok`."""
    stack.simulator.add_model(MODEL)
    stack.simulator.fail_next("getTrainStatusAndProgress", status=503, times=1)
    await stack.command(MODEL)
    await settled(stack)
    samples = await scrape(stack.session, stack.url)
    assert value(samples, "retrain_einstein_calls_total", call="status", outcome="unavailable") == 1


async def test_two_bots_in_one_process_export_their_own(stack: Stack, tmp_path: Path) -> None:
    """A second bot in the same process starts at zero while the first counts its retrain."""
    stack.simulator.add_model(MODEL)
    other_settings = stack.bot.settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'other.sqlite3'}"}
    )
    other = create_bot(other_settings, claim_interval=0.05)
    await other.start()
    runner = await start_http(other, host="127.0.0.1", port=0)
    try:
        other_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        await stack.command(MODEL)
        await settled(stack)
        mine = await scrape(stack.session, stack.url)
        theirs = await scrape(stack.session, other_url)
    finally:
        await runner.cleanup()
        await other.stop()
    assert value(mine, "retrain_jobs_started_total") == 1
    assert value(mine, "retrain_ack_seconds_count") == 1
    assert value(theirs, "retrain_jobs_started_total") == 0
    assert value(theirs, "retrain_ack_seconds_count") == 0
    assert not any(name == "retrain_slack_calls_total" for name, _ in theirs)
