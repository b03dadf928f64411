"""`AccessPolicy`: who may retrain which model, where, with which options, and who may approve.

Pure: group membership and recent retrains are handed in, so a refusal costs no API call.
Every lookup takes the request's workspace (`team_id`, `enterprise_id`): the policy file's
rules may name workspaces (`bot.access.teams`); the global lists hold in every workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from bot.access import approvals
from bot.access.decision import Decision
from bot.access.ids import CHANNELS_VARIABLE, GROUPS_VARIABLE, USERS_VARIABLE, parse_id_list
from bot.access.loading import load_policy
from bot.access.people import People
from bot.access.rate import RateLimit, parse_rate, rate_decision
from bot.access.refusals import channel_list, closed_here, options_refusals
from bot.access.rules import ModelRule, Policy
from bot.access.summary import describe
from bot.core.options import RetrainOptions

__all__ = ["CHANNELS_VARIABLE", "GROUPS_VARIABLE", "USERS_VARIABLE", "AccessPolicy"]

_NO_POLICY_FILE: Final = Policy()


@dataclass(frozen=True, slots=True)
class _Found:
    """The rule that applies to a request, if any; `closed` when rules name the model but none
    holds in the request's workspace, so nobody may retrain it there."""

    rule: ModelRule | None
    closed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessPolicy:
    """The global allow lists, the policy file's rules and the per-user rate limit.

    Empty global lists mean open. A matching rule's own people list (users and groups together)
    replaces the global user and group lists for that model, and its own channel list replaces
    the global channel list; what the rule leaves out falls back to the global lists. The global
    lists and the rate limit hold in every workspace; a rule with `teams:` only in those it
    names, and a model only such rules match is closed in the others (`bot.access.teams`).
    """

    allowed_users: frozenset[str] = frozenset()
    allowed_groups: frozenset[str] = frozenset()
    allowed_channels: frozenset[str] = frozenset()
    policy: Policy = _NO_POLICY_FILE
    rate_limit: RateLimit | None = None

    @classmethod
    def from_config(
        cls,
        *,
        allowed_users: str | None = None,
        allowed_groups: str | None = None,
        allowed_channels: str | None = None,
        policy_file: Path | None = None,
        user_rate: str | None = None,
    ) -> AccessPolicy:
        """Build from the raw `RETRAIN_*` values; any mistake is a `ConfigError` at start-up."""
        return cls(
            allowed_users=parse_id_list(allowed_users, kind="user", variable=USERS_VARIABLE),
            allowed_groups=parse_id_list(allowed_groups, kind="group", variable=GROUPS_VARIABLE),
            allowed_channels=parse_id_list(
                allowed_channels, kind="channel", variable=CHANNELS_VARIABLE
            ),
            policy=load_policy(policy_file) if policy_file is not None else _NO_POLICY_FILE,
            rate_limit=parse_rate(user_rate),
        )

    # --- lookups -------------------------------------------------------------------------------

    def rule_for(
        self, model_id: str, *, team_id: str | None = None, enterprise_id: str | None = None
    ) -> ModelRule | None:
        """The first policy-file rule that holds in the workspace and whose glob matches the
        model ID (case-sensitive), or None."""
        return self.policy.rule_for(model_id, team_id=team_id, enterprise_id=enterprise_id)

    def _find(self, model_id: str, team_id: str | None, enterprise_id: str | None) -> _Found:
        rule = self.policy.rule_for(model_id, team_id=team_id, enterprise_id=enterprise_id)
        # Only a scoped rule can match the model without holding here; models no rule names
        # at all stay under the global lists, in every workspace.
        return _Found(rule, closed=rule is None and self.policy.names_model(model_id))

    def _people(self, rule: ModelRule | None) -> People:
        if rule is not None and rule.limits_people:
            return People(rule.allow_users or frozenset(), rule.allow_groups or frozenset())
        return People(self.allowed_users, self.allowed_groups)

    @property
    def uses_groups(self) -> bool:
        """Whether any decision can depend on group membership; if not, never ask Slack."""
        return bool(self.allowed_groups) or any(
            rule.allow_groups or rule.approver_groups for rule in self.policy.rules
        )

    def groups_for(
        self, model_id: str, *, team_id: str | None = None, enterprise_id: str | None = None
    ) -> frozenset[str]:
        """The user groups whose membership can decide for this model in this workspace."""
        found = self._find(model_id, team_id, enterprise_id)
        return frozenset() if found.closed else self._people(found.rule).groups

    def approver_groups_for(
        self, model_id: str, *, team_id: str | None = None, enterprise_id: str | None = None
    ) -> frozenset[str]:
        """The user groups whose membership can decide who approves this model's retrains."""
        rule = self.rule_for(model_id, team_id=team_id, enterprise_id=enterprise_id)
        if rule is not None and rule.approvers is not None:
            return rule.approver_groups
        return self.groups_for(model_id, team_id=team_id, enterprise_id=enterprise_id)

    def admits(
        self,
        *,
        user: str,
        user_groups: frozenset[str],
        model_id: str,
        team_id: str | None = None,
        enterprise_id: str | None = None,
    ) -> bool:
        """Whether `user` is among the people allowed for the model (channel and options aside)."""
        found = self._find(model_id, team_id, enterprise_id)
        return not found.closed and self._people(found.rule).admits(user, user_groups)

    def groups_needed(
        self,
        model_id: str,
        *,
        user: str | None = None,
        team_id: str | None = None,
        enterprise_id: str | None = None,
    ) -> bool:
        """Whether deciding for `user` (or anyone) on this model needs their groups looked up.

        False when the model's people list has no groups, or names the user directly, or when
        nobody may retrain the model in this workspace.
        """
        found = self._find(model_id, team_id, enterprise_id)
        if found.closed:
            return False
        people = self._people(found.rule)
        return bool(people.groups) and (user is None or user not in people.users)

    @property
    def is_open(self) -> bool:
        """Whether models without a rule may be retrained by anyone in any channel."""
        return not (self.allowed_users or self.allowed_groups or self.allowed_channels)

    @property
    def rate_window(self) -> timedelta | None:
        """How far back the store must look for a user's retrains; None without a limit."""
        return self.rate_limit.window if self.rate_limit is not None else None

    # --- decisions -----------------------------------------------------------------------------

    def decide(
        self,
        *,
        user: str,
        user_groups: frozenset[str],
        channel: str,
        model_id: str,
        options: RetrainOptions | None,
        team_id: str | None = None,
        enterprise_id: str | None = None,
    ) -> Decision:
        """Whether `user` may retrain `model_id` in `channel` of workspace `team_id` (in org
        `enterprise_id`) with `options` (rate aside). Without `options`, whether they may use
        the model at all (add feedback to it): who and where only, no option limit, and no
        approval, since nothing is retrained.

        A refusal names every rule broken, not only the first, each with what would pass. A
        model closed in this workspace is refused for that alone: which lists and limits would
        apply depends on the rule someone adds for it, and other workspaces' rules (their
        channels, their people) are not this requester's to read.
        """
        found = self._find(model_id, team_id, enterprise_id)
        if found.closed:
            return Decision.deny(closed_here(team_id=team_id, enterprise_id=enterprise_id))
        rule = found.rule
        refusals = [
            self._people_refusal(rule, user=user, user_groups=user_groups),
            self._channel_refusal(rule, channel=channel),
            *(options_refusals(rule, options) if rule and options else ()),
            approvals.refusal(rule, self._people(rule), user=user) if options else None,
        ]
        broken = [refusal for refusal in refusals if refusal is not None]
        if broken:
            return Decision.deny(*broken, rule=rule)
        if rule is not None and rule.protected and options is not None:
            return Decision.allow(
                rule=rule,
                needs_approval=True,
                approvers=rule.approvers,
                reach=approvals.reach(rule, self._people(rule), requester=user),
            )
        return Decision.allow(rule=rule)

    def _people_refusal(
        self, rule: ModelRule | None, *, user: str, user_groups: frozenset[str]
    ) -> str | None:
        if self._people(rule).admits(user, user_groups):
            return None
        if rule is not None and rule.limits_people:
            return (
                f"You are not on the allow list for models matching `{rule.match}` ({rule.where});"
                " whoever keeps the policy file can add you or one of your user groups."
            )
        listed = [USERS_VARIABLE] if self.allowed_users else []
        listed += [GROUPS_VARIABLE] if self.allowed_groups else []
        return (
            f"You are not on the allow list for retrains ({', '.join(listed)});"
            " whoever runs the bot can add you or one of your user groups."
        )

    def _channel_refusal(self, rule: ModelRule | None, *, channel: str) -> str | None:
        if rule is not None and rule.allow_channels is not None:
            if channel in rule.allow_channels:
                return None
            return (
                f"This channel is not one where models matching `{rule.match}`"
                f" can be retrained ({rule.where}); type it in {channel_list(rule.allow_channels)}."
            )
        if not self.allowed_channels or channel in self.allowed_channels:
            return None
        return (
            f"This channel is not one where retrains are allowed ({CHANNELS_VARIABLE});"
            f" type it in {channel_list(self.allowed_channels)}."
        )

    def may_approve(
        self,
        rule: ModelRule,
        *,
        approver: str,
        approver_groups: frozenset[str],
        requester: str,
    ) -> Decision:
        """Whether `approver` may approve `requester`'s retrain of a model under `rule`
        (`bot.access.approvals.may_approve`)."""
        return approvals.may_approve(
            rule,
            self._people(rule),
            approver=approver,
            approver_groups=approver_groups,
            requester=requester,
        )

    def check_rate(self, recent_times: Sequence[datetime], *, now: datetime) -> Decision:
        """The rate limit on this user's recent retrain starts; allowed when there is no limit."""
        if self.rate_limit is None:
            return Decision.allow()
        return rate_decision(self.rate_limit, recent_times, now)

    # --- summary -------------------------------------------------------------------------------

    def describe(self) -> str:
        """One line for start-up logs, e.g. `open to everyone (no RETRAIN_ALLOWED_* set); ...`."""
        return describe(
            users=self.allowed_users,
            groups=self.allowed_groups,
            channels=self.allowed_channels,
            policy=self.policy,
            rate_limit=self.rate_limit,
        )
