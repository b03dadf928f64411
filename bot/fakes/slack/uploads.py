"""Slack's three-step external upload: reserve a URL, POST the bytes to it, complete the upload.

Completing with a channel shares the file there as one message (in the thread when ``thread_ts``
is given), which needs real membership: ``chat:write.public`` does not cover files.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from bot.fakes.slack.checks import ApiFailure
from bot.fakes.slack.records import UploadedFile
from bot.fakes.slack.reports import FileShared, SlackEvent
from bot.fakes.slack.workspace import Workspace

__all__ = ["PendingUpload", "Uploads"]


@dataclass(frozen=True)
class PendingUpload:
    """A reserved upload URL and, once POSTed, its bytes."""

    id: str
    filename: str
    length: int
    alt_txt: str | None
    secret: str
    data: bytes | None = None


class Uploads:
    """Reserved and completed uploads of every workspace of the fake (file IDs are unique
    across Slack); a completed upload is shared in the workspace of the call completing it."""

    def __init__(self, *, clock: Callable[[], float], emit: Callable[[SlackEvent], None]) -> None:
        self._clock = clock
        self._emit = emit
        self._pending: dict[str, PendingUpload] = {}
        self._count = 0
        self.completed: list[UploadedFile] = []

    def reserve(self, *, filename: object, length: object, alt_txt: object) -> PendingUpload:
        """Answer ``files.getUploadURLExternal``: a file id and the secret of its upload URL."""
        if not filename:
            raise ApiFailure("invalid_arguments")
        try:
            size = int(str(length))
        except ValueError:
            raise ApiFailure("invalid_arguments") from None
        if size <= 0:
            raise ApiFailure("missing_argument")
        self._count += 1
        pending = PendingUpload(
            id=f"F{self._count:010d}",
            filename=str(filename),
            length=size,
            alt_txt=str(alt_txt) if alt_txt else None,
            secret=secrets.token_urlsafe(12),
        )
        self._pending[pending.id] = pending
        return pending

    def receive(self, file_id: str, secret: str, data: bytes) -> bool:
        """Store the bytes POSTed to an upload URL; ``False`` if the URL is unknown."""
        pending = self._pending.get(file_id)
        if pending is None or not secrets.compare_digest(pending.secret, secret):
            return False
        self._pending[file_id] = replace(pending, data=data)
        return True

    def complete(
        self,
        files: list[Mapping[str, object]],
        *,
        workspace: Workspace,
        channel_id: str | None,
        thread_ts: str | None,
        initial_comment: str | None,
    ) -> list[UploadedFile]:
        """Answer ``files.completeUploadExternal``; each upload can be completed once."""
        uploads = [(self._uploaded(item.get("id")), item.get("title")) for item in files]
        if not uploads:
            raise ApiFailure("invalid_arguments")
        message_ts = None
        if channel_id:
            message_ts, thread_ts = _share(
                workspace, channel_id, [u.id for u, _ in uploads], thread_ts, initial_comment
            )
        done = [
            UploadedFile(
                id=upload.id,
                filename=upload.filename,
                title=str(title or upload.filename),
                data=upload.data or b"",
                alt_txt=upload.alt_txt,
                channel=channel_id or None,
                thread_ts=thread_ts,
                initial_comment=initial_comment,
                message_ts=message_ts,
                time=self._clock(),
            )
            for upload, title in uploads
        ]
        for upload, _ in uploads:
            del self._pending[upload.id]
        for file in done:
            self.completed.append(file)
            self._emit(FileShared(file))
        return done

    def _uploaded(self, file_id: object) -> PendingUpload:
        pending = self._pending.get(str(file_id))
        if pending is None or pending.data is None:
            raise ApiFailure("file_not_found")
        return pending


def _share(
    workspace: Workspace,
    channel_id: str,
    file_ids: list[str],
    thread_ts: str | None,
    initial_comment: str | None,
) -> tuple[str, str | None]:
    channel = workspace.visible(channel_id)
    workspace.require_postable(channel, membership=True)
    message = workspace.post(
        channel.id,
        text=initial_comment or "",
        blocks=None,
        thread_ts=thread_ts,
        files=tuple(file_ids),
        announce=False,
    )
    return message.ts, message.thread_ts
