"""Only what each person may see, end to end: trainings in private channels and DMs.

Commands arrive signed at the served bot; the fake Slack knows which channels are private and
who is in them. Assertions are on the private answers Slack received and the Home tabs published.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.access.visibility import Sight, Visibility, private_by_name
from bot.core.jobs import Job
from bot.core.options import RetrainOptions
from bot.errors import SlackError
from bot.fakes.slack import Channel
from tests.conftest import CHANNEL, USER, Stack
from tests.test_interactions import send_event, wait_job

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
PRIVATE = "G0PRIVATE1"
PRIVATE_NAME = "secret-launch"
OTHER = "U0OTHER003"
DM = "D0DIRECT01"

CHANNELS = [
    Channel(id=CHANNEL, name="general"),
    Channel(id=PRIVATE, name=PRIVATE_NAME, is_private=True, members=frozenset({USER})),
]
pytestmark = pytest.mark.slack(channels=CHANNELS)


def _posted(stack: Stack, url: str) -> str:
    """Everything the last private answer holds: its text and its blocks."""
    post = stack.slack.responses[url][-1]
    return f"{post.text}\n{json.dumps(post.blocks or [])}"


async def _ask(stack: Stack, text: str, *, user: str) -> str:
    _, url = await stack.command(text, user=user)
    await stack.wait_private(url)
    return _posted(stack, url)


def _names_the_channel(answer: str) -> bool:
    return PRIVATE in answer or PRIVATE_NAME in answer


async def _training_in_private(stack: Stack, **extra: Any) -> Job:
    """A training that goes on, asked for in the private channel; its card is posted there."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL, channel=PRIVATE, **extra)
    return await wait_job(stack, lambda j: j.parent_ts is not None)


async def test_list_shows_a_private_training_only_to_members(stack: Stack) -> None:
    """`list` links a private channel's training for a member; others only hear it exists."""
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    member = await _ask(stack, "list", user=USER)
    outsider = await _ask(stack, "list", user=OTHER)
    assert f"archives/{PRIVATE}/" in member
    assert MODEL in member
    assert not _names_the_channel(outsider)
    assert MODEL not in outsider
    assert "private channel" in outsider


async def test_status_of_a_private_training_names_no_channel_to_others(stack: Stack) -> None:
    """`status` of a model trained in a private channel says only that, to a non-member."""
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    assert f"archives/{PRIVATE}/" in await _ask(stack, f"status {MODEL}", user=USER)
    outsider = await _ask(stack, f"status {MODEL}", user=OTHER)
    assert not _names_the_channel(outsider)
    assert "private channel you are not a member of" in outsider


async def test_history_leaves_out_private_trainings_for_others(stack: Stack) -> None:
    """`history` shows a private channel's training to members only and counts it for others."""
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    assert f"archives/{PRIVATE}/" in await _ask(stack, f"history {MODEL}", user=USER)
    outsider = await _ask(stack, f"history {MODEL}", user=OTHER)
    assert not _names_the_channel(outsider)
    assert "1 training is in a private channel you are not a member of" in outsider


async def test_a_duplicate_request_names_no_private_channel(stack: Stack) -> None:
    """A retrain of a model followed in a private channel tells an outsider no more than that."""
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    _, url = await stack.command(MODEL, user=OTHER)
    text = await stack.wait_private(url)
    assert "already being followed in a private channel" in text
    assert not _names_the_channel(_posted(stack, url))


async def test_the_job_stores_that_its_channel_is_private(stack: Stack) -> None:
    """A channel named like any other is found private with conversations.info and stored."""
    job = await _training_in_private(stack, channel_name=PRIVATE_NAME)
    stored = await wait_job(stack, lambda j: j.id == job.id and j.private_channels is not None)
    assert stored.private_channels == {PRIVATE}
    assert [c.args["channel"] for c in stack.slack.calls_to("conversations.info")] == [PRIVATE]


async def test_an_old_private_group_is_known_from_the_command(stack: Stack) -> None:
    """Slack's `privategroup` channel name marks the job private without asking Slack."""
    job = await _training_in_private(stack, channel_name="privategroup")
    assert job.private_channels == {PRIVATE}
    assert stack.slack.calls_to("conversations.info") == []


async def test_membership_is_read_across_pages_and_cached(stack: Stack) -> None:
    """Members on the third page of conversations.members count; a second look asks no more."""
    crowd = frozenset({f"U{i:09d}" for i in range(450)})
    stack.slack.add_channel(
        Channel(id=PRIVATE, name=PRIVATE_NAME, is_private=True, members=crowd | {OTHER})
    )
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    assert f"archives/{PRIVATE}/" in await _ask(stack, "list", user=OTHER)
    assert len(stack.slack.calls_to("conversations.members")) == 3
    assert f"archives/{PRIVATE}/" in await _ask(stack, f"status {MODEL}", user=OTHER)
    assert len(stack.slack.calls_to("conversations.members")) == 3


async def test_a_failed_membership_check_hides_the_training_and_says_so(stack: Stack) -> None:
    """When Slack will not list a private channel's members, the training is hidden, plainly."""
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    stack.slack.fail_next("conversations.members", error="missing_scope")
    answer = await _ask(stack, "list", user=USER)
    assert not _names_the_channel(answer)
    assert "Slack did not say just now who is in it" in answer


async def test_a_failed_membership_check_leaves_status_plain_too(stack: Stack) -> None:
    """`status` says plainly that Slack could not tell, and names no channel."""
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    stack.slack.fail_next("conversations.members", error="missing_scope")
    answer = await _ask(stack, f"status {MODEL}", user=USER)
    assert not _names_the_channel(answer)
    assert "Slack did not say just now whether you are a member" in answer


