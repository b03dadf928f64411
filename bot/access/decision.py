"""`Decision`: what the policy says about one request, with the reason a person reads."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access.rules import ModelRule

__all__ = ["Decision"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Allowed or not; a refusal carries a polite, specific `reason` to show privately.

    `rule` is the policy-file rule that applied, if any. An allowed retrain of a protected model
    has `needs_approval`; `approvers` is then the listed approvers, or None for "anyone allowed
    for this model except the requester".
    """

    allowed: bool
    reason: str | None = None
    rule: ModelRule | None = None
    needs_approval: bool = False
    approvers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        # A refusal without words, or a refusal that still asks for approval, is a bug upstream.
        if self.allowed == (self.reason is not None):
            raise ValueError("a refusal needs a reason, and only a refusal has one")
        if not self.allowed and self.needs_approval:
            raise ValueError("a refused request cannot need approval")

    @classmethod
    def allow(
        cls,
        *,
        rule: ModelRule | None = None,
        needs_approval: bool = False,
        approvers: frozenset[str] | None = None,
    ) -> Decision:
        return cls(allowed=True, rule=rule, needs_approval=needs_approval, approvers=approvers)

    @classmethod
    def deny(cls, reason: str, *, rule: ModelRule | None = None) -> Decision:
        return cls(allowed=False, reason=reason, rule=rule)
