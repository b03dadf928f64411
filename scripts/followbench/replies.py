"""The thread replies as the fake Slack reports them: the first post of each (model, state)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from bot.core.jobs import FINAL_STATUSES
from bot.fakes.slack import (
    FileShared,
    MessagePosted,
    SlackEvent,
)
from bot.slack.marks import METADATA_EVENT


@dataclass(slots=True)
class ReplyLog:
    """Records, as the fake Slack reports them, the first post of each (model, state)."""

    expected: int
    first: dict[tuple[str, str], float] = field(default_factory=dict)
    posts: Counter[tuple[str, str]] = field(default_factory=Counter)
    finished: set[str] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Uploads name no model; the thread they land in does, through its card. A ts is unique
    # only within its channel.
    card_model: dict[tuple[str, str], str] = field(default_factory=dict)
    files: dict[str, float] = field(default_factory=dict)

    def __call__(self, event: SlackEvent) -> None:
        if isinstance(event, FileShared):
            thread = (event.file.channel or "", event.file.thread_ts or "")
            model_id = self.card_model.get(thread)
            if model_id is not None:
                self.files.setdefault(model_id, event.file.time)
            return
        if not isinstance(event, MessagePosted):
            return
        metadata = event.message.metadata
        if metadata is None or metadata.event_type != METADATA_EVENT:
            return
        model_id = str(metadata.event_payload.get("model_id"))
        state = str(metadata.event_payload.get("state"))
        if state == "CARD":
            self.card_model[(event.message.channel, event.message.ts)] = model_id
        key = (model_id, state)
        self.posts[key] += 1
        # The fake's clock is time.time (set in `_run`), the same clock the simulator runs on.
        self.first.setdefault(key, event.message.versions[0].time)
        if state in FINAL_STATUSES:
            self.finished.add(model_id)
            self.expect(self.expected)

    def expect(self, count: int) -> None:
        self.expected = count
        if len(self.finished) >= count:
            self.done.set()
