"""Access control for `/retrain`: allow lists, per-model rules, approvals and a rate limit.

    ids.py       Slack ID checks and `parse_id_list` for the RETRAIN_ALLOWED_* variables
    rules.py     the policy file's shape (pydantic), `ModelRule` and `Policy`
    teams.py     which workspaces a rule holds in (`teams:`), and how scoped rules combine
    loading.py   `load_policy`: YAML to `Policy`, every mistake reported with its line
    rate.py      `RateLimit`, `parse_rate` (RETRAIN_USER_RATE) and `rate_decision`
    decision.py  `Decision`, the answer every check gives (a refusal names every broken rule)
    refusals.py  the refusal sentences that say what would pass (option limits, channels)
    people.py    `People`: an allow list's users and groups (both empty: everyone)
    approvals.py  who is asked to approve, and who may (a protected model's second person)
    policy.py    `AccessPolicy`, which combines them
    summary.py   `describe`: the policy in one line for the start-up log
    gatekeeper.py  `Gatekeeper`: the policy plus what only I/O tells (groups, recent retrains)
    visibility.py  who may see a training in a private channel or a DM (read commands, Home)

EMPTY MEANS OPEN: with no RETRAIN_ALLOWED_USERS, RETRAIN_ALLOWED_GROUPS or
RETRAIN_ALLOWED_CHANNELS set, and no policy file, anyone may retrain any model from any channel.

A user passes when listed directly or through one of their user groups, and the channel must
pass too. The first policy-file rule whose glob matches the model ID, among those that hold in
the request's workspace, applies; its people list (users and groups) replaces the global user
and group lists for that model, its channel list replaces the global channel list, and what it
leaves out falls back to the global lists. Models no rule matches use the global lists. The
global lists hold in every workspace; a rule with `teams:` only in the workspaces (T…) and
Enterprise Grid orgs (E…) it names, and a model only such rules match is refused elsewhere.

Choices worth knowing:
- With `max_epochs` set, a retrain without `epochs=` is refused, because Einstein would pick the
  epochs itself (up to 1000); the message says which value to add.
- With `feedback: false`, only an explicit `feedback=true` is refused; Einstein's default is false.
- A protected model needs a second person: never the requester; the rule's approvers if listed
  (people, or any member of a listed user group), otherwise anyone allowed to retrain the model.
  A request nobody else could approve is refused at once instead of waiting forever.
- The rate limit is a sliding window per user; a start exactly one window ago no longer counts.
- A refusal names every rule the request breaks (people, channel, options, approval, rate),
  each with what would pass, not only the first.
"""

from __future__ import annotations

from bot.access.decision import Decision
from bot.access.ids import IdKind, parse_id_list
from bot.access.loading import VARIABLE as POLICY_FILE_VARIABLE
from bot.access.loading import load_policy
from bot.access.policy import (
    CHANNELS_VARIABLE,
    GROUPS_VARIABLE,
    USERS_VARIABLE,
    AccessPolicy,
)
from bot.access.rate import RateLimit, parse_rate, rate_decision
from bot.access.rules import MAX_EPOCHS, ModelRule, Policy, PolicyFile, RuleEntry

__all__ = [
    "CHANNELS_VARIABLE",
    "GROUPS_VARIABLE",
    "MAX_EPOCHS",
    "POLICY_FILE_VARIABLE",
    "USERS_VARIABLE",
    "AccessPolicy",
    "Decision",
    "IdKind",
    "ModelRule",
    "Policy",
    "PolicyFile",
    "RateLimit",
    "RuleEntry",
    "load_policy",
    "parse_id_list",
    "parse_rate",
    "rate_decision",
]
