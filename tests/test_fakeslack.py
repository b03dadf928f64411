"""The fake Slack, driven by the real slack_sdk client the bot uses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.fakes.slack import (
    RESPONSE_URL,
    UPLOAD_URL,
    Channel,
    FakeSlack,
    MessagePosted,
    MessageUpdated,
    SlackEvent,
    block_actions_payload,
    interactivity_body,
    render_event,
    render_message,
    send_interaction,
    send_slash_command,
    sign_slack_request,
    slash_command_body,
    view_submission_payload,
)

GENERAL = "C0001"
OUTSIDE = "C0OUTSIDE"  # public, bot not a member
HIDDEN = "G0HIDDEN"  # private, bot not a member
SECRET = "G0SECRET"  # private, bot a member
ARCHIVED = "C0ARCHIVED"

CHANNELS = (
    Channel(id=GENERAL, name="general", members=frozenset({"U1", "U2"})),
    Channel(id=OUTSIDE, name="outside", bot_is_member=False),
    Channel(id=HIDDEN, name="hidden", is_private=True, bot_is_member=False),
    Channel(id=SECRET, name="secret", is_private=True),
    Channel(id=ARCHIVED, name="old", is_archived=True),
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=CHANNELS, usergroups={"S0ML": ["U1", "U2"]}) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake.api_url)


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def error_of(info: pytest.ExceptionInfo[SlackApiError]) -> Any:
    return info.value.response["error"]


# --- posting and reading --------------------------------------------------------------------


async def test_post_message_assigns_increasing_ts(fake: FakeSlack, client: AsyncWebClient) -> None:
    """Each post gets a fresh, increasing ts and is stored as the bot's message."""
    first = await client.chat_postMessage(channel=GENERAL, text="one")
    second = await client.chat_postMessage(channel=GENERAL, text="two")
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["bot_id"] == fake.identity.bot_id
    assert [m.text for m in fake.messages(GENERAL)] == ["one", "two"]


async def test_post_records_the_call(fake: FakeSlack, client: AsyncWebClient) -> None:
    """Calls are recorded with args (without the token), status and outcome."""
    await client.chat_postMessage(channel=GENERAL, text="hi", unfurl_links=False)
    (call,) = fake.calls_to("chat.postMessage")
    assert call.args["text"] == "hi"
    assert "token" not in call.args
    assert (call.status, call.ok, call.error) == (200, True, None)


async def test_update_keeps_edit_history(fake: FakeSlack, client: AsyncWebClient) -> None:
    """chat.update replaces the content and keeps every version."""
    posted = await client.chat_postMessage(channel=GENERAL, text="queued")
    await client.chat_update(channel=GENERAL, ts=posted["ts"], text="running")
    await client.chat_update(channel=GENERAL, ts=posted["ts"], text="done")
    message = fake.message(GENERAL, posted["ts"])
    assert message.text == "done"
    assert [v.text for v in message.versions] == ["queued", "running", "done"]
    assert [e.text for e in message.edits] == ["running", "done"]


async def test_update_with_text_only_drops_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    """Updating with text and no blocks removes the old blocks, as Slack does."""
    blocks = [{"type": "section", "text": mrkdwn("x")}]
    posted = await client.chat_postMessage(channel=GENERAL, text="x", blocks=blocks)
    await client.chat_update(channel=GENERAL, ts=posted["ts"], text="y")
    assert fake.message(GENERAL, posted["ts"]).blocks is None


async def test_replies_include_metadata_when_asked(fake: FakeSlack, client: AsyncWebClient) -> None:
    """conversations.replies returns parent then replies, with metadata only on request."""
    parent = await client.chat_postMessage(channel=GENERAL, text="job")
    metadata = {"event_type": "retrain_job", "event_payload": {"job_id": "j1"}}
    await client.chat_postMessage(
        channel=GENERAL, text="step", thread_ts=parent["ts"], metadata=metadata
    )
    with_meta = await client.conversations_replies(
        channel=GENERAL, ts=parent["ts"], include_all_metadata=True
    )
    without = await client.conversations_replies(channel=GENERAL, ts=parent["ts"])
    assert [m["text"] for m in with_meta["messages"]] == ["job", "step"]
    assert with_meta["messages"][1]["metadata"] == metadata
    assert with_meta["messages"][0]["reply_count"] == 1
    assert "metadata" not in without["messages"][1]


