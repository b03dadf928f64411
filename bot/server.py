"""Serving: HTTP on $PORT (Slack's request URL and /healthz), or Socket Mode plus /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import Bot, create_bot
from bot.settings import Settings

__all__ = ["YOUNG_COLLECTION", "serve", "settle_collector", "start_http"]

log = logging.getLogger(__name__)

# New container objects between two collections of the collector's youngest generation (Python's
# default is 700). In a burst of commands that default collects a few times every few requests,
# and each collection holds up every answer in flight. What the bot allocates while serving
# dies by reference counting or lives as long as a job, so collecting less often frees the same
# memory at a fraction of the cost (docs/benchmarks.md: the ack, eighth session).
YOUNG_COLLECTION = 20_000


async def start_http(bot: Bot, *, host: str, port: int) -> web.AppRunner:
    """Serve the bot's web app; returns the runner to clean up."""
    # Keep shutdown short: Heroku gives 30 s between SIGTERM and SIGKILL.
    runner = web.AppRunner(bot.web_app(), shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def settle_collector() -> None:
    """Once started: what exists now lives as long as the process, so it is moved out of the
    collector's sight (a full collection no longer walks it, which cut the slowest acks), and
    the youngest generation is collected every `YOUNG_COLLECTION` new objects."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION, middle, old)


async def serve(settings: Settings, *, host: str = "0.0.0.0") -> None:  # noqa: S104 - Heroku routes to 0.0.0.0:$PORT
    """Run until SIGTERM or SIGINT; unfinished jobs stay in the store for the next start."""
    bot = create_bot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await bot.start()
    except BaseException:
        await bot.session.close()  # start-up stopped (say, a database newer than the code)
        raise
    settle_collector()
    runner = await start_http(bot, host=host, port=settings.port)
    socket_handler: AsyncSocketModeHandler | None = None
    if settings.slack_app_token is not None:
        socket_handler = AsyncSocketModeHandler(
            bot.bolt, app_token=settings.slack_app_token.get_secret_value().strip()
        )
        await socket_handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode; health on port %d", settings.port)
    else:
        log.info("serving Slack requests on http://%s:%d/slack/events", host, settings.port)
    try:
        await stop.wait()
    finally:
        log.info("shutting down; unfinished jobs resume on the next start")
        if socket_handler is not None:
            with contextlib.suppress(Exception):
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()
        await bot.stop()
