"""Messages, files and channels the way the Web API returns them, thread bookkeeping included."""

from __future__ import annotations

import mimetypes
from typing import Any

from bot.fakes.slack.records import BotIdentity, Channel, Message, UploadedFile
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.workspace import Workspace

__all__ = ["channel_payload", "file_payload", "message_payload"]

_CREATED = 1_700_000_000


def message_payload(
    message: Message, workspace: Workspace, uploads: Uploads, *, include_metadata: bool
) -> dict[str, Any]:
    """A message the way the Web API returns it, with thread bookkeeping on parents."""
    me = workspace.identity
    payload: dict[str, Any] = {
        "type": "message",
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "team": me.team_id,
    }
    if message.bot_id:
        payload |= {"bot_id": message.bot_id, "app_id": me.app_id}
    if message.blocks is not None:
        payload["blocks"] = message.blocks
    payload |= _thread_fields(message, workspace)
    if message.edits:
        payload["edited"] = {"user": message.user, "ts": message.ts}
    if include_metadata and message.metadata is not None:
        payload["metadata"] = {
            "event_type": message.metadata.event_type,
            "event_payload": dict(message.metadata.event_payload),
        }
    if message.reactions:
        payload["reactions"] = [
            {"name": n, "users": [me.user_id], "count": 1} for n in message.reactions
        ]
    if message.files:
        # Slack returns whole file objects; the name and title are what readers look at.
        known = {f.id: f for f in uploads.completed}
        payload["files"] = [
            {"id": file_id, "name": known[file_id].filename, "title": known[file_id].title}
            if file_id in known
            else {"id": file_id}
            for file_id in message.files
        ]
    return payload


def _thread_fields(message: Message, workspace: Workspace) -> dict[str, Any]:
    if message.thread_ts is not None:
        parent = workspace.message(message.channel, message.thread_ts)
        fields: dict[str, Any] = {"thread_ts": message.thread_ts, "parent_user_id": parent.user}
        if message.reply_broadcast:
            fields["subtype"] = "thread_broadcast"
        return fields
    replies = workspace.thread(message.channel, message.ts)[1:]
    if not replies:
        return {}
    return {
        "thread_ts": message.ts,
        "reply_count": len(replies),
        "reply_users": sorted({r.user for r in replies}),
        "latest_reply": replies[-1].ts,
    }


def file_payload(file: UploadedFile, identity: BotIdentity) -> dict[str, Any]:
    mimetype = mimetypes.guess_type(file.filename)[0] or "application/octet-stream"
    return {
        "id": file.id,
        "created": _CREATED,
        "name": file.filename,
        "title": file.title,
        "mimetype": mimetype,
        "size": file.length,
        "user": identity.user_id,
        # Slack shares asynchronously, so the completion reply usually has no shares yet.
        "shares": {},
    }


def channel_payload(channel: Channel) -> dict[str, Any]:
    if channel.is_im:
        return {
            "id": channel.id,
            "is_im": True,
            "user": channel.user,
            "is_open": True,
            "created": _CREATED,
        }
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": not channel.is_private,
        "is_group": channel.is_private,
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "is_member": channel.bot_is_member,
        "created": _CREATED,
    }