async def test_replies_paginate_with_cursor(fake: FakeSlack, client: AsyncWebClient) -> None:
    """conversations.replies pages with limit and next_cursor."""
    parent = await client.chat_postMessage(channel=GENERAL, text="p")
    for n in range(4):
        await client.chat_postMessage(channel=GENERAL, text=f"r{n}", thread_ts=parent["ts"])
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.conversations_replies(
            channel=GENERAL, ts=parent["ts"], limit=2, cursor=cursor
        )
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == ["p", "r0", "r1", "r2", "r3"]


async def test_thread_lists_parent_and_replies(fake: FakeSlack, client: AsyncWebClient) -> None:
    """thread() gives the parent first and its replies in order, broadcast flag kept."""
    parent = await client.chat_postMessage(channel=GENERAL, text="p")
    await client.chat_postMessage(
        channel=GENERAL, text="r", thread_ts=parent["ts"], reply_broadcast=True
    )
    thread = fake.thread(GENERAL, parent["ts"])
    assert [m.text for m in thread] == ["p", "r"]
    assert thread[1].thread_ts == parent["ts"]
    assert thread[1].reply_broadcast


async def test_unknown_thread_ts_is_refused(client: AsyncWebClient) -> None:
    """A thread_ts naming no message gives thread_not_found (the fake's documented choice)."""
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=GENERAL, text="x", thread_ts="1700000099.000100")
    assert error_of(info) == "thread_not_found"


async def test_history_is_newest_first(fake: FakeSlack, client: AsyncWebClient) -> None:
    """conversations.history lists top-level messages newest first, without replies."""
    parent = await client.chat_postMessage(channel=GENERAL, text="a")
    await client.chat_postMessage(channel=GENERAL, text="reply", thread_ts=parent["ts"])
    await client.chat_postMessage(channel=GENERAL, text="b")
    history = await client.conversations_history(channel=GENERAL)
    assert [m["text"] for m in history["messages"]] == ["b", "a"]


async def test_ephemeral_is_recorded(fake: FakeSlack, client: AsyncWebClient) -> None:
    """chat.postEphemeral returns a message_ts and records who saw what."""
    response = await client.chat_postEphemeral(channel=GENERAL, user="U1", text="only you")
    (ephemeral,) = fake.ephemerals
    assert ephemeral.message_ts == response["message_ts"]
    assert (ephemeral.user, ephemeral.text) == ("U1", "only you")
    assert fake.messages(GENERAL) == []


async def test_ephemeral_to_non_member_fails(client: AsyncWebClient) -> None:
    """An ephemeral for someone outside the channel gives user_not_in_channel."""
    with pytest.raises(SlackApiError) as info:
        await client.chat_postEphemeral(channel=GENERAL, user="U9", text="x")
    assert error_of(info) == "user_not_in_channel"


async def test_permalink_of_reply_names_thread(client: AsyncWebClient) -> None:
    """A reply's permalink carries its thread_ts and channel."""
    parent = await client.chat_postMessage(channel=GENERAL, text="p")
    reply = await client.chat_postMessage(channel=GENERAL, text="r", thread_ts=parent["ts"])
    link = await client.chat_getPermalink(channel=GENERAL, message_ts=reply["ts"])
    assert link["permalink"] == (
        f"https://fake.slack.com/archives/{GENERAL}/p{reply['ts'].replace('.', '')}"
        f"?thread_ts={parent['ts']}&cid={GENERAL}"
    )


async def test_reactions_add_once(fake: FakeSlack, client: AsyncWebClient) -> None:
    """reactions.add stores the reaction and refuses the same one twice."""
    posted = await client.chat_postMessage(channel=GENERAL, text="x")
    await client.reactions_add(channel=GENERAL, name="white_check_mark", timestamp=posted["ts"])
    with pytest.raises(SlackApiError) as info:
        await client.reactions_add(channel=GENERAL, name="white_check_mark", timestamp=posted["ts"])
    assert error_of(info) == "already_reacted"
    assert fake.message(GENERAL, posted["ts"]).reactions == ("white_check_mark",)


# --- channels, files, views, users ----------------------------------------------------------


