"""Rules that name workspaces, end to end: signed commands and forms from several workspaces
and an Enterprise Grid org reach one served bot, which applies each workspace's rules."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.core.requester import Requester
from bot.fakes.slack import (
    send_interaction,
    sign_slack_request,
    slash_command_fields,
    view_submission_payload,
)
from bot.listeners.workspace import workspace_of
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.store.audit import AuditKind, AuditLog
from tests.conftest import CHANNEL, SIGNING_SECRET, USER, Stack
from tests.test_access import _wait_kind
from tests.test_feedback_shortcut import _model, _open_form, _state
from tests.test_interactions import click, wait_job

HOME = "T0001"  # the fake Slack's own workspace
SECOND = "T0002"
UNNAMED = "T0003"
IN_ORG = "T0009"
ORG = "E0ORG0001"
APPROVER = "U0APPROVER1"
OTHER = "U0OTHER0001"
GUARDED = "APRVAAAAAAAAAAAAAAAAAAAAAA"
ORG_MODEL = "ORGMAAAAAAAAAAAAAAAAAAAAAA"
TAUGHT = "FDBKAAAAAAAAAAAAAAAAAAAAAA"
PLAIN = "7JXCXTRXTMNLJCEF2DR5CJ46QU"

POLICY = Path(tempfile.mkdtemp(prefix="retrain-policy-")) / "policy.yml"
POLICY.write_text(
    f"""models:
  - match: "APRV*"
    teams: [{HOME}]
  - match: "APRV*"
    teams: [{SECOND}]
    protected: true
    approvers: [{APPROVER}]
    allow_channels: [{CHANNEL}]
  - match: "ORGM*"
    teams: [{ORG}]
    max_epochs: 5
  - match: "FDBK*"
    teams: [{ORG}]
""",
    encoding="utf-8",
)


async def command_in_org(stack: Stack, text: str, *, team: str, org: str) -> str:
    """A signed /retrain from a workspace of an Enterprise Grid org, as Slack sends it there
    (`enterprise_id` beside `team_id`); the immediate answer's text."""
    fields = slash_command_fields(
        text=text,
        user_id=USER,
        channel_id=CHANNEL,
        team_id=team,
        response_url=stack.slack.response_url(),
    )
    body = urlencode({**fields, "enterprise_id": org, "enterprise_name": "Acme"}).encode()
    headers = sign_slack_request(
        signing_secret=SIGNING_SECRET, body=body, timestamp=int(time.time())
    )
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with stack.session.post(stack.url, data=body, headers=headers) as answer:
        assert answer.status == 200
        return await answer.text()


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_each_workspace_follows_its_own_rule_for_the_same_models(stack: Stack) -> None:
    """The same model starts at once from one workspace and waits for approval from another;
    the job's workspace decides who approves, wherever the click comes from."""
    stack.simulator.add_model(GUARDED)
    answer, _ = await stack.command(f"{GUARDED} epochs=5", team_id=HOME)
    assert "Submitting" in answer.body
    await stack.wait_final()
    answer, _ = await stack.command(f"{GUARDED} epochs=5", team_id=SECOND)
    assert "needs an approval" in answer.body
    job = await wait_job(
        stack, lambda j: j.status == "AWAITING_APPROVAL" and j.parent_ts is not None
    )
    assert job.team_id == SECOND
    await click(stack, ActionId.APPROVE, job, user=APPROVER)  # a click from the home workspace
    jobs = await stack.wait_final(count=2)
    assert {(j.team_id, j.approver, j.status) for j in jobs} == {
        (HOME, None, "SUCCEEDED"),
        (SECOND, APPROVER, "SUCCEEDED"),
    }


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_a_workspace_no_rule_names_is_refused_plainly_in_the_ack(stack: Stack) -> None:
    """From a workspace none of the model's rules name, the ack refuses and says why, without
    the other workspaces' rules, channels or approvers; Einstein is not called."""
    stack.simulator.add_model(GUARDED)
    answer, _ = await stack.command(f"{GUARDED} epochs=5", team_id=UNNAMED)
    assert "not started" in answer.body
    assert f"from this workspace (`{UNNAMED}`)" in answer.body
    for theirs in (CHANNEL, "APRV*", "rule 2", APPROVER, HOME, SECOND):
        assert theirs not in answer.body
    await _wait_kind(stack, AuditKind.DENIED)
    assert stack.simulator.calls("retrain") == []


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_an_org_rule_holds_in_the_orgs_workspaces(stack: Stack) -> None:
    """A rule naming an Enterprise Grid org applies to a command from any of its workspaces,
    and to none from outside it."""
    stack.simulator.add_model(ORG_MODEL)
    answer = await command_in_org(stack, f"{ORG_MODEL} epochs=50", team=IN_ORG, org=ORG)
    assert "at most 5 epochs" in answer
    assert "ORGM*" in answer
    outside, _ = await stack.command(f"{ORG_MODEL} epochs=5", team_id=IN_ORG)
    assert "from this workspace" in outside.body
    assert stack.simulator.calls("retrain") == []
    answer = await command_in_org(stack, f"{ORG_MODEL} epochs=5", team=IN_ORG, org=ORG)
    assert "Submitting" in answer
    [job] = await stack.wait_final()
    assert (job.team_id, job.status) == (IN_ORG, "SUCCEEDED")


