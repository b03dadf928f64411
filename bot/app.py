"""Wiring: build every part from settings. No globals; tests build as many bots as they like."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.aiohttp import to_bolt_request as bolt_request_of
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.gatekeeper import Gatekeeper
from bot.access.visibility import Visibility
from bot.autoruns import AutoRuns, FeedbackCount
from bot.choices import Choices
from bot.credentials import installed_tokens, secret, token_source
from bot.einstein.client import EinsteinClient
from bot.errors import StoreError
from bot.feedback.form import FeedbackForms
from bot.feedback.submission import FeedbackSubmissions
from bot.follow.follower import Follower
from bot.foreground import Foreground
from bot.listeners.actions import Interactions, register_interactions
from bot.listeners.commands import Handlers, register_handlers
from bot.listeners.feedback import FeedbackListeners, register_feedback
from bot.listeners.forms import Forms, register_forms
from bot.listeners.installs import register_uninstalls
from bot.logs import request_context
from bot.metrics import CONTENT_TYPE, Metrics
from bot.reads import Reads
from bot.retrains import Retrains
from bot.settings import Settings, timing_from
from bot.slack.bolt import build_bolt
from bot.slack.channels import SlackChannels
from bot.slack.groups import UserGroups
from bot.slack.inbound import to_bolt_request
from bot.slack.installs import INSTALL_PATH, REDIRECT_PATH
from bot.slack.notify import Notifier
from bot.slack.outbox import Outbox
from bot.stops import Stops
from bot.store.audit import AuditLog
from bot.store.autoretrains import AutoRetrainStore
from bot.store.jobs import JobStore, SqlJobStore
from bot.store.prefs import NotifyMode, Preferences
from bot.trail import Trail
from bot.uninstalls import Uninstalls

__all__ = ["Bot", "create_bot"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# /healthz waits this long for the database: a load balancer's check must not hang on it.
HEALTH_DB_TIMEOUT = 2.0


@dataclass
class Bot:
    """Everything one bot process runs, with its start and stop."""

    settings: Settings
    bolt: AsyncApp
    store: JobStore
    follower: Follower
    notifier: Notifier
    outbox: Outbox
    einstein: EinsteinClient
    session: aiohttp.ClientSession
    autoruns: AutoRuns
    feedback: FeedbackSubmissions
    metrics: Metrics = field(default_factory=Metrics)
    foreground: Foreground = field(default_factory=Foreground)
    ready: bool = field(default=False)
    _loops: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Open the store, resume the jobs an earlier process left unfinished, and fire the
        schedules (a run missed while no instance ran fires now, once)."""
        await self.store.open()
        await self.follower.start()
        self._loops = [
            asyncio.ensure_future(self.autoruns.run_schedules()),
            asyncio.ensure_future(self.autoruns.run_triggers()),
        ]
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.follower.stop()
        await self.outbox.close()
        await self.store.close()
        await self.session.close()

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(EVENTS_PATH, self._events)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/metrics", self._metrics)
        if self.bolt.oauth_flow is not None:
            app.router.add_get(INSTALL_PATH, self._install)
            app.router.add_get(REDIRECT_PATH, self._install)
        return app

    async def _events(self, request: web.Request) -> web.Response:
        request_context.set(secrets.token_hex(4))
        # Our own reading of the form body: Bolt's takes a channel named #payload-… for a
        # button click (bot/slack/inbound.py); the signature is still checked on the raw body.
        with self.foreground.answering():
            bolt_response = await self.bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)

    async def _install(self, request: web.Request) -> web.Response:
        """Bolt's install page (`/slack/install`) and its redirect (`/slack/oauth_redirect`)."""
        flow = self.bolt.oauth_flow
        assert flow is not None
        bolt_request = await bolt_request_of(request)
        if request.path == INSTALL_PATH:
            return await to_aiohttp_response(await flow.handle_installation(bolt_request))
        return await to_aiohttp_response(await flow.handle_callback(bolt_request))

    async def _health(self, _request: web.Request) -> web.Response:
        """200 when ready; 503 while starting, while Einstein refuses the credentials or while
        the database does not answer a trivial query within `HEALTH_DB_TIMEOUT`, with the
        reason (never a secret, never the database URL) in `einstein` or `database`."""
        problem = self.einstein.problem
        database = "ok"
        try:
            await self.store.ping(within=HEALTH_DB_TIMEOUT)
        except StoreError as exc:
            database = str(exc)
        body: dict[str, Any] = {
            "ready": self.ready,
            "instance": self.store.owner,
            "jobs_followed": self.follower.running,
            "einstein": problem or "ok",
            "database": database,
        }
        healthy = self.ready and not problem and database == "ok"
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        """This instance's metrics in Prometheus' text format."""
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def create_bot(settings: Settings, **timing: float) -> Bot:
    """Build a bot from settings; `Bot.start()` opens its connections."""
    settings.require_serving()
    policy = settings.access_policy()  # a broken policy file stops start-up here
    log.log(logging.WARNING if policy.is_open else logging.INFO, "access: %s", policy.describe())
    session = aiohttp.ClientSession()
    metrics = Metrics()
    store = SqlJobStore(settings.database_url)
    installations, tokens = installed_tokens(settings, store, session)
    # Installed with OAuth, each call carries its workspace's token (`bot.slack.tokens`).
    slack = AsyncWebClient(
        token=None if settings.oauth else secret(settings.slack_bot_token),
        base_url=settings.slack_api_url,
        session=session,
    )
    einstein = EinsteinClient(
        base_url=settings.einstein_api_url,
        tokens=token_source(settings, session, metrics=metrics),
        session=session,
        timeout=settings.einstein_timeout,
        metrics=metrics,
    )
    audit = AuditLog(store)
    outbox = Outbox(
        client=slack, tokens=tokens, post_interval=settings.slack_post_interval, metrics=metrics
    )
    metrics.watch_queued(lambda: outbox.queued)
    notifier = Notifier(outbox=outbox, session=session)
    gate = Gatekeeper(policy=policy, store=store, groups=UserGroups(outbox=outbox))
    visibility = Visibility(directory=SlackChannels(outbox=outbox))
    reads = Reads(store=store, visibility=visibility, notifier=notifier)
    preferences = Preferences(store)

    async def wants_dm(user: str, team_id: str | None) -> bool:
        return await preferences.notify(user, team_id=team_id) == NotifyMode.DM

    timings = timing_from(settings, **timing)
    foreground = Foreground()
    follower = Follower(
        foreground=foreground,
        store=store,
        einstein=einstein,
        notifier=notifier,
        audit=audit,
        wants_dm=wants_dm,
        timing=timings,
        metrics=metrics,
    )
    bolt = build_bolt(settings, session, installations)
    trail = Trail(audit)
    stops = Stops(store=store, follower=follower, gate=gate, trail=trail)
    retrains = Retrains(
        store=store,
        follower=follower,
        notifier=notifier,
        gate=gate,
        trail=trail,
        reads=reads,
        visibility=visibility,
        retrain_channel=settings.retrain_channel,
        approval_ttl=settings.retrain_approval_ttl,
        foreground=foreground,
    )
    autoruns = AutoRuns(
        autos=AutoRetrainStore(store),
        retrains=retrains,
        gate=gate,
        notifier=notifier,
        audit=audit,
        visibility=visibility,
        feedback_count=_feedback_counter(einstein),
        retrain_channel=settings.retrain_channel,
        tick=timings.schedule_tick,
        trigger_interval=timings.trigger_interval,
    )
    register_handlers(
        bolt,
        Handlers(
            retrains=retrains,
            stops=stops,
            reads=reads,
            autoruns=autoruns,
            follower=follower,
            notifier=notifier,
            choices=Choices(preferences=preferences),
            metrics=metrics,
        ),
    )
    # Card buttons, the retrain form and the Home tab start retrains the way the command does.
    register_interactions(
        bolt,
        Interactions(
            store=store,
            follower=follower,
            notifier=notifier,
            retrains=retrains,
            stops=stops,
            reads=reads,
        ),
    )
    register_forms(bolt, Forms(follower=follower, notifier=notifier, retrains=retrains))
    feedback_forms = FeedbackForms(
        store=store, einstein=einstein, visibility=visibility, notifier=notifier
    )
    feedback = FeedbackSubmissions(
        einstein=einstein,
        gate=gate,
        notifier=notifier,
        audit=audit,
        spawn=lambda work: follower.spawn(work, name="feedback"),
    )
    register_feedback(
        bolt, FeedbackListeners(forms=feedback_forms, submissions=feedback, follower=follower)
    )
    register_uninstalls(
        bolt,
        Uninstalls(installations=installations, store=store, follower=follower)
        if installations is not None
        else None,
    )
    return Bot(
        settings=settings,
        bolt=bolt,
        store=store,
        follower=follower,
        notifier=notifier,
        outbox=outbox,
        einstein=einstein,
        session=session,
        autoruns=autoruns,
        feedback=feedback,
        metrics=metrics,
        foreground=foreground,
    )


def _feedback_counter(einstein: EinsteinClient) -> FeedbackCount:
    """How many feedback examples a model's dataset has: its training names the dataset."""

    async def count(model_id: str) -> int:
        return await einstein.feedback_count(await einstein.dataset_id(model_id))

    return count