async def test_join_public_channel(fake: FakeSlack, client: AsyncWebClient) -> None:
    """conversations.join makes the bot a member; joining again only warns."""
    first = await client.conversations_join(channel=OUTSIDE)
    again = await client.conversations_join(channel=OUTSIDE)
    assert first["channel"]["is_member"]
    assert "warning" not in first.data
    assert again["warning"] == "already_in_channel"
    assert fake.channel(OUTSIDE).bot_is_member


async def test_join_private_channel_fails(client: AsyncWebClient) -> None:
    """A private channel cannot be joined, and one the bot is not in does not exist for it."""
    with pytest.raises(SlackApiError) as hidden:
        await client.conversations_join(channel=HIDDEN)
    with pytest.raises(SlackApiError) as member:
        await client.conversations_join(channel=SECRET)
    assert error_of(hidden) == "channel_not_found"
    assert error_of(member) == "method_not_supported_for_channel_type"


async def test_conversations_open_gives_one_dm_per_user(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """conversations.open opens the bot's DM with a user once; again it says already_open."""
    first = await client.conversations_open(users="U1")
    again = await client.conversations_open(users="U1")
    dm = first["channel"]["id"]
    assert dm.startswith("D")
    assert again["channel"]["id"] == dm
    assert "already_open" not in first.data
    assert again["already_open"]
    await client.chat_postMessage(channel=dm, text="hello")
    assert [m.text for m in fake.messages(dm)] == ["hello"]


async def test_dm_between_people_refuses_the_bot() -> None:
    """A DM between two people the bot is not in: its posts there get channel_not_found."""
    people = Channel(id="D0PEOPLE", name="directmessage", is_im=True, bot_is_member=False)
    async with FakeSlack(channels=[people]) as fake:
        other = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        with pytest.raises(SlackApiError) as refused:
            await other.chat_postMessage(channel="D0PEOPLE", text="hi")
        with pytest.raises(SlackApiError) as join:
            await other.conversations_join(channel="D0PEOPLE")
    assert error_of(refused) == "channel_not_found"
    assert error_of(join) == "channel_not_found"


async def test_conversations_open_needs_im_write() -> None:
    """Without the im:write scope, conversations.open is refused with missing_scope."""
    async with FakeSlack(scopes=("chat:write",)) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        with pytest.raises(SlackApiError) as refused:
            await client.conversations_open(users="U1")
    assert error_of(refused) == "missing_scope"


async def test_conversations_info(client: AsyncWebClient) -> None:
    """conversations.info describes a channel the bot can see."""
    info = await client.conversations_info(channel=SECRET)
    assert info["channel"]["is_private"]
    assert info["channel"]["name"] == "secret"


async def test_conversations_members_pages_like_slack(fake: FakeSlack) -> None:
    """conversations.members lists a channel's members, bot included, in pages with a cursor."""
    fake.add_channel(
        Channel(id="G0TEAM", name="team", is_private=True, members=frozenset({"U3", "U1", "U2"}))
    )
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
    first = await client.conversations_members(channel="G0TEAM", limit=2)
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_members(channel="G0TEAM", limit=2, cursor=cursor)
    assert first["members"] + second["members"] == sorted(["U1", "U2", "U3", fake.identity.user_id])
    assert second["response_metadata"]["next_cursor"] == ""


async def test_conversations_members_refuses_channels_the_bot_cannot_see(
    client: AsyncWebClient,
) -> None:
    """A private channel the bot is not in does not exist for conversations.members."""
    with pytest.raises(SlackApiError) as hidden:
        await client.conversations_members(channel=HIDDEN)
    assert error_of(hidden) == "channel_not_found"


async def test_reading_about_a_private_channel_needs_groups_read() -> None:
    """Without groups:read, conversations.members and .info refuse private channels."""
    async with FakeSlack(channels=CHANNELS, scopes=["chat:write", "channels:read"]) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        with pytest.raises(SlackApiError) as members:
            await client.conversations_members(channel=SECRET)
        with pytest.raises(SlackApiError) as info:
            await client.conversations_info(channel=SECRET)
        assert (error_of(members), error_of(info)) == ("missing_scope", "missing_scope")
        assert (await client.conversations_info(channel=GENERAL))["channel"]["id"] == GENERAL


async def test_files_upload_v2_into_thread(fake: FakeSlack, client: AsyncWebClient) -> None:
    """files_upload_v2 reserves a URL on the fake, uploads the bytes and shares into the thread."""
    parent = await client.chat_postMessage(channel=GENERAL, text="job")
    response = await client.files_upload_v2(
        channel=GENERAL,
        thread_ts=parent["ts"],
        content=b"\x89PNG fake chart",
        filename="chart.png",
        title="Accuracy",
        initial_comment="Training curve",
    )
    (uploaded,) = fake.files
    assert response["file"]["id"] == uploaded.id
    assert uploaded.data == b"\x89PNG fake chart"
    assert (uploaded.channel, uploaded.thread_ts, uploaded.title) == (
        GENERAL,
        parent["ts"],
        "Accuracy",
    )
    assert fake.thread(GENERAL, parent["ts"])[1].files == (uploaded.id,)


async def test_file_share_needs_membership(client: AsyncWebClient) -> None:
    """Sharing a file into a public channel the bot is not in gives not_in_channel."""
    with pytest.raises(SlackApiError) as info:
        await client.files_upload_v2(channel=OUTSIDE, content=b"x", filename="a.txt")
    assert error_of(info) == "not_in_channel"


async def test_views_open_update_publish(fake: FakeSlack, client: AsyncWebClient) -> None:
    """views.open/update/publish are recorded; a trigger id works once."""
    modal = {"type": "modal", "title": plain("Retrain"), "blocks": []}
    opened = await client.views_open(trigger_id="1.2.abc", view=modal)
    updated = await client.views_update(
        view_id=opened["view"]["id"], hash=opened["view"]["hash"], view=modal
    )
    await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id="1.2.abc", view=modal)
    assert error_of(info) == "exchanged_trigger_id"
    assert updated["view"]["id"] == opened["view"]["id"]
    assert [(v.action, v.title) for v in fake.views] == [
        ("open", "Retrain"),
        ("update", "Retrain"),
        ("publish", "home"),
    ]


