"""The sentences of a refusal that say what would pass: option limits, allowed channels, and a
model closed in the request's workspace. Pure."""

from __future__ import annotations

from typing import Final

from bot.access.rules import MAX_EPOCHS, ModelRule
from bot.core.options import RetrainOptions

__all__ = ["channel_list", "closed_here", "options_refusals"]

_CHANNELS_SHOWN: Final = 5


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def options_refusals(rule: ModelRule, options: RetrainOptions) -> list[str]:
    """Every option limit of `rule` that `options` break, each with a value that passes."""
    models = f"Models matching `{rule.match}`"
    refusals = []
    if rule.max_epochs is not None:
        if options.epochs is None:
            # Unset epochs lets Einstein pick from the dataset size, up to 1000: refuse rather
            # than let a limit be passed by leaving the option out.
            refusals.append(
                f"{models} allow at most {rule.max_epochs} epochs, and without `epochs=`"
                f" Einstein may choose up to {MAX_EPOCHS}; add `epochs={rule.max_epochs}`"
                " or fewer."
            )
        elif options.epochs > rule.max_epochs:
            refusals.append(
                f"{models} allow at most {rule.max_epochs} epochs; you asked for"
                f" {options.epochs}: use `epochs={rule.max_epochs}` or fewer."
            )
    # Unset feedback is Einstein's default, false, so only an explicit true is refused.
    if not rule.feedback and options.with_feedback:
        refusals.append(
            f"{models} cannot be retrained with feedback=true: leave `feedback` out"
            " or use `feedback=false`."
        )
    return refusals


def channel_list(channels: frozenset[str]) -> str:
    """Where a retrain would pass, as channel links (at most five named)."""
    shown = sorted(channels)
    links = ", ".join(f"<#{channel}>" for channel in shown[:_CHANNELS_SHOWN])
    more = len(shown) - _CHANNELS_SHOWN
    return f"{links} or {_plural(more, 'other channel')}" if more > 0 else links


def closed_here(*, team_id: str | None, enterprise_id: str | None) -> str:
    """Why a model that only other workspaces' rules name is refused in this one.

    Names no rule: their globs, channels and people belong to other workspaces. This
    workspace's own ID is given, since it is what whoever keeps the policy file would add.
    """
    if team_id is None and enterprise_id is None:
        return (
            "The policy file lets this model be retrained only from the workspaces its rules"
            " name, and the bot cannot tell which workspace this request came from."
        )
    here = " in ".join(f"`{known}`" for known in (team_id, enterprise_id) if known is not None)
    return (
        f"No rule of the policy file lets this model be retrained from this workspace ({here});"
        " its rules for it name other workspaces. Whoever keeps the policy file can add this"
        " workspace to one of them, or add a rule for every workspace."
    )