async def test_a_dm_training_is_shown_to_its_requester_only(stack: Stack) -> None:
    """A retrain typed in a DM shows in its requester's list, never the DM, and not to others."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL, channel=DM, channel_name="directmessage")
    await wait_job(stack, lambda j: j.status == "RUNNING")
    mine = await _ask(stack, "list", user=USER)
    theirs = await _ask(stack, "list", user=OTHER)
    assert MODEL in mine
    assert DM not in mine
    assert "a direct message" in mine
    assert MODEL not in theirs
    assert DM not in theirs


async def test_home_leaves_out_a_private_channel_its_requester_left(stack: Stack) -> None:
    """The Home tab hides the requester's training in a private channel they are no longer in."""
    stack.slack.add_channel(
        Channel(id=PRIVATE, name=PRIVATE_NAME, is_private=True, members=frozenset({OTHER}))
    )
    await _training_in_private(stack, channel_name=PRIVATE_NAME)
    assert await send_event(stack, {"type": "app_home_opened", "user": USER, "tab": "home"}) == 200
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=5, what="Home")
    home = json.dumps(view.view)
    assert not _names_the_channel(home)
    assert MODEL not in home
    assert "1 training is in a private channel you are not a member of" in home


# -- the rules and the cache, with a directory standing in for Slack -------------------------


class _Directory:
    """Answers like Slack's conversations.info and .members, counting the questions."""

    def __init__(self) -> None:
        self.members = {PRIVATE: frozenset({USER})}
        self.asked: list[str] = []
        self.down = False

    async def channel_is_private(self, channel: str) -> bool:
        self.asked.append(f"info {channel}")
        return channel in self.members

    async def channel_members(self, channel: str) -> frozenset[str]:
        self.asked.append(f"members {channel}")
        await asyncio.sleep(0)  # an answer takes a turn of the event loop, as Slack's would
        if self.down:
            raise SlackError("Slack did not answer", code="timeout")
        return self.members[channel]


def _job(channel: str, **changes: Any) -> Job:
    return Job(
        id="j1",
        model_id=MODEL,
        options=RetrainOptions(),
        requester=USER,
        channel=channel,
        origin_channel=channel,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    ).with_changes(**changes)


async def test_membership_is_asked_again_after_five_minutes() -> None:
    """A member list is reused for five minutes, then asked again: someone who left is out."""
    now = [0.0]
    directory = _Directory()
    visibility = Visibility(directory=directory, clock=lambda: now[0])
    job = _job(PRIVATE, private_channels=frozenset({PRIVATE}))
    assert await visibility.sight(job, USER) == Sight.SHOWN
    directory.members[PRIVATE] = frozenset()
    now[0] = 299.0
    assert await visibility.sight(job, USER) == Sight.SHOWN
    now[0] = 300.0
    assert await visibility.sight(job, USER) == Sight.HIDDEN
    assert directory.asked == [f"members {PRIVATE}", f"members {PRIVATE}"]


async def test_a_failed_lookup_is_not_remembered() -> None:
    """Slack failing hides the job this time only; the next look asks again."""
    directory = _Directory()
    visibility = Visibility(directory=directory)
    job = _job(PRIVATE, private_channels=frozenset({PRIVATE}))
    directory.down = True
    assert await visibility.sight(job, USER) == Sight.UNCHECKED
    directory.down = False
    assert await visibility.sight(job, USER) == Sight.SHOWN


@pytest.mark.parametrize(
    ("channel", "name", "private"),
    [
        ("D0123", "directmessage", True),
        ("G0123", "privategroup", True),
        ("C0123", "mpdm-alice--bob-1", True),
        ("C0123", "payload-models", False),
        ("C0123", None, False),
    ],
)
def test_private_by_name(channel: str, name: str | None, private: bool) -> None:
    """A command's channel name shows a DM, an old private group or a group DM as private."""
    assert private_by_name(channel, name) is private


async def test_people_asking_at_once_share_one_question() -> None:
    """Ten people opening the Home tab at once about one channel cost one member list."""
    directory = _Directory()
    visibility = Visibility(directory=directory)
    job = _job(PRIVATE, private_channels=frozenset({PRIVATE}))
    sights = await asyncio.gather(*(visibility.sight(job, USER) for _ in range(10)))
    assert set(sights) == {Sight.SHOWN}
    assert directory.asked == [f"members {PRIVATE}"]


async def test_a_lookup_cancelled_as_slack_answers_stops() -> None:
    """A job's first steps cancelled (the bot stopping) just as Slack has said whether its
    channel is private stop there: the answer does not carry them on."""
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    class _Slow(_Directory):
        async def channel_is_private(self, channel: str) -> bool:
            return await answer

    visibility = Visibility(directory=_Slow())
    lookup = asyncio.ensure_future(visibility.known(_job(PRIVATE), within=5))
    await asyncio.sleep(0)  # the lookup waits for Slack
    answer.set_result(True)
    # Slack's answer goes through (every other task ends); the lookup has yet to resume.
    me = asyncio.current_task()
    while [task for task in asyncio.all_tasks() if task not in (lookup, me)]:  # noqa: ASYNC110
        await asyncio.sleep(0)  # one turn at a time: an event would let the lookup resume
    assert not lookup.done()
    lookup.cancel()
    done, _ = await asyncio.wait({lookup}, timeout=2)
    assert done == {lookup}
    assert lookup.cancelled()
