"""The Web API methods one workspace of the fake answers: request args in, Slack's JSON out.

``auth.test`` is answered by ``teams``, which knows the token's installation, and
``oauth.v2.access`` by ``oauth``: both before any workspace is chosen.

Args are read with the helpers in ``args``, which accept JSON values and strings alike. Unknown
args are ignored, as Slack does, because Bolt's per-request client adds ``team_id`` to every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.fakes.slack.args import (
    Args,
    blocks_arg,
    content,
    flag,
    json_list,
    metadata_arg,
    opt_str,
    page,
)
from bot.fakes.slack.checks import ApiFailure
from bot.fakes.slack.payloads import channel_payload, file_payload, message_payload
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.views import Views, view_payload
from bot.fakes.slack.workspace import Workspace

__all__ = ["ApiResult", "WebApi"]

PERMALINK_ROOT = "https://fake.slack.com"


@dataclass(frozen=True)
class ApiResult:
    """A successful method's JSON body and any extra response headers."""

    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class WebApi:
    """Dispatches ``<method>`` to its handler; ``handlers`` lists what the fake knows."""

    def __init__(
        self,
        *,
        workspace: Workspace,
        uploads: Uploads,
        views: Views,
        users: Mapping[str, str] | None,
        usergroups: Mapping[str, Sequence[str]],
        root_url: Callable[[], str],
    ) -> None:
        self._ws = workspace
        self._uploads = uploads
        self._views = views
        self._users = users
        self._usergroups = usergroups
        self._root_url = root_url
        self.handlers: dict[str, Callable[[Args], ApiResult]] = {
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "conversations.replies": self.conversations_replies,
            "conversations.history": self.conversations_history,
            "conversations.join": self.conversations_join,
            "conversations.info": self.conversations_info,
            "conversations.members": self.conversations_members,
            "conversations.open": self.conversations_open,
            "reactions.add": self.reactions_add,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
            "views.open": self.views_open,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "usergroups.users.list": self.usergroups_users_list,
            "users.info": self.users_info,
        }

    def chat_post_message(self, args: Args) -> ApiResult:
        """Post a message or thread reply."""
        text, blocks = content(args)
        message = self._ws.post(
            args.get("channel"),
            text=text,
            blocks=blocks,
            thread_ts=opt_str(args, "thread_ts"),
            reply_broadcast=flag(args, "reply_broadcast"),
            metadata=metadata_arg(args),
        )
        payload = message_payload(message, self._ws, self._uploads, include_metadata=True)
        return _ok(channel=message.channel, ts=message.ts, message=payload)

    def chat_update(self, args: Args) -> ApiResult:
        """Edit one of the bot's messages."""
        blocks = blocks_arg(args)
        message = self._ws.update(
            args.get("channel"),
            args.get("ts"),
            text=opt_str(args, "text"),
            blocks=blocks,
            metadata=metadata_arg(args),
        )
        payload = message_payload(message, self._ws, self._uploads, include_metadata=True)
        return _ok(channel=message.channel, ts=message.ts, text=message.text, message=payload)

    def chat_post_ephemeral(self, args: Args) -> ApiResult:
        """Show a message to one user."""
        text, blocks = content(args)
        ephemeral = self._ws.post_ephemeral(
            args.get("channel"),
            user=args.get("user"),
            text=text,
            blocks=blocks,
            thread_ts=opt_str(args, "thread_ts"),
        )
        return _ok(message_ts=ephemeral.message_ts)

    def chat_get_permalink(self, args: Args) -> ApiResult:
        """A link to a message; replies link through their thread."""
        channel = self._ws.visible(args.get("channel"))
        message = self._ws.message(channel.id, args.get("message_ts"))
        link = f"{PERMALINK_ROOT}/archives/{channel.id}/p{message.ts.replace('.', '')}"
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return _ok(channel=channel.id, permalink=link)

    def conversations_replies(self, args: Args) -> ApiResult:
        """A thread, parent first, in pages of ``limit``."""
        channel = self._ws.visible(args.get("channel"))
        ts = str(args.get("ts") or "")
        message = self._ws.message(channel.id, ts) if ts else None
        if message is None:
            raise ApiFailure("thread_not_found")
        thread = self._ws.thread(channel.id, message.thread_ts or message.ts)
        items, cursor = page(thread, args, default_limit=1000)
        with_metadata = flag(args, "include_all_metadata")
        messages = [
            message_payload(m, self._ws, self._uploads, include_metadata=with_metadata)
            for m in items
        ]
        return _paged("messages", messages, cursor)

    def conversations_history(self, args: Args) -> ApiResult:
        """The channel's top-level messages, newest first."""
        channel = self._ws.visible(args.get("channel"))
        newest_first = list(reversed(self._ws.top_level(channel.id)))
        items, cursor = page(newest_first, args, default_limit=100)
        with_metadata = flag(args, "include_all_metadata")
        messages = [
            message_payload(m, self._ws, self._uploads, include_metadata=with_metadata)
            for m in items
        ]
        return _paged("messages", messages, cursor)

    def conversations_join(self, args: Args) -> ApiResult:
        """Join a public channel; joining twice is fine but warned about."""
        channel, already = self._ws.join(args.get("channel"))
        result = _ok(channel=channel_payload(channel))
        if already:
            result.body["warning"] = "already_in_channel"
            result.body["response_metadata"] = {"warnings": ["already_in_channel"]}
        return result

    def conversations_info(self, args: Args) -> ApiResult:
        """What the bot can see of a channel."""
        return _ok(channel=channel_payload(self._ws.readable(args.get("channel"))))

    def conversations_members(self, args: Args) -> ApiResult:
        """A channel's member IDs in pages of ``limit`` (Slack's default 100), with a cursor."""
        members, cursor = page(self._ws.members(args.get("channel")), args, default_limit=100)
        return _ok(members=members, response_metadata={"next_cursor": cursor})

    def conversations_open(self, args: Args) -> ApiResult:
        """Open (or find) the bot's DM with one user; needs ``im:write``."""
        if "im:write" not in self._ws.scopes:
            raise ApiFailure("missing_scope")
        if args.get("channel"):
            return _ok(channel={"id": self._ws.visible(args.get("channel")).id})
        channel, already = self._ws.open_im(args.get("users"))
        reopened: dict[str, Any] = {"no_op": True, "already_open": True} if already else {}
        return _ok(channel={"id": channel.id}, **reopened)

    def reactions_add(self, args: Args) -> ApiResult:
        """React to a message."""
        self._ws.react(args.get("channel"), args.get("timestamp"), args.get("name"))
        return _ok()

    def files_get_upload_url_external(self, args: Args) -> ApiResult:
        """Reserve an upload URL on the fake itself."""
        pending = self._uploads.reserve(
            filename=args.get("filename"), length=args.get("length"), alt_txt=args.get("alt_txt")
        )
        url = f"{self._root_url()}/upload/v1/{pending.id}/{pending.secret}"
        return _ok(upload_url=url, file_id=pending.id)

    def files_complete_upload_external(self, args: Args) -> ApiResult:
        """Finish uploads, sharing them into a channel or thread when one is named."""
        channels = str(args.get("channels") or "").split(",")
        done = self._uploads.complete(
            json_list(args.get("files")),
            workspace=self._ws,
            channel_id=opt_str(args, "channel_id") or channels[0] or None,
            thread_ts=opt_str(args, "thread_ts"),
            initial_comment=opt_str(args, "initial_comment"),
        )
        return _ok(files=[file_payload(f, self._ws.identity) for f in done])

    def views_open(self, args: Args) -> ApiResult:
        """Open a modal."""
        view = self._views.open(trigger_id=args.get("trigger_id"), view=args.get("view"))
        return _ok(view=view_payload(view, self._ws.identity))

    def views_update(self, args: Args) -> ApiResult:
        """Update an open modal."""
        view = self._views.update(
            view_id=args.get("view_id"),
            external_id=args.get("external_id"),
            hash=args.get("hash"),
            view=args.get("view"),
        )
        return _ok(view=view_payload(view, self._ws.identity))

    def views_publish(self, args: Args) -> ApiResult:
        """Publish a Home tab."""
        view = self._views.publish(
            user_id=args.get("user_id"), hash=args.get("hash"), view=args.get("view")
        )
        return _ok(view=view_payload(view, self._ws.identity))

    def usergroups_users_list(self, args: Args) -> ApiResult:
        """The members of a user group."""
        users = self._usergroups.get(str(args.get("usergroup") or ""))
        if users is None:
            raise ApiFailure("no_such_subteam")
        return _ok(users=list(users))

    def users_info(self, args: Args) -> ApiResult:
        """A minimal user profile; any U/W id is a user unless ``users`` was configured."""
        user_id = str(args.get("user") or "")
        name = self.user_name(user_id)
        if name is None:
            raise ApiFailure("user_not_found")
        user = {
            "id": user_id,
            "team_id": self._ws.identity.team_id,
            "name": name,
            "real_name": name,
            "deleted": False,
            "is_bot": user_id == self._ws.identity.user_id,
            "tz": "UTC",
            "profile": {"real_name": name, "display_name": name},
        }
        return _ok(user=user)

    def user_name(self, user_id: str) -> str | None:
        """The name of a person (or the bot) of the workspace, ``None`` if there is none."""
        if user_id == self._ws.identity.user_id:
            return self._ws.identity.user_name
        if self._users is not None:
            return self._users.get(user_id)
        return f"user-{user_id.lower()}" if user_id[:1] in ("U", "W") else None


def _ok(**fields: Any) -> ApiResult:
    return ApiResult({"ok": True, **fields})


def _paged(key: str, items: list[dict[str, Any]], cursor: str) -> ApiResult:
    return _ok(
        **{key: items},
        has_more=bool(cursor),
        response_metadata={"next_cursor": cursor},
    )