@pytest.mark.parametrize(
    "element",
    [
        {
            "type": "static_select",
            "options": [{"text": plain("Yes"), "value": "true"}],
            "initial_option": {"text": plain("Yes"), "value": "yes"},
        },
        {"type": "number_input", "is_decimal_allowed": True, "initial_value": "1e-05"},
        {"type": "number_input", "is_decimal_allowed": False, "initial_value": "0.5"},
    ],
)
async def test_views_open_refuses_a_bad_initial_value(
    client: AsyncWebClient, element: dict[str, object]
) -> None:
    """A prefilled select must start on one of its options, a number field on a number."""
    block = {"type": "input", "block_id": "b", "label": plain("L"), "element": element}
    modal = {"type": "modal", "title": plain("Retrain"), "blocks": [block]}
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id="1.2.abc", view=modal)
    assert error_of(info) == "invalid_blocks"


async def test_usergroups_and_users(client: AsyncWebClient) -> None:
    """usergroups.users.list returns configured members; users.info a minimal profile."""
    group = await client.usergroups_users_list(usergroup="S0ML")
    user = await client.users_info(user="U1")
    with pytest.raises(SlackApiError) as info:
        await client.usergroups_users_list(usergroup="S0NONE")
    assert group["users"] == ["U1", "U2"]
    assert user["user"]["id"] == "U1"
    assert error_of(info) == "no_such_subteam"


async def test_auth_test_reports_identity_and_scopes(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """auth.test (sent as query params) returns the bot identity and the scopes header."""
    response = await client.auth_test()
    assert response["bot_id"] == fake.identity.bot_id
    assert response["user_id"] == fake.identity.user_id
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")


async def test_form_body_with_token_param(fake: FakeSlack) -> None:
    """Args and the token can come as a form body, as older clients send them."""
    async with aiohttp.ClientSession() as session:
        form = {"token": "xoxb-form", "channel": GENERAL, "text": "from a form"}
        async with session.post(f"{fake.api_url}chat.postMessage", data=form) as response:
            body = await response.json()
    assert body["ok"]
    assert fake.messages(GENERAL)[0].text == "from a form"


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0NOPE", "channel_not_found"),
        (HIDDEN, "channel_not_found"),
        (ARCHIVED, "is_archived"),
    ],
)
async def test_post_refused_by_channel(client: AsyncWebClient, channel: str, error: str) -> None:
    """Posting where the bot may not gives Slack's error for that channel."""
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=channel, text="x")
    assert error_of(info) == error


