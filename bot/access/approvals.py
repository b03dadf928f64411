"""Approvals of a protected model's retrains: whom a request mentions, whether anyone but the
requester could approve it, and whether a given person may. Pure.

`people` is the allow list that holds for the model (`AccessPolicy` picks the rule's or the
global one); it decides wherever the rule lists no approvers.
"""

from __future__ import annotations

from bot.access.decision import Decision
from bot.access.people import People
from bot.access.rules import ModelRule

__all__ = ["may_approve", "reach", "refusal"]


def reach(rule: ModelRule, people: People, *, requester: str) -> frozenset[str]:
    """Whom an approval request mentions: the listed approvers, else the allow list."""
    named = rule.approvers if rule.approvers is not None else people.users | people.groups
    return named - {requester}


def refusal(rule: ModelRule | None, people: People, *, user: str) -> str | None:
    """Why the request is refused at once when nobody but `user` could approve it, else None."""
    # Refuse now rather than leave a request waiting for an approval nobody may give.
    if rule is None or not rule.protected:
        return None
    if rule.approver_groups:
        others: bool | None = None  # a group may hold others; Slack tells at approval time
    elif rule.approvers is not None:
        others = bool(rule.approvers - {user})
    else:
        others = people.others_than(user)
    if others is not False:
        return None
    return (
        f"Models matching `{rule.match}` need a second person's approval, and nobody"
        f" but you may approve ({rule.where}); whoever keeps the policy file can add"
        " another approver."
    )


def may_approve(
    rule: ModelRule,
    people: People,
    *,
    approver: str,
    approver_groups: frozenset[str],
    requester: str,
) -> Decision:
    """Whether `approver` may approve `requester`'s retrain of a model under `rule`.

    Never the requester; the rule's approvers if it lists them (directly or through one of
    the listed user groups), otherwise anyone allowed to retrain the model (channel aside:
    an approval is given wherever the request is seen).
    """
    if approver == requester:
        return Decision.deny("You cannot approve your own retrain; someone else has to.", rule=rule)
    if rule.approvers is not None:
        if approver in rule.approvers or not rule.approver_groups.isdisjoint(approver_groups):
            return Decision.allow(rule=rule)
        return Decision.deny(
            f"Only the approvers listed for models matching `{rule.match}` can approve"
            f" this retrain ({rule.where}).",
            rule=rule,
        )
    if people.admits(approver, approver_groups):
        return Decision.allow(rule=rule)
    return Decision.deny(
        f"Only people allowed to retrain models matching `{rule.match}` can approve"
        f" this retrain ({rule.where}).",
        rule=rule,
    )
