"""Who may retrain what, end to end: allow lists, policy rules, rate limit, approvals, audit."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import pytest

from bot.core.jobs import Job
from bot.fakes.slack import send_interaction, view_submission_payload
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.views import reject_form
from bot.store.audit import AuditKind, AuditLog
from tests.conftest import CHANNEL, SIGNING_SECRET, USER, Stack
from tests.test_interactions import click, private_to, wait_job, wait_private_to

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
PROD = "PRODAAAAAAAAAAAAAAAAAAAAAA"
OTHER = "U0OTHER0001"
APPROVER = "U0APPROVER1"

POLICY = Path(tempfile.mkdtemp(prefix="retrain-policy-")) / "policy.yml"
POLICY.write_text(
    """models:
  - match: "PROD*"
    protected: true
    approvers: [U0APPROVER1]
    max_epochs: 200
    feedback: false
  - match: "GRP*"
    allow_groups: [S0TEAM0001]
""",
    encoding="utf-8",
)


async def _kinds(stack: Stack) -> list[str]:
    return [str(e.kind) for e in await AuditLog(stack.bot.store).events()]


async def _wait_kind(stack: Stack, kind: AuditKind, *, timeout: float = 5.0) -> list[str]:
    """The trail's kinds once it holds `kind`: a refusal in the ack is recorded after it."""
    deadline = time.monotonic() + timeout
    while kind not in (kinds := await _kinds(stack)):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no {kind} entry in the audit trail after {timeout} s: {kinds}")
        await asyncio.sleep(0.02)
    return kinds


@pytest.mark.settings(retrain_allowed_users=USER)
async def test_allowed_user_passes_and_other_is_refused_in_the_ack(stack: Stack) -> None:
    """A listed user retrains; anyone else is refused privately, at once, with no API call."""
    stack.simulator.add_model(MODEL)
    answer, _ = await stack.command(MODEL, user=OTHER)
    assert "not started" in answer.body
    assert "allow list" in answer.body.lower() or "RETRAIN_ALLOWED_USERS" in answer.body
    kinds = await _wait_kind(stack, AuditKind.DENIED)
    assert kinds == ["command", "denied"], "the refusal is recorded and nothing else happens"
    assert stack.simulator.calls("retrain") == []
    answer, _ = await stack.command(MODEL)
    assert "Submitting" in answer.body
    [job] = await stack.wait_final()
    assert job.status == "SUCCEEDED"


@pytest.mark.settings(retrain_allowed_channels="C0ELSEWHERE")
async def test_channel_must_pass(stack: Stack) -> None:
    """A retrain typed in a channel not on the list is refused, naming the variable."""
    answer, _ = await stack.command(MODEL)
    assert "RETRAIN_ALLOWED_CHANNELS" in answer.body
    assert stack.simulator.calls("retrain") == []


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_group_rule_resolves_membership_through_slack(stack: Stack) -> None:
    """A group member passes; a non-member is refused in the ack, after Slack lists the group."""
    model = "GRPAAAAAAAAAAAAAAAAAAAAAAA"
    stack.simulator.add_model(model)
    stack.usergroups["S0TEAM0001"] = [USER]
    answer, _ = await stack.command(model, user=OTHER)
    assert "not started" in answer.body
    assert "allow list" in answer.body
    assert "GRP*" in answer.body
    await stack.command(model)
    [job] = await stack.wait_final()
    assert job.requester == USER
    assert stack.slack.calls_to("usergroups.users.list")


@pytest.mark.settings(retrain_policy_file=str(POLICY))
@pytest.mark.parametrize(
    ("options", "words"),
    [
        ("epochs=500", "at most 200 epochs"),
        ("epochs=100 feedback=true", "feedback=true"),
        ("", "epochs="),
    ],
)
async def test_model_rule_limits(stack: Stack, options: str, words: str) -> None:
    """The model's rule refuses too many epochs (or none given) and feedback, saying which rule."""
    answer, _ = await stack.command(f"{PROD} {options}")
    assert words in answer.body
    assert "PROD*" in answer.body
    assert stack.simulator.calls("retrain") == []


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_refusal_names_every_broken_rule(stack: Stack) -> None:
    """`epochs=500 feedback=true` is refused once for both rules; the trail lists both."""
    answer, _ = await stack.command(f"{PROD} epochs=500 feedback=true")
    assert "It breaks 2 rules" in answer.body
    assert "use `epochs=200` or fewer" in answer.body
    assert "use `feedback=false`" in answer.body
    await _wait_kind(stack, AuditKind.DENIED)
    [denied] = await AuditLog(stack.bot.store).events(kinds=[AuditKind.DENIED])
    assert denied.outcome is not None
    assert "epochs=200" in denied.outcome
    assert "feedback=false" in denied.outcome
    assert len(denied.detail["broken"]) == 2
    assert stack.simulator.calls("retrain") == []


@pytest.mark.settings(retrain_policy_file=str(POLICY), retrain_user_rate="1/hour")
async def test_refusal_names_the_rate_limit_with_the_rules(stack: Stack) -> None:
    """Past the rate limit and over a rule's epochs, one refusal names both."""
    stack.simulator.add_model(MODEL)
    await stack.command(MODEL)
    await stack.wait_final()
    answer, _ = await stack.command(f"{PROD} epochs=500")
    assert "It breaks 2 rules" in answer.body
    assert "at most 200 epochs" in answer.body
    assert "1/hour" in answer.body
    assert len(stack.simulator.calls("retrain")) == 1