async def test_public_channel_needs_chat_write_public() -> None:
    """Without chat:write.public, a public channel the bot is not in gives not_in_channel."""
    async with FakeSlack(channels=CHANNELS, scopes=["chat:write"]) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel=OUTSIDE, text="x")
    assert error_of(info) == "not_in_channel"


async def test_public_channel_accepts_non_member_post(client: AsyncWebClient) -> None:
    """With chat:write.public (the default), a public channel accepts a non-member's post."""
    response = await client.chat_postMessage(channel=OUTSIDE, text="x")
    assert response["ok"]


@pytest.mark.parametrize("token", ["xoxp-user", "xoxb-other"])
async def test_bad_token_is_refused(token: str) -> None:
    """Tokens outside the configured set give invalid_auth."""
    async with FakeSlack(tokens={"xoxb-good"}) as strict:
        client = AsyncWebClient(token=token, base_url=strict.api_url)
        with pytest.raises(SlackApiError) as info:
            await client.auth_test()
    assert error_of(info) == "invalid_auth"


async def test_missing_token_is_not_authed(fake: FakeSlack) -> None:
    """A call without any token gives not_authed."""
    with pytest.raises(SlackApiError) as info:
        await AsyncWebClient(base_url=fake.api_url).auth_test()
    assert error_of(info) == "not_authed"


async def test_too_many_blocks(client: AsyncWebClient) -> None:
    """51 blocks give invalid_blocks with a pointer in response_metadata."""
    blocks = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=GENERAL, text="x", blocks=blocks)
    assert error_of(info) == "invalid_blocks"
    assert "50" in info.value.response["response_metadata"]["messages"][0]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, "no_text"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"blocks": [{"type": "header", "text": plain("h" * 151)}]}, "invalid_blocks"),
        ({"blocks": [{"type": "section", "text": mrkdwn("s" * 3001)}]}, "invalid_blocks"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
async def test_post_content_limits(
    client: AsyncWebClient, kwargs: dict[str, Any], error: str
) -> None:
    """Empty or oversized content gives Slack's error code."""
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=GENERAL, **kwargs)
    assert error_of(info) == error


async def test_cannot_update_someone_elses_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    """chat.update on a human's message gives cant_update_message; an unknown ts not_found."""
    human = fake.add_message(GENERAL, text="hello", user="U1")
    with pytest.raises(SlackApiError) as theirs:
        await client.chat_update(channel=GENERAL, ts=human.ts, text="x")
    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel=GENERAL, ts="1700000099.000100", text="x")
    assert error_of(theirs) == "cant_update_message"
    assert error_of(missing) == "message_not_found"


async def test_unknown_method(client: AsyncWebClient) -> None:
    """A method the fake does not know gives unknown_method."""
    with pytest.raises(SlackApiError) as info:
        await client.api_call("chat.scheduleMessage", json={"channel": GENERAL})
    assert error_of(info) == "unknown_method"


# --- rate limits and faults -----------------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after() -> None:
    """Posting faster than the per-channel rate gives HTTP 429 and an integer Retry-After."""
    async with FakeSlack(channels=CHANNELS, post_rate_per_channel=1.0, post_burst=1) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        await client.chat_postMessage(channel=GENERAL, text="one")
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel=GENERAL, text="two")
        other = await client.chat_postMessage(channel=OUTSIDE, text="elsewhere")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "1"
    assert error_of(info) == "ratelimited"
    assert other["ok"]


async def test_rate_limit_refills_with_the_clock() -> None:
    """A token comes back after 1/rate seconds of the injected clock."""
    now = [0.0]
    async with FakeSlack(post_rate_per_channel=1.0, post_burst=1, clock=lambda: now[0]) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        await client.chat_postMessage(channel=GENERAL, text="one")
        now[0] = 1.0
        second = await client.chat_postMessage(channel=GENERAL, text="two")
    assert second["ok"]


async def test_fail_next_scripts_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    """fail_next fails the next calls of a method, then lets them through."""
    fake.fail_next("chat.update", error="edit_window_closed")
    fake.fail_next("chat.postMessage", status=503, times=2)
    posted_after: list[int] = []
    for _ in range(3):
        try:
            await client.chat_postMessage(channel=GENERAL, text="x")
        except SlackApiError as error:
            posted_after.append(error.response.status_code)
    with pytest.raises(SlackApiError) as info:
        await client.chat_update(channel=GENERAL, ts=fake.messages(GENERAL)[0].ts, text="y")
    assert posted_after == [503, 503]
    assert error_of(info) == "edit_window_closed"
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [503, 503, 200]


