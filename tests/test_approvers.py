"""Approvals reach the approvers: user groups as approvers, mentioned on the card, and one
reminder in the card's thread half-way to the approval's expiry, whichever process follows it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bot.core.jobs import Job
from bot.fakes.slack import Message
from bot.slack.ids import ActionId
from bot.slack.texts import mention_all
from bot.store.audit import AuditKind, AuditLog
from tests.conftest import USER, Stack
from tests.test_interactions import another_bot, click, wait_job, wait_private_to

MODEL = "GAPAAAAAAAAAAAAAAAAAAAAAAA"
GROUP = "S0APPROVERS"
APPROVER = "U0APPROVER2"
OTHER = "U0OTHER0004"

POLICY = Path(tempfile.mkdtemp(prefix="retrain-policy-")) / "policy.yml"
POLICY.write_text(
    f"""models:
  - match: "GAP*"
    protected: true
    approvers: [{GROUP}]
  - match: "GAL*"
    protected: true
    allow_groups: [S0ALLOWED]
""",
    encoding="utf-8",
)
MENTION = f"<!subteam^{GROUP}>"


async def _request(stack: Stack) -> Job:
    stack.usergroups[GROUP] = [APPROVER, USER]
    stack.simulator.add_model(MODEL)
    answer, _ = await stack.command(MODEL)
    assert "needs an approval" in answer.body
    return await wait_job(
        stack,
        lambda j: j.status == "AWAITING_APPROVAL" and "AWAITING_APPROVAL" in j.reported,
    )


def _reminders(stack: Stack) -> list[Message]:
    return [r for r in stack.replies() if "Reminder" in r.text]


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_card_mentions_the_approver_group(stack: Stack) -> None:
    """The approval card's first post mentions the approvers' user group, so its members hear."""
    await _request(stack)
    [first_post] = [
        c for c in stack.slack.calls_to("chat.postMessage") if "thread_ts" not in c.args
    ]
    assert MENTION in str(first_post.args["text"])
    assert MENTION in str(first_post.args["blocks"])
    assert not any(MENTION in reply.text for reply in stack.replies()), "mentioned once"


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_card_mentions_the_allowed_group_when_no_approvers_are_listed(stack: Stack) -> None:
    """Without an approvers list, the card mentions the model's allowed group, who may approve."""
    model = "GALAAAAAAAAAAAAAAAAAAAAAAA"
    stack.usergroups["S0ALLOWED"] = [USER, APPROVER]
    stack.simulator.add_model(model)
    await stack.command(model)
    await wait_job(stack, lambda j: j.status == "AWAITING_APPROVAL" and j.parent_ts is not None)
    [card] = stack.cards()
    assert "<!subteam^S0ALLOWED>" in card.text
    assert "Anyone allowed to retrain this model" in card.text


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_a_member_of_the_approver_group_approves(stack: Stack) -> None:
    """A member of the listed group may approve; someone outside it may not."""
    job = await _request(stack)
    await click(stack, ActionId.APPROVE, job, user=OTHER)
    assert "Only the approvers" in await wait_private_to(stack, OTHER, "approvers")
    await click(stack, ActionId.APPROVE, job, user=APPROVER)
    [final] = await stack.wait_final()
    assert (final.status, final.approver) == ("SUCCEEDED", APPROVER)


@pytest.mark.settings(retrain_policy_file=str(POLICY), retrain_approval_ttl=1.2)
async def test_one_reminder_half_way_mentions_the_approvers(stack: Stack) -> None:
    """Half-way to expiry the thread gets one reminder mentioning the group; no second one."""
    job = await _request(stack)
    [reminder] = await stack.slack.wait_for(lambda: _reminders(stack), timeout=3, what="reminder")
    assert reminder.thread_ts == job.parent_ts
    assert MENTION in reminder.text
    [final] = await stack.wait_final()
    assert final.status == "EXPIRED"
    assert len(_reminders(stack)) == 1
    assert "approval_expired" in [str(e.kind) for e in await AuditLog(stack.bot.store).events()]


@pytest.mark.settings(retrain_policy_file=str(POLICY), retrain_approval_ttl=3600)
async def test_no_reminder_before_half_the_time(stack: Stack) -> None:
    """An approval given early ends the wait without any reminder."""
    job = await _request(stack)
    await click(stack, ActionId.APPROVE, job, user=APPROVER)
    await stack.wait_final()
    assert _reminders(stack) == []


@pytest.mark.settings(retrain_policy_file=str(POLICY), retrain_approval_ttl=1.5)
async def test_reminder_is_sent_once_across_a_restart(stack: Stack) -> None:
    """Reminded, then restarted: the next process follows the job to expiry without a second."""
    job = await _request(stack)
    await wait_job(stack, lambda j: j.id == job.id and "REMINDER" in j.reported)
    await stack.bot.stop()  # gives the job's lease back, as a clean shutdown does
    async with another_bot(stack) as (bot, _):
        final = await wait_job(
            stack, lambda j: j.status == "EXPIRED" and "EXPIRED" in j.reported, bot=bot
        )
    assert final.id == job.id
    assert len(_reminders(stack)) == 1


@pytest.mark.settings(retrain_policy_file=str(POLICY), retrain_approval_ttl=1.5)
async def test_reminder_is_sent_once_with_two_instances(stack: Stack) -> None:
    """With a second instance on the same database, still one reminder reaches the thread."""
    async with another_bot(stack):
        await _request(stack)
        await stack.wait_final()
    assert len(_reminders(stack)) == 1
    kinds = [str(e.kind) for e in await AuditLog(stack.bot.store).events()]
    assert kinds.count(AuditKind.APPROVAL_EXPIRED) == 1


def test_long_lists_are_mentioned_groups_first_and_counted() -> None:
    """Groups come first; past ten mentions the rest are counted, not pinged."""
    users = [f"U0{n:08d}" for n in range(12)]
    text = mention_all([*users, GROUP])
    assert text.startswith(f"{MENTION}, <@U000000000>")
    assert text.count("<@") == 9
    assert text.endswith(" and 3 more")