@pytest.mark.settings(retrain_policy_file=str(POLICY), retrain_allowed_users=USER)
async def test_environment_lists_hold_in_every_workspace(stack: Stack) -> None:
    """RETRAIN_ALLOWED_USERS holds in every workspace, for models no rule names and for what a
    workspace's rule leaves out."""
    stack.simulator.add_model(PLAIN)
    for team in (SECOND, UNNAMED):
        answer, _ = await stack.command(PLAIN, user=OTHER, team_id=team)
        assert "RETRAIN_ALLOWED_USERS" in answer.body
    answer, _ = await stack.command(f"{GUARDED} epochs=5", user=OTHER, team_id=HOME)
    assert "RETRAIN_ALLOWED_USERS" in answer.body
    answer, _ = await stack.command(PLAIN, team_id=UNNAMED)
    assert "Submitting" in answer.body
    await stack.wait_final()
    denied = await AuditLog(stack.bot.store).events(kinds=[AuditKind.DENIED])
    assert len(denied) == 3


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_feedback_form_follows_the_submitters_workspace(stack: Stack) -> None:
    """The feedback form is refused from a workspace the model's rules do not name, and
    accepted from a workspace of the org a rule names."""
    model, dataset = _model(stack, TAUGHT)
    view = await _open_form(stack)
    answers = []
    for team, org in ((UNNAMED, None), (IN_ORG, ORG)):
        payload = view_submission_payload(
            callback_id=CallbackId.FEEDBACK_MODAL,
            user_id=USER,
            values=_state(model=model, label="billing"),
            private_metadata=view.view["private_metadata"],
            view_id=view.id,
            team_id=team,
        )
        payload["enterprise"] = {"id": org, "name": "Acme"} if org else None
        sent = await send_interaction(
            stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload
        )
        answers.append(json.loads(sent.body) if sent.body else None)
    refused, accepted = answers
    assert refused["response_action"] == "errors"
    assert "from this workspace" in refused["errors"][BlockId.FEEDBACK_TYPED]
    assert accepted is None, "the form closes; the confirmation comes privately"
    assert stack.simulator.feedback_count(dataset) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"team": {"id": SECOND}, "enterprise": None}, (SECOND, None), id="workspace"),
        pytest.param(
            {"team": {"id": IN_ORG, "enterprise_id": ORG}, "enterprise": {"id": ORG}},
            (IN_ORG, ORG),
            id="grid",
        ),
        pytest.param(
            {"team": None, "user": {"id": USER, "team_id": IN_ORG}, "enterprise": {"id": ORG}},
            (IN_ORG, ORG),
            id="org-wide install",
        ),
        pytest.param({"team": {"id": IN_ORG, "enterprise_id": ORG}}, (IN_ORG, ORG), id="view"),
        pytest.param({}, (None, None), id="none"),
    ],
)
def test_interactions_say_their_workspace(
    body: dict[str, Any], expected: tuple[str | None, str | None]
) -> None:
    """Clicks and forms give their workspace and org, from `user` when an org-wide install
    leaves `team` null."""
    assert workspace_of(body) == expected


def test_a_slash_command_gives_its_org() -> None:
    """A slash command from an Enterprise Grid workspace carries its org to the requester."""
    command = {"user_id": USER, "channel_id": CHANNEL, "team_id": IN_ORG, "enterprise_id": ORG}
    by = Requester.of_command(command)
    assert (by.team_id, by.enterprise_id) == (IN_ORG, ORG)