async def test_fail_next_429_sets_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    """A scripted 429 carries the requested Retry-After and only hits the named channel."""
    fake.fail_next("chat.postMessage", status=429, retry_after=7, channel=OUTSIDE)
    await client.chat_postMessage(channel=GENERAL, text="unaffected")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=OUTSIDE, text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"


async def test_fault_rate_fails_a_fraction(fake: FakeSlack, client: AsyncWebClient) -> None:
    """fault_rate(1.0) fails every call of the chosen methods; fault_rate(0) heals."""
    fake.fault_rate(1.0, methods={"chat.postMessage"}, statuses=(500,), seed=1)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=GENERAL, text="x")
    assert (await client.auth_test())["ok"]
    fake.fault_rate(0)
    assert (await client.chat_postMessage(channel=GENERAL, text="x"))["ok"]
    assert info.value.response.status_code == 500


# --- response_url ---------------------------------------------------------------------------


async def test_response_url_records_posts(fake: FakeSlack) -> None:
    """POSTs to a minted response_url are recorded with their payload."""
    url = fake.response_url()
    webhook = AsyncWebhookClient(url)
    response = await webhook.send(text="Queued", response_type="in_channel", replace_original=False)
    (post,) = fake.responses[url]
    assert (response.status_code, response.body) == (200, "ok")
    assert (post.text, post.response_type, post.replace_original, post.use) == (
        "Queued",
        "in_channel",
        False,
        1,
    )


async def test_response_url_allows_five_uses(fake: FakeSlack) -> None:
    """The sixth POST to a response_url is refused, as Slack allows five."""
    url = fake.response_url()
    webhook = AsyncWebhookClient(url)
    statuses = [(await webhook.send(text=f"n{n}")).status_code for n in range(6)]
    assert statuses == [200] * 5 + [404]
    assert len(fake.responses[url]) == 5
    assert fake.calls_to(RESPONSE_URL)[-1].error == "used_url"


async def test_response_url_needs_content(fake: FakeSlack) -> None:
    """A response_url POST without text or blocks gives 400 no_text."""
    webhook = AsyncWebhookClient(fake.response_url())
    response = await webhook.send_dict({"response_type": "ephemeral"})
    assert (response.status_code, response.body) == (400, "no_text")


# --- observer and waiting -------------------------------------------------------------------


async def test_on_event_sees_changes_in_order(fake: FakeSlack, client: AsyncWebClient) -> None:
    """The observer is called for each post and edit, in order."""
    seen: list[SlackEvent] = []
    fake.on_event = seen.append
    posted = await client.chat_postMessage(channel=GENERAL, text="a")
    await client.chat_update(channel=GENERAL, ts=posted["ts"], text="b")
    assert [type(e) for e in seen] == [MessagePosted, MessageUpdated]


async def test_broken_observer_does_not_break_slack(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """An observer that raises is logged, and the call still succeeds."""

    def explode(event: SlackEvent) -> None:
        raise RuntimeError("renderer bug")

    fake.on_event = explode
    assert (await client.chat_postMessage(channel=GENERAL, text="a"))["ok"]


async def test_wait_for_returns_value_or_explains(fake: FakeSlack, client: AsyncWebClient) -> None:
    """wait_for returns the first truthy value; on timeout it lists the recent calls."""
    await client.chat_postMessage(channel=GENERAL, text="a")
    found = await fake.wait_for(lambda: fake.messages(GENERAL))
    with pytest.raises(TimeoutError, match=r"(?s)second message.*chat\.postMessage -> 200 ok"):
        await fake.wait_for(
            lambda: len(fake.messages(GENERAL)) > 1, timeout=0.02, what="second message"
        )
    assert found[0].text == "a"


# --- signed requests ------------------------------------------------------------------------


def test_signature_matches_slack_test_vector() -> None:
    """The signature equals the one in Slack's documentation example."""
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sign_slack_request(
        signing_secret="8f742231b10e8888abcd99yyyzzz85a5", body=body, timestamp=1531420618
    )
    assert headers == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }


