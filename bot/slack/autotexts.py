"""What the bot says about schedules and triggers: private answers and notes in the channel.

Times go out in Slack's date markup (`bot.core.mrkdwn.local_time`), so each reader sees their
own zone, with a UTC fallback for clients that do not render it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.autoretrain import AutoKind, AutoRetrain
from bot.core.jobs import Job
from bot.core.mrkdwn import local_time

__all__ = [
    "created",
    "fire_refused",
    "fire_skipped",
    "listing",
    "no_feedback_count",
    "no_such",
    "not_allowed",
    "not_yours",
    "removed",
    "what",
]


def what(auto: AutoRetrain) -> str:
    """The schedule or trigger in a few words: "every At 06:00 on Monday (UTC)", ..."""
    if auto.kind is AutoKind.SCHEDULE:
        assert auto.recurrence is not None
        return f"`{auto.recurrence.cron}`: {auto.recurrence.explain()}"
    return f"once {auto.threshold} more feedback examples have arrived"


def _options(auto: AutoRetrain) -> str:
    described = auto.options.describe()
    return f" ({described})" if described else ""


def created(auto: AutoRetrain) -> str:
    if auto.kind is AutoKind.SCHEDULE:
        assert auto.next_run is not None
        return (
            f":calendar: Schedule `{auto.id}` made: `{auto.model_id}` is retrained{_options(auto)} "
            f"on {what(auto)}, in <#{auto.channel}>. Next run: {local_time(auto.next_run)}. "
            f"Remove it with `/retrain unschedule {auto.id}`."
        )
    return (
        f":dart: Trigger `{auto.id}` made: `{auto.model_id}` is retrained{_options(auto)} "
        f"{what(auto)} (its dataset has {auto.baseline} now), in <#{auto.channel}>. "
        f"Remove it with `/retrain unschedule {auto.id}`."
    )


def listing(
    autos: Sequence[AutoRetrain], progress: Mapping[str, int | None], *, left_out: int = 0
) -> str:
    hidden = (
        f"\n_{left_out} more in private channels or direct messages you are not in._"
        if left_out
        else ""
    )
    if not autos and left_out:
        return f"No schedules or triggers you may see.{hidden}"
    if not autos:
        return (
            "No schedules or triggers yet. Make one with "
            '`/retrain schedule <modelId> cron="0 6 * * MON"` or '
            "`/retrain when <modelId> feedback&gt;=20`."
        ).replace("<modelId>", "&lt;modelId&gt;")
    lines = "\n".join(_line(a, progress.get(a.id)) for a in autos)
    return f"*Schedules and triggers*\n{lines}{hidden}"


def _line(auto: AutoRetrain, count: int | None) -> str:
    head = (
        f"• `{auto.id}` `{auto.model_id}`{_options(auto)} by <@{auto.creator}> in <#{auto.channel}>"
    )
    if auto.kind is AutoKind.SCHEDULE:
        assert auto.next_run is not None
        return f"{head}: {what(auto)}; next run {local_time(auto.next_run)}"
    assert auto.threshold is not None
    assert auto.baseline is not None
    if count is None:
        done = "progress unknown (Einstein did not answer)"
    else:
        new = min(max(count - auto.baseline, 0), auto.threshold)
        done = f"{new} of {auto.threshold} feedback examples"
    return f"{head}: retrains after {auto.threshold} new feedback examples; {done}"


def no_feedback_count(model_id: str, problem: str) -> str:
    return (
        f":warning: Cannot make the trigger: Einstein did not say how much feedback the dataset "
        f"of `{model_id}` has ({problem}). Nothing was saved; try again in a minute."
    )


def not_allowed(model_id: str, reason: str | None) -> str:
    return f":no_entry: No schedule or trigger made for `{model_id}`: {reason}"


def no_such(auto_id: str) -> str:
    return f"There is no schedule or trigger `{auto_id}`; `/retrain schedules` lists them."


def not_yours(auto: AutoRetrain, reason: str | None) -> str:
    return (
        f":no_entry: `{auto.id}` was made by <@{auto.creator}>; only they or someone allowed "
        f"to retrain `{auto.model_id}` may remove it. {reason}"
    )


def removed(auto: AutoRetrain) -> str:
    kind = "Schedule" if auto.kind is AutoKind.SCHEDULE else "Trigger"
    return f":wastebasket: {kind} `{auto.id}` for `{auto.model_id}` removed."


def fire_refused(auto: AutoRetrain, reason: str) -> str:
    return (
        f":no_entry: {_whose(auto)} did not start a retrain of `{auto.model_id}`: {reason} "
        f"It stays and will try again ({what(auto)}); `/retrain unschedule {auto.id}` removes it."
    )


def fire_skipped(auto: AutoRetrain, busy: Job) -> str:
    return (
        f":fast_forward: {_whose(auto)} skipped this run: `{auto.model_id}` is already training "
        f"(job `{busy.id}`)."
    )


def _whose(auto: AutoRetrain) -> str:
    kind = "schedule" if auto.kind is AutoKind.SCHEDULE else "trigger"
    return f"The {kind} `{auto.id}` of <@{auto.creator}>"
