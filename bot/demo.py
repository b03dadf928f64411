"""`python -m bot demo`: the whole flow offline.

The embedded Einstein simulator (a fast clock) and a fake Slack run on loopback ports; the real
bot is served over HTTP and receives a signed `/retrain` command, exactly as from Slack. What
the bot posts is rendered in the terminal as it happens.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bot.app import Bot, create_bot
from bot.core.grammar import Retrain, parse_command
from bot.core.jobs import JobStatus
from bot.errors import UsageError
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.keys import generate_key_pair
from bot.fakes.slack import (
    Channel,
    FakeSlack,
    FileShared,
    SlackEvent,
    render_event,
    render_message,
    send_slash_command,
)
from bot.server import start_http
from bot.settings import Settings

__all__ = ["run_demo"]

DEMO_MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
DEMO_TEXT = f"{DEMO_MODEL} split=0.7 feedback=true"
DEMO_ACCOUNT = "demo@example.com"
DEMO_CHANNEL = "C0DEMO0001"
DEMO_USER = "U0DEMO0001"
# Simulated seconds per real second: a training of a few simulated minutes takes seconds.
TIME_SCALE = 40.0
TIMEOUT = 50.0
OUTPUT = Path("demo-output")


def _model_for(text: str) -> str | None:
    try:
        parsed = parse_command(text)
    except UsageError:
        return None
    return parsed.model_id if isinstance(parsed, Retrain) else None


def _say(line: str) -> None:
    print(line, flush=True)


def _show(event: SlackEvent) -> None:
    """Print what Slack would show; save uploaded pictures where the reader can open them."""
    _say(render_event(event))
    if isinstance(event, FileShared):
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / event.file.filename
        path.write_bytes(event.file.data)
        _say(f"    (picture saved to {path})")


async def run_demo(*, text: str | None = None, outcome: str = "SUCCEEDED") -> int:
    """Run one command through the real bot; 0 when the thread got its final reply."""
    text = DEMO_TEXT if text is None else text
    private_pem, public_pem = generate_key_pair()
    simulator = EinsteinSimulator(time_scale=TIME_SCALE)
    simulator.add_account(DEMO_ACCOUNT, public_pem)
    model_id = _model_for(text)
    if model_id is not None:
        simulator.add_model(model_id)
        simulator.script(model_id, outcome=outcome)
    slack = FakeSlack()
    slack.add_channel(Channel(id=DEMO_CHANNEL, name="ml-models"))
    slack.on_event = _show
    signing_secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="retrain-demo-") as workdir:
        einstein_url = await simulator.start()
        await slack.start()
        settings = Settings(
            slack_bot_token="xoxb-demo-token",  # noqa: S106 - the fake Slack's token
            slack_signing_secret=signing_secret,
            slack_api_url=slack.api_url,
            einstein_api_url=einstein_url,
            einstein_account_id=DEMO_ACCOUNT,
            einstein_private_key=private_pem,
            database_url=f"sqlite:///{Path(workdir) / 'demo.sqlite3'}",
            retrain_poll_interval=0.25,
            slack_post_interval=0.2,
        )
        bot = create_bot(settings, card_interval=1.0)
        await bot.start()
        runner = await start_http(bot, host="127.0.0.1", port=0)
        port = runner.addresses[0][1]
        try:
            return await _drive(
                bot_url=f"http://127.0.0.1:{port}/slack/events",
                text=text,
                signing_secret=signing_secret,
                slack=slack,
                bot=bot,
            )
        finally:
            await runner.cleanup()
            await bot.stop()
            await slack.stop()
            await simulator.stop()


async def _drive(
    *, bot_url: str, text: str, signing_secret: str, slack: FakeSlack, bot: Bot
) -> int:
    _say("Retrain Bot offline demo: Einstein simulator and a fake Slack on loopback ports.\n")
    _say(f"<@{DEMO_USER}> in #ml-models types:  /retrain {text}\n")
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        answer = await send_slash_command(
            session,
            bot_url,
            signing_secret=signing_secret,
            text=text,
            user_id=DEMO_USER,
            channel_id=DEMO_CHANNEL,
            response_url=slack.response_url(),
        )
        shown = render_message(text=answer.body.strip(), blocks=None) or "(empty)"
        shown = "\n".join("    " + line for line in shown.splitlines())
        _say(
            f"Slack got HTTP {answer.status} in {answer.elapsed * 1000:.1f} ms; "
            f"private answer to <@{DEMO_USER}>:\n{shown}\n"
        )
        if _model_for(text) is None:
            return 0
        deadline = started + TIMEOUT
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
            jobs = await bot.store.recent(limit=1)
            if jobs and jobs[0].is_final and not bot.follower.running:
                job = jobs[0]
                _say(
                    f"\nDone in {time.perf_counter() - started:.1f} s: the training "
                    f"{job.status.lower()}."
                )
                return 0 if job.status in {JobStatus.SUCCEEDED, JobStatus.FAILED} else 1
    _say("The demo did not finish in time.")
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(run_demo()))