def test_slash_command_body_uses_slack_field_order() -> None:
    """The form body lists Slack's fields in the documented order."""
    body = slash_command_body(
        text="train m1", user_id="U1", channel_id=GENERAL, response_url="http://x/r"
    )
    fields = parse_qsl(body.decode(), keep_blank_values=True)
    assert [name for name, _ in fields] == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "response_url",
        "trigger_id",
        "api_app_id",
    ]
    assert dict(fields)["command"] == "/retrain"


async def test_send_slash_command_is_verifiable(unused_tcp_port: int) -> None:
    """A sent command passes slack_sdk's signature check and reports status, body and time."""
    verifier = SignatureVerifier("s3cret")
    received: list[dict[str, str]] = []

    async def endpoint(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verifier.is_valid_request(raw, dict(request.headers)):
            return web.Response(status=401)
        received.append(dict(parse_qsl(raw.decode())))
        return web.json_response({"text": "ok"})

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{unused_tcp_port}/slack/events"
            sent = await send_slash_command(
                session,
                url,
                signing_secret="s3cret",
                text="train m1",
                user_id="U1",
                channel_id=GENERAL,
                response_url="http://x/r",
            )
            clicked = await send_interaction(
                session, url, signing_secret="s3cret", payload={"type": "block_actions"}
            )
    finally:
        await runner.cleanup()
    assert (sent.status, sent.json()) == (200, {"text": "ok"})
    assert sent.elapsed > 0
    assert received[0]["text"] == "train m1"
    assert clicked.status == 200
    assert json.loads(received[1]["payload"]) == {"type": "block_actions"}


def test_interactivity_body_wraps_payload() -> None:
    """An interactivity body is one form field holding the JSON payload."""
    body = interactivity_body({"type": "view_submission", "view": {"id": "V1"}})
    ((name, value),) = parse_qsl(body.decode())
    assert name == "payload"
    assert json.loads(value) == {"type": "view_submission", "view": {"id": "V1"}}


# --- rendering ------------------------------------------------------------------------------


def test_render_header_section_context_actions() -> None:
    """A typical job message renders as readable plain text."""
    blocks = [
        {"type": "header", "text": plain("Retraining intents")},
        {
            "type": "section",
            "text": mrkdwn("*Status:* running for <@U1> in <#C1|ml>"),
            "fields": [mrkdwn("*Model*\n`m-42`"), mrkdwn("*Epochs*\n3/10")],
        },
        {"type": "context", "elements": [mrkdwn(":hourglass: <https://x.io|logs>")]},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": plain("Cancel"), "style": "danger"},
                {"type": "button", "text": plain("Details")},
            ],
        },
    ]
    assert render_message(text="fallback", blocks=blocks, width=40) == "\n".join(
        [
            "Retraining intents",
            "══════════════════",
            "Status: running for @U1 in #ml",
            "Model                Epochs",
            "`m-42`               3/10",
            "⌛ logs (https://x.io)",
            "[ Cancel ] [ Details ]",
        ]
    )


def test_render_text_only_wraps_and_converts() -> None:
    """Without blocks the mrkdwn text is converted and wrapped."""
    rendered = render_message(text="_hi_ &lt;there&gt; :rocket: <!here>", blocks=None, width=80)
    assert rendered == "hi <there> 🚀 @here"


def test_render_color_adds_ansi_only_when_asked() -> None:
    """ANSI escapes appear with color=True and never without."""
    plain = render_message(text="*bold*", blocks=None)
    colored = render_message(text="*bold*", blocks=None, color=True)
    assert plain == "bold"
    assert colored == "\x1b[1mbold\x1b[0m"


