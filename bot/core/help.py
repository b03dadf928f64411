"""The `/retrain` usage line and help text, drawn from the option and subcommand tables. Pure.

Slack mrkdwn: placeholders such as `<modelId>` are escaped, so Slack does not read them as links.
"""

from __future__ import annotations

from typing import Final

from bot.core.grammar import SUBCOMMANDS, SUBCOMMANDS_BY_KEYWORD, SubcommandSpec
from bot.core.mrkdwn import escape
from bot.core.options import OPTIONS, OptionSpec, RetrainOptions, find_option
from bot.core.words import EXAMPLE_MODEL_ID

__all__ = ["USAGE", "render_help"]


def _option_usage(spec: OptionSpec) -> str:
    return escape(f"{spec.name}=<{spec.kind.placeholder}>")


def _command_usage(sub: SubcommandSpec) -> str:
    return escape(f"/retrain {sub.keyword} {sub.argument}".rstrip())


USAGE: Final = (
    "Usage: `/retrain &lt;modelId&gt; "
    + " ".join(f"[{_option_usage(spec)}]" for spec in OPTIONS)
    + "`"
)

_EXAMPLES: Final = (
    RetrainOptions(),
    RetrainOptions(train_split_ratio=0.7, with_feedback=True),
    RetrainOptions(epochs=100, algorithm="multilingual-intent-ood"),
)


def _option_line(spec: OptionSpec) -> str:
    also = f" (or `{spec.long_name}`)" if spec.long_name != spec.name else ""
    return (
        f"• `{_option_usage(spec)}`{also}: {spec.description}. Must be {spec.kind.expected}."
        f" Default: {spec.default}."
    )


def _command_line(sub: SubcommandSpec) -> str:
    return f"• `{_command_usage(sub)}`: {sub.description}."


def _example_line(options: RetrainOptions) -> str:
    words = ["/retrain", EXAMPLE_MODEL_ID]
    if options != RetrainOptions():
        words.append(options.describe())
    return f"• `{' '.join(words)}`"


def render_help(*, topic: str | None = None) -> str:
    """Slack mrkdwn help; with a topic (from `Help.topic`), only that option or command."""
    if topic is not None:
        spec = find_option(topic)
        if spec is not None:
            return f"{USAGE}\n{_option_line(spec)}"
        sub = SUBCOMMANDS_BY_KEYWORD.get(topic.lower())
        if sub is not None:
            return "\n".join(filter(None, (_command_line(sub), sub.details)))
    lines = [
        "*Retrain an Einstein Language model*",
        USAGE,
        "",
        "*Options* (all optional; names are case-insensitive, values may be quoted)",
        *(_option_line(spec) for spec in OPTIONS),
        "",
        "*Other commands*",
        *(_command_line(sub) for sub in SUBCOMMANDS),
        "",
        "*Examples*",
        *(_example_line(options) for options in _EXAMPLES),
    ]
    return "\n".join(lines)
