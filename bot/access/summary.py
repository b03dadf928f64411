"""`describe`: the access policy in one line, for the start-up log. Pure.

Said loudly when retrains are open to everyone; rules that name workspaces say which, and with
any of them the global lists are said to hold in every workspace, so whoever reads the log of a
deployment installed in many workspaces sees how the two combine.
"""

from __future__ import annotations

from bot.access.ids import CHANNELS_VARIABLE, GROUPS_VARIABLE, USERS_VARIABLE
from bot.access.rate import RateLimit
from bot.access.rules import Policy

__all__ = ["describe"]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def describe(
    *,
    users: frozenset[str],
    groups: frozenset[str],
    channels: frozenset[str],
    policy: Policy,
    rate_limit: RateLimit | None,
) -> str:
    """E.g. `open to everyone (no RETRAIN_ALLOWED_* set); no policy file; no rate limit`."""
    lists = _lists(users, groups, channels)
    if policy.scoped:
        lists += ", in every workspace"
    return "; ".join((lists, _rules(policy), _rate(rate_limit)))


def _lists(users: frozenset[str], groups: frozenset[str], channels: frozenset[str]) -> str:
    if not (users or groups or channels):
        return "open to everyone (no RETRAIN_ALLOWED_* set)"
    if users or groups:
        who = []
        if users:
            who.append(_plural(len(users), "user"))
        if groups:
            who.append(_plural(len(groups), "user group"))
        people = " and ".join(who)
    else:
        people = f"everyone ({USERS_VARIABLE} and {GROUPS_VARIABLE} empty)"
    if channels:
        where = f"in {_plural(len(channels), 'channel')}"
    else:
        where = f"in any channel ({CHANNELS_VARIABLE} empty)"
    return f"retrains allowed for {people} {where}"


def _rules(policy: Policy) -> str:
    if policy.source is None:
        return "no policy file"
    rules = policy.rules
    if not rules:
        return f"policy file {policy.source}: no rules"
    count = _plural(len(rules), "rule")
    if policy.scoped:
        count += f" ({len(policy.scoped)} for named workspaces only)"
    listed = ", ".join(rule.summary() for rule in rules)
    return f"policy file {policy.source}: {count}: {listed}"


def _rate(rate_limit: RateLimit | None) -> str:
    if rate_limit is None:
        return "no rate limit"
    return f"rate limit {rate_limit} per user"