async def test_render_event_for_reply_and_ephemeral(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """Events render as a headline with the message indented below."""
    parent = await client.chat_postMessage(channel=GENERAL, text="job")
    await client.chat_postMessage(channel=GENERAL, text="step 1", thread_ts=parent["ts"])
    await client.chat_postEphemeral(channel=GENERAL, user="U1", text="psst")
    lines = [render_event(event) for event in fake.events]
    assert lines == [
        f"#{GENERAL} ▸ new message (ts {parent['ts']})\n    job",
        f"#{GENERAL} ▸ thread reply to {parent['ts']} (ts 1700000000.000200)\n    step 1",
        f"#{GENERAL} ▸ private to <@U1>:\n    psst",
    ]


async def test_render_event_for_file_view_and_response(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    """File shares, modals and response_url posts get their own headlines."""
    parent = await client.chat_postMessage(channel=GENERAL, text="job")
    await client.files_upload_v2(
        channel=GENERAL, thread_ts=parent["ts"], content=b"abc", filename="chart.png"
    )
    await client.views_open(trigger_id="t1", view={"type": "modal", "title": plain("Retrain")})
    await AsyncWebhookClient(fake.response_url()).send(text="Queued", response_type="in_channel")
    headlines = [render_event(event).split("\n")[0] for event in fake.events[1:]]
    assert headlines == [
        f"#{GENERAL} ▸ file chart.png (3 bytes) in thread {parent['ts']}",
        "modal opened: Retrain",
        "response_url ▸ in_channel:",
    ]


# --- more faults ----------------------------------------------------------------------------


async def test_upload_url_fault_fails_the_upload(fake: FakeSlack, client: AsyncWebClient) -> None:
    """A scripted 500 on the upload URL makes files_upload_v2 raise and completes nothing."""
    fake.fail_next(UPLOAD_URL, status=500)
    with pytest.raises(SlackRequestError):
        await client.files_upload_v2(channel=GENERAL, content=b"x", filename="a.txt")
    assert fake.files == []


async def test_response_url_expires_after_thirty_minutes() -> None:
    """A response_url older than 30 minutes of the injected clock answers 404 expired_url."""
    now = [0.0]
    async with FakeSlack(clock=lambda: now[0]) as fake:
        webhook = AsyncWebhookClient(fake.response_url())
        now[0] = 30 * 60 + 1
        response = await webhook.send(text="too late")
    assert (response.status_code, response.body) == (404, "expired_url")


# --- with Bolt ------------------------------------------------------------------------------


async def test_bolt_app_round_trip(
    fake: FakeSlack, unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Bolt app accepts the signed command, click and submission, and answers via the fake."""
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    app = AsyncApp(
        signing_secret="s3cret",
        client=AsyncWebClient(token="xoxb-test", base_url=fake.api_url),
    )

    @app.command("/retrain")
    async def on_command(ack: Any, respond: Any, command: dict[str, str]) -> None:
        await ack()
        await respond(text=f"Queued {command['text']}", response_type="in_channel")

    @app.action("cancel")
    async def on_cancel(ack: Any, say: Any, body: dict[str, Any]) -> None:
        await ack()
        await say(text=f"cancelled {body['actions'][0]['value']}")

    @app.view("retrain_modal")
    async def on_submit(ack: Any, view: dict[str, Any]) -> None:
        await ack()
        await fake_seen.put(view["state"]["values"]["model"]["id"]["value"])

    fake_seen: asyncio.Queue[str] = asyncio.Queue()
    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    url = f"http://127.0.0.1:{unused_tcp_port}/slack/events"
    response_url = fake.response_url()
    try:
        async with aiohttp.ClientSession() as session:
            command = await send_slash_command(
                session,
                url,
                signing_secret="s3cret",
                text="intents",
                user_id="U1",
                channel_id=GENERAL,
                response_url=response_url,
            )
            click = await send_interaction(
                session,
                url,
                signing_secret="s3cret",
                payload=block_actions_payload(
                    action_id="cancel",
                    value="job-1",
                    user_id="U1",
                    channel_id=GENERAL,
                    message_ts="1700000000.000100",
                    response_url=fake.response_url(),
                ),
            )
            submit = await send_interaction(
                session,
                url,
                signing_secret="s3cret",
                payload=view_submission_payload(
                    callback_id="retrain_modal",
                    user_id="U1",
                    values={"model": {"id": {"type": "plain_text_input", "value": "m-1"}}},
                ),
            )
            await fake.wait_for(lambda: fake.responses[response_url], what="respond()")
            await fake.wait_for(lambda: fake.messages(GENERAL), what="say()")
            submitted = await asyncio.wait_for(fake_seen.get(), timeout=2)
    finally:
        await runner.cleanup()
    assert (command.status, click.status, submit.status) == (200, 200, 200)
    assert fake.responses[response_url][0].text == "Queued intents"
    assert fake.messages(GENERAL)[0].text == "cancelled job-1"
    assert submitted == "m-1"
