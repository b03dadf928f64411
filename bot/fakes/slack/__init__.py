"""A fake Slack for tests, the offline demo and benchmarks.

- ``FakeSlack`` (``server``): a loopback aiohttp server playing the Web API, response_urls,
  upload URLs and Socket Mode (``sockets``: ``apps.connections.open`` and its WebSocket), with
  Slack's rules for channels, threads and limits, scripted faults and a
  per-channel posting limit; it records every call and reports every change to ``on_event``.
  It holds one workspace or several (``add_workspace``; Enterprise orgs too), installs the app
  through Slack's OAuth v2 flow (``OAuthApp``), rotates tokens and uninstalls.
- ``render_message`` / ``render_event`` (``render``): Block Kit and mrkdwn as terminal text.
- ``send_slash_command`` / ``send_interaction`` / ``send_event`` (``signing``): requests signed as
  Slack signs them; ``events`` builds Events API envelopes;
  ``shortcuts`` builds the interactivity payloads: button clicks, modal submissions, message
  shortcuts and inputs changed in an open modal.

Modules: ``records`` (frozen dataclasses), ``reports`` (the changes reported to ``on_event``),
``teams`` (the workspaces and which serves a call),
``workspace`` (one workspace's channels, messages and Slack's posting rules), ``workspaces``
and ``observed`` (how a test sets the fake up and reads it back), ``tokens`` (whose token it
is), ``oauth`` (the install flow), ``installs`` (uninstalling), ``uploads``, ``views``,
``hooks`` (response_urls), ``endpoints`` (each HTTP request checked, answered and recorded),
``methods`` and ``args`` (Web API methods and their args), ``payloads`` (messages, files and
channels as the Web API returns them), ``checks`` (limits), ``faults``, ``wire`` (HTTP
plumbing), ``mrkdwn``.
"""

from __future__ import annotations

from bot.fakes.slack.endpoints import AUTHORIZE, OAUTH_ACCESS, RESPONSE_URL, UPLOAD_URL
from bot.fakes.slack.events import app_uninstalled_event, event_callback, tokens_revoked_event
from bot.fakes.slack.installs import Install
from bot.fakes.slack.oauth import DEFAULT_INSTALLER, OAuthApp
from bot.fakes.slack.records import (
    BotIdentity,
    Call,
    Channel,
    Ephemeral,
    Message,
    MessageVersion,
    Metadata,
    ResponsePost,
    UploadedFile,
    View,
)
from bot.fakes.slack.render import render_event, render_message
from bot.fakes.slack.reports import (
    ChannelJoined,
    EphemeralPosted,
    FileShared,
    MessagePosted,
    MessageUpdated,
    ReactionAdded,
    ResponseUrlPosted,
    SlackEvent,
    ViewRecorded,
)
from bot.fakes.slack.server import DEFAULT_CHANNELS, DEFAULT_SCOPES, FakeSlack
from bot.fakes.slack.shortcuts import (
    block_actions_payload,
    message_action_payload,
    view_action_payload,
    view_submission_payload,
)
from bot.fakes.slack.signing import (
    SentRequest,
    interactivity_body,
    post_event,
    send_event,
    send_interaction,
    send_slash_command,
    sign_slack_request,
    slash_command_body,
    slash_command_fields,
)
from bot.fakes.slack.teams import Team

__all__ = [
    "AUTHORIZE",
    "DEFAULT_CHANNELS",
    "DEFAULT_INSTALLER",
    "DEFAULT_SCOPES",
    "OAUTH_ACCESS",
    "RESPONSE_URL",
    "UPLOAD_URL",
    "BotIdentity",
    "Call",
    "Channel",
    "ChannelJoined",
    "Ephemeral",
    "EphemeralPosted",
    "FakeSlack",
    "FileShared",
    "Install",
    "Message",
    "MessagePosted",
    "MessageUpdated",
    "MessageVersion",
    "Metadata",
    "OAuthApp",
    "ReactionAdded",
    "ResponsePost",
    "ResponseUrlPosted",
    "SentRequest",
    "SlackEvent",
    "Team",
    "UploadedFile",
    "View",
    "ViewRecorded",
    "app_uninstalled_event",
    "block_actions_payload",
    "event_callback",
    "interactivity_body",
    "message_action_payload",
    "post_event",
    "render_event",
    "render_message",
    "send_event",
    "send_interaction",
    "send_slash_command",
    "sign_slack_request",
    "slash_command_body",
    "slash_command_fields",
    "tokens_revoked_event",
    "view_action_payload",
    "view_submission_payload",
]
