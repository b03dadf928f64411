"""The bot's DMs with people: opening one, the result sent there, finding it again.

A DM is opened with `conversations.open` (the `im:write` scope) and gives a `D…` channel that
takes posts like any other, through the outbox. A post carries the marks of `bot.slack.marks`,
so after a crash between posting and recording it is found in the DM's history (the
`im:history` scope) instead of sent twice.
"""

from __future__ import annotations

from bot.core.jobs import Job
from bot.core.mrkdwn import percent
from bot.slack.lanes import Fence
from bot.slack.look import MAX_TEXT, Message, look, section, truncate
from bot.slack.marks import HISTORY_PAGE, metadata, posted_states
from bot.slack.outbox import Outbox, wait_for_answer

__all__ = ["DirectMessages", "render_result"]

_REASON_LIMIT = 500  # the DM gives the gist; the thread has the whole reason
# How far before a job's creation its DM is looked for: the bot's and Slack's clocks differ.
_CLOCK_SKEW = 10.0


class DirectMessages:
    """Opens DMs, posts in them and reads them back, through the outbox."""

    def __init__(self, *, outbox: Outbox, wait_limit: float = 90.0) -> None:
        self._outbox = outbox
        self._wait_limit = wait_limit

    async def open(self, user: str) -> str:
        """The id (`D…`) of the bot's DM with `user`, opened if need be."""
        response = await wait_for_answer(
            self._outbox.call("conversations_open", lane=f"conversations.open {user}", users=user),
            within=self._wait_limit,
            what="conversations.open",
        )
        return str((response.get("channel") or {})["id"])

    async def post(
        self, dm: str, message: Message, *, job: Job, state: str, fence: Fence | None = None
    ) -> None:
        """Post `message` in the DM, marked as `job`'s `state`."""
        await wait_for_answer(
            self._outbox.call(
                "chat_postMessage",
                channel=dm,
                job_id=job.id,
                fence=fence,
                text=message.text,
                blocks=message.blocks,
                metadata=metadata(job, state),
                unfurl_links=False,
            ),
            within=self._wait_limit,
            what="chat.postMessage",
        )

    async def posted(self, dm: str, *, job: Job, state: str) -> bool:
        """Whether the DM already holds `job`'s post marked `state`: read newest first, in
        pages of `HISTORY_PAGE`, back to the job's creation, stopping once it is found."""
        oldest = job.created_at.timestamp() - _CLOCK_SKEW
        cursor: str | None = None
        while True:
            response = await wait_for_answer(
                self._outbox.call(
                    "conversations_history",
                    channel=dm,
                    job_id=job.id,
                    oldest=f"{oldest:.6f}",
                    include_all_metadata=True,
                    limit=HISTORY_PAGE,
                    cursor=cursor,
                ),
                within=self._wait_limit,
                what="conversations.history",
            )
            messages = response.get("messages") or []
            if state in posted_states(messages, job):
                return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None or any(float(m.get("ts", 0)) < oldest for m in messages):
                return False


def render_result(job: Job, *, link: str | None) -> Message:
    """The DM with a training's end: model, outcome, accuracy or reason, the thread's link."""
    symbol, name = look(job.status)
    head = f"{symbol} Your retrain of `{job.model_id}` ended: *{name}*"
    if job.result is not None and job.result.metrics_error is None:
        detail = (
            f": test accuracy {percent(job.result.test_accuracy)}, "
            f"macro F1 {percent(job.result.macro_f1)}."
        )
    else:
        reason = job.failure_msg or job.decision_note
        if job.result is not None and job.result.metrics_error:
            reason = f"metrics unavailable: {job.result.metrics_error}"
        detail = f": {truncate(reason, _REASON_LIMIT)}" if reason else "."
    thread = f" <{link}|Open the thread>." if link else ""
    text = truncate(f"{head}{detail}{thread}", MAX_TEXT)
    return Message(text=text, blocks=[section(text)])
