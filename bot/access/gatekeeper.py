"""The gatekeeper: applies the access policy with what only I/O can tell.

`bot.access` decides from facts; this module gathers them: the user groups a person belongs
to (Slack's `usergroups.users.list` through `bot.slack.groups`, cached), and how many retrains they
started lately (the job store). When a decision needs neither, it is made without any I/O, so
the slash command's ack can carry it.

A group Slack will not list (refused, or no answer in time) counts as empty, the safe side,
unless an earlier answer about it is at hand: then that one is used, however old.

Every check knows the workspace it is about, since policy-file rules may name workspaces: a
new request's (`team_id`, `enterprise_id`, handed in by the caller), and for an approval or a
stop the job's own, from `Requester.of_job`: the rule that let a training start, not the one
of wherever the click came from, decides who may approve or stop it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.access import AccessPolicy, Decision
from bot.core.jobs import Job, utcnow
from bot.core.options import RetrainOptions
from bot.core.requester import Requester
from bot.errors import SlackError, StoreError
from bot.store.jobs import JobStore

__all__ = ["Gatekeeper", "GroupDirectory"]

log = logging.getLogger(__name__)

_GROUP_TTL = 300.0  # group membership changes rarely; five minutes of staleness is fine


class GroupDirectory(Protocol):
    """Who belongs to a Slack user group (`bot.slack.groups.UserGroups`)."""

    async def group_members(self, group: str) -> frozenset[str]:
        """The group's members; `SlackError` when Slack does not tell."""
        ...


class Gatekeeper:
    """Answers "may this person do this?" for retrains, approvals and stopping."""

    def __init__(
        self,
        *,
        policy: AccessPolicy,
        store: JobStore,
        groups: GroupDirectory,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.policy = policy
        self._store = store
        self._groups = groups
        self._clock = clock
        self._now = now
        self._members: dict[str, tuple[frozenset[str], float]] = {}

    def decide_now(
        self, by: Requester, *, model_id: str, options: RetrainOptions
    ) -> Decision | None:
        """The decision when it needs no I/O (no group lookup, no rate limit); else None."""
        # Checked first: with a rate limit there is no decision without the store anyway.
        if self.policy.rate_limit is not None or self.policy.groups_needed(
            model_id, user=by.user, team_id=by.team_id, enterprise_id=by.enterprise_id
        ):
            return None
        return self._decide(by, frozenset(), model_id=model_id, options=options)

    async def check_retrain(
        self, by: Requester, *, model_id: str, options: RetrainOptions
    ) -> Decision:
        """Allow lists, the model's rule, option limits and the user's rate limit, all of them:
        a refusal names every one the request breaks. `by` says who asks, in which channel
        and which workspace (and Enterprise Grid org)."""
        groups = await self._rule_groups(by, model_id)
        decision = self._decide(by, groups, model_id=model_id, options=options)
        if self.policy.rate_window is None:
            return decision
        now = self._now()
        try:
            recent = await self._store.started_by(by.user, since=now - self.policy.rate_window)
        except StoreError as exc:
            # Without the count the limit cannot be applied; refusing is the safe side.
            log.error("rate limit check failed: %s", exc)
            if not decision.allowed:
                return decision  # refused anyway; the rate can wait until the rest passes
            return Decision.deny(
                "The bot cannot check your retrain rate right now; please try again in a minute."
            )
        return decision.and_also(self.policy.check_rate(recent, now=now))

    async def check_teacher(self, by: Requester, *, model_id: str) -> Decision:
        """Whether `by` may add feedback to `model_id`: whoever may retrain it may teach it,
        by the allow lists and the model's rule (people, channels). No option limit, rate
        limit or approval applies: adding an example retrains nothing."""
        groups = await self._rule_groups(by, model_id)
        return self._decide(by, groups, model_id=model_id, options=None)

    def _decide(
        self,
        by: Requester,
        groups: frozenset[str],
        *,
        model_id: str,
        options: RetrainOptions | None,
    ) -> Decision:
        return self.policy.decide(
            user=by.user,
            user_groups=groups,
            channel=by.channel,
            model_id=model_id,
            options=options,
            team_id=by.team_id,
            enterprise_id=by.enterprise_id,
        )

    async def check_approver(self, job: Job, *, user: str) -> Decision:
        """Whether `user` may approve (or reject) `job`'s retrain, by the rule of its workspace."""
        team_id, enterprise_id = _workspace_of(job)
        rule = self.policy.rule_for(job.model_id, team_id=team_id, enterprise_id=enterprise_id)
        if rule is None or not rule.protected:
            return Decision.deny("This retrain does not need an approval any more.")
        approvers = self.policy.approver_groups_for(
            job.model_id, team_id=team_id, enterprise_id=enterprise_id
        )
        groups = await self._groups_of(user, approvers)
        return self.policy.may_approve(
            rule, approver=user, approver_groups=groups, requester=job.requester
        )

    async def may_stop(self, user: str, job: Job) -> bool:
        """The requester, or anyone allowed to retrain the model in the job's workspace, may
        stop following it."""
        if user == job.requester:
            return True
        team_id, enterprise_id = _workspace_of(job)
        groups = await self._groups_of(
            user, self.policy.groups_for(job.model_id, team_id=team_id, enterprise_id=enterprise_id)
        )
        allowed = self.policy.admits(
            user=user,
            user_groups=groups,
            model_id=job.model_id,
            team_id=team_id,
            enterprise_id=enterprise_id,
        )
        return allowed and not self.policy.is_open

    async def _rule_groups(self, by: Requester, model_id: str) -> frozenset[str]:
        """The groups of the model's rules that `by` is in, asked of Slack only when a rule
        that could admit them names groups."""
        team_id, enterprise_id = by.team_id, by.enterprise_id
        if not self.policy.groups_needed(
            model_id, user=by.user, team_id=team_id, enterprise_id=enterprise_id
        ):
            return frozenset()
        rule_groups = self.policy.groups_for(model_id, team_id=team_id, enterprise_id=enterprise_id)
        return await self._groups_of(by.user, rule_groups)

    async def _groups_of(self, user: str, groups: frozenset[str]) -> frozenset[str]:
        """Which of `groups` the user belongs to; a group Slack will not list counts as not."""
        found = set()
        for group in sorted(groups):
            if user in await self._members_of(group):
                found.add(group)
        return frozenset(found)

    async def _members_of(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached is not None and self._clock() - cached[1] < _GROUP_TTL:
            return cached[0]
        try:
            members = await self._groups.group_members(group)
        except SlackError as exc:
            fallback = "using the last answer" if cached else "treating it as empty"
            log.warning("cannot list user group %s (%s); %s", group, exc.code, fallback)
            return cached[0] if cached else frozenset()
        self._members[group] = (members, self._clock())
        return members


def _workspace_of(job: Job) -> tuple[str | None, str | None]:
    """The workspace (`team_id`, `enterprise_id`) that `job` was asked for in."""
    by = Requester.of_job(job)
    return by.team_id, by.enterprise_id
