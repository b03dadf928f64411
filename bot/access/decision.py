"""`Decision`: what the policy says about one request, with the reason a person reads."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access.rules import ModelRule

__all__ = ["Decision"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Allowed or not; a refusal carries a polite, specific `reason` to show privately.

    A refusal names every rule the request breaks, each with what would pass: `broken` holds
    one sentence per rule, and `reason` says them all at once, so nobody has to fix one thing,
    try again and only then hear of the next. `rule` is the policy-file rule that applied, if
    any. An allowed retrain of a protected model has `needs_approval`; `approvers` is then the
    listed approvers (user and group IDs), or None for "anyone allowed for this model except
    the requester"; `reach` is whom to mention so they hear of it: the listed approvers, else
    the people and user groups the model's allow list names (none when it is open to all).
    """

    allowed: bool
    reason: str | None = None
    rule: ModelRule | None = None
    needs_approval: bool = False
    approvers: frozenset[str] | None = None
    reach: frozenset[str] = frozenset()
    broken: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A refusal without words, or a refusal that still asks for approval, is a bug upstream.
        if self.allowed == (self.reason is not None):
            raise ValueError("a refusal needs a reason, and only a refusal has one")
        if not self.allowed and self.needs_approval:
            raise ValueError("a refused request cannot need approval")
        if self.reason is not None and not self.broken:
            object.__setattr__(self, "broken", (self.reason,))

    @classmethod
    def allow(
        cls,
        *,
        rule: ModelRule | None = None,
        needs_approval: bool = False,
        approvers: frozenset[str] | None = None,
        reach: frozenset[str] = frozenset(),
    ) -> Decision:
        return cls(
            allowed=True,
            rule=rule,
            needs_approval=needs_approval,
            approvers=approvers,
            reach=reach,
        )

    @classmethod
    def deny(cls, *reasons: str, rule: ModelRule | None = None) -> Decision:
        """A refusal for every broken rule in `reasons` (at least one), in the order given."""
        if not reasons:
            raise ValueError("a refusal needs a reason")
        return cls(allowed=False, reason=_all_of(reasons), rule=rule, broken=tuple(reasons))

    def and_also(self, other: Decision) -> Decision:
        """This decision with `other`'s refusals added: refused if either refuses."""
        if other.allowed:
            return self
        if self.allowed:
            return other
        return Decision.deny(*self.broken, *other.broken, rule=self.rule or other.rule)


def _all_of(reasons: tuple[str, ...]) -> str:
    if len(reasons) == 1:
        return reasons[0]
    listed = "\n".join(f"• {reason}" for reason in reasons)
    return f"It breaks {len(reasons)} rules; fix them all and try again:\n{listed}"