@pytest.mark.settings(retrain_user_rate="1/hour")
async def test_rate_limit(stack: Stack) -> None:
    """A second retrain within the window is refused privately with when the next is possible."""
    stack.simulator.add_model(MODEL)
    other_model = stack.simulator.add_model()
    await stack.command(MODEL)
    await stack.wait_final()
    answer, _ = await stack.command(other_model)
    assert "not started" in answer.body
    assert "1/hour" in answer.body
    assert len(stack.simulator.calls("retrain")) == 1


async def _approval_card(stack: Stack) -> Job:
    stack.simulator.add_model(PROD)
    await stack.command(f"{PROD} epochs=50")
    return await wait_job(
        stack,
        lambda j: (
            j.status == "AWAITING_APPROVAL"
            and j.parent_ts is not None
            and "AWAITING_APPROVAL" in j.reported
        ),
    )


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_approval_flow(stack: Stack) -> None:
    """A protected model waits for approval; the requester cannot approve; the approver can,
    and the job continues in the same thread."""
    job = await _approval_card(stack)
    [card] = stack.cards()
    assert "Awaiting approval" in card.text or "Awaiting approval" in str(card.blocks)
    assert "Approve" in str(card.blocks)
    assert stack.simulator.calls("retrain") == []
    await click(stack, ActionId.APPROVE, job, user=USER)
    assert "cannot approve your own" in await wait_private_to(stack, USER, "approve")
    await click(stack, ActionId.APPROVE, job, user=OTHER)
    assert "Only the approvers" in await wait_private_to(stack, OTHER, "approvers")
    denied = await AuditLog(stack.bot.store).events(kinds=[AuditKind.DENIED])
    assert {e.actor for e in denied} == {USER, OTHER}, "refused approvals are in the trail"
    await click(stack, ActionId.APPROVE, job, user=APPROVER)
    [final] = await stack.wait_final()
    assert final.approver == APPROVER
    assert final.status == "SUCCEEDED"
    assert len(stack.simulator.calls("retrain")) == 1
    assert [c.ts for c in stack.cards()] == [card.ts], "the thread continues under that card"
    assert any("approved the retrain" in r.text for r in stack.replies())
    _, url = await stack.command(f"history {PROD}")
    assert f"approved by <@{APPROVER}>" in await stack.wait_private(url)
    kinds = await _kinds(stack)
    assert (
        kinds.index("approval_requested")
        < kinds.index("approved")
        < kinds.index("submitted")
        < kinds.index("outcome")
        if "approval_requested" in kinds
        else (kinds.index("approved") < kinds.index("submitted") < kinds.index("outcome"))
    )


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_reject_with_reason(stack: Stack) -> None:
    """The approver rejects with a reason: the thread says so and Einstein is never called."""
    job = await _approval_card(stack)
    await click(stack, ActionId.REJECT, job, user=APPROVER)
    view = await stack.slack.wait_for(lambda: stack.slack.views, timeout=5)
    assert view[-1].view["callback_id"] == CallbackId.REJECT_MODAL
    metadata = reject_form(job_id=job.id, channel=CHANNEL, model_id=PROD)["private_metadata"]
    payload = view_submission_payload(
        callback_id=CallbackId.REJECT_MODAL,
        user_id=APPROVER,
        private_metadata=metadata,
        values={
            BlockId.REASON: {
                ActionId.FORM_FIELD: {"type": "plain_text_input", "value": "not before the release"}
            }
        },
    )
    answer = await send_interaction(
        stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload
    )
    assert answer.status == 200
    [final] = await stack.wait_final()
    assert final.status == "DECLINED"
    assert any("not before the release" in r.text for r in stack.replies())
    assert stack.simulator.calls("retrain") == []
    assert "approval_rejected" in await _kinds(stack)


@pytest.mark.settings(retrain_policy_file=str(POLICY), retrain_approval_ttl=0.3)
async def test_approval_expires(stack: Stack) -> None:
    """Nobody approves in time: the job ends, the thread says so, nothing reaches Einstein."""
    job = await _approval_card(stack)
    [final] = await stack.wait_final()
    assert final.id == job.id
    assert final.status == "EXPIRED"
    assert any("in time" in r.text for r in stack.replies())
    await click(stack, ActionId.APPROVE, job, user=APPROVER)
    assert "no longer waits" in await wait_private_to(stack, APPROVER, "no longer")
    assert stack.simulator.calls("retrain") == []
    assert "approval_expired" in await _kinds(stack)


async def test_history_and_audit_of_a_full_run(stack: Stack) -> None:
    """The trail records command, submission, state changes and outcome; history lists it."""
    stack.simulator.add_model(MODEL)
    await stack.command(f"{MODEL} split=0.7")
    await stack.wait_final()
    kinds = await _kinds(stack)
    assert kinds[:2] == ["command", "submitted"]
    assert kinds[-1] == "outcome"
    assert "state" in kinds
    _, url = await stack.command("history")
    text = await stack.wait_private(url)
    assert MODEL in text
    assert f"by <@{USER}>" in text
    assert "macro F1" in text
    assert private_to(stack, OTHER) == []
