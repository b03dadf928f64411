"""The servers `bench_ack.py` compares the bot with, each a script run in a process of its own."""

from __future__ import annotations

__all__ = ["APPS", "BOLT_ALONE_APP", "MINIMAL_APP", "ON_ASYNCIO", "STORE"]

MINIMAL_APP = """
import sys
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

app = AsyncApp(client=AsyncWebClient(token="xoxb-bench", base_url=sys.argv[3]),
               signing_secret=sys.argv[2])

@app.command("/retrain")
async def retrain(ack):
    await ack()

web_app = app.web_app(path="/slack/events")
web_app.router.add_get("/healthz", lambda request: web.Response(text="ok"))
# Given "uvloop" as a fourth argument, on uvloop's loop: what the loop alone does for Bolt.
loop = None
if sys.argv[4:] == ["uvloop"]:
    import uvloop
    loop = uvloop.new_event_loop()
web.run_app(web_app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None,
            loop=loop)
"""


# The bot's Bolt app and request reading, as `bot.app.Bot` serves them (its collector settings
# included), with nothing done before the ack but the ack: an answer as long as the bot's
# confirmation. Given a database URL as a fourth argument ("Bolt and store"), it first stores a
# new job through the bot's own store, as the bot does before its answer, and checks nothing.
BOLT_ALONE_APP = """
import secrets
import sys
import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from bot.core.jobs import Job, utcnow
from bot.core.options import RetrainOptions
from bot.eventloop import loop_factory
from bot.server import settle_collector
from bot.settings import Settings
from bot.slack.bolt import build_bolt
from bot.slack.inbound import to_bolt_request
from bot.store.jobs import SqlJobStore

async def app():
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret=sys.argv[2],
                        slack_api_url=sys.argv[3], _env_file=None)
    bolt = build_bolt(settings, aiohttp.ClientSession(), None)
    store = SqlJobStore(sys.argv[4]) if len(sys.argv) > 4 else None
    if store is not None:
        await store.open()

    @bolt.command("/retrain")
    async def retrain(ack, command):
        if store is not None:
            job = Job(id=secrets.token_hex(8), model_id=command["text"].split()[0],
                      options=RetrainOptions(train_split_ratio=0.7),
                      requester=command["user_id"], channel=command["channel_id"],
                      origin_channel=command["channel_id"], team_id=command["team_id"],
                      response_url=command["response_url"], created_at=utcnow())
            await store.add(job, lease_seconds=30)
        await ack(text=f":hourglass_flowing_sand: Submitting a retrain of `{command['text']}`.")

    async def events(request):
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", lambda request: web.Response(text="ok"))
    settle_collector()  # the collector as the bot's serving sets it
    return web_app

# On the loop the bot runs on (`bot.eventloop`).
factory = loop_factory()
web.run_app(app(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None,
            loop=factory() if factory else None)
"""


# `python -m bot` on asyncio's own event loop instead of uvloop's (`--bot-loop asyncio`).
ON_ASYNCIO = """
import sys
import bot.eventloop
bot.eventloop.loop_factory = lambda: None
from bot.__main__ import main
if __name__ == "__main__":  # not again in a spawned worker (the bot's picture workers)
    sys.exit(main([]))
"""


# The apps the bot is compared with: each a script given its port, the signing secret, the fake
# Slack's URL and its own arguments ("Bolt and store": the URL of a database of the run's).
STORE = "the run's database"
APPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("minimal Bolt", MINIMAL_APP, ()),
    ("minimal uvloop", MINIMAL_APP, ("uvloop",)),
    ("Bolt alone", BOLT_ALONE_APP, ()),
    ("Bolt and store", BOLT_ALONE_APP, (STORE,)),
)
