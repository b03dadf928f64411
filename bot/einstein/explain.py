"""Einstein errors told to the user: what happened, in plain words, and what to do next.

`explain` reads the error's `kind` (set by the client, see `bot.errors`) rather than parsing
messages again. The result is Slack mrkdwn: whatever it quotes from Einstein is cut to 300
characters, loses control characters and has `&`, `<` and `>` escaped, so an answer from
Einstein can neither break the message nor mention a channel.
"""

from __future__ import annotations

import math

from bot.core.mrkdwn import escape
from bot.einstein.answers import QUOTE_LIMIT, plain_text
from bot.errors import EinsteinError, EinsteinUnavailable

__all__ = ["explain", "quote"]

_LATER = "try again in a few minutes"


def quote(text: str, *, limit: int = QUOTE_LIMIT) -> str:
    """Outside text made safe to show in Slack mrkdwn: one line, at most `limit` characters,
    no secrets, and `&`, `<`, `>` escaped so it cannot mention anyone or break the markup."""
    return escape(plain_text(text, limit=limit))


def explain(error: EinsteinError, *, model_id: str) -> str:
    """A short explanation of `error` for the user who asked about `model_id`, with a next step."""
    model = f"`{quote(model_id, limit=64)}`"
    said = f"“{quote(error.einstein_message)}”" if error.einstein_message else None
    http = f"HTTP {error.status}" if error.status is not None else None
    match error.kind:
        case "dataset_busy":
            return (
                "Another training of this model's dataset is queued or running; Einstein trains "
                "one model per dataset at a time. Try again when it has finished — "
                "`/retrain list` shows what the bot follows."
            )
        case "too_many_words":
            return (
                f"The dataset of {model} has more than 3 million words, the most Einstein trains "
                "on. Remove or shorten examples until it is under the limit, then try again."
                + (f" Einstein said: {said}" if said else "")
            )
        case "dataset_not_ready":
            return (
                f"The dataset of {model} is still being uploaded or updated, so Einstein cannot "
                "train on it yet. Try again once the upload has finished."
            )
        case "not_found":
            return (
                f"Einstein does not know the model {model}: it was deleted, belongs to another "
                "account, or the id is mistyped. Check the id and try again."
            )
        case "unknown_label":
            return (
                f"The dataset of {model} has no such label"
                + (f" (Einstein said: {said})" if said else "")
                + ". Choose one of the model's labels and try again."
            )
        case "invalid_parameter" if said:
            return (
                f"Einstein refused a parameter: {said}. Fix that value and try again; "
                "`/retrain help` lists the options and the values they take."
            )
        case "invalid_parameter" | "rejected":
            why = f": {said}" if said else " without saying why"
            return (
                f"Einstein refused the request for {model} ({http or 'no status'}){why}. "
                "Check the model id and options and try again; `/retrain help` lists them."
            )
        case "auth":
            return (
                "The bot's Einstein credentials were refused; ask the person who runs the bot "
                "to check them."
            )
        case "unavailable" | "rate_limited" | "timeout" | "unreachable":
            return _unavailable(error, http=http)
        case "malformed":
            return (
                f"{quote(error.message)}. The bot could not tell what Einstein meant; "
                f"`/retrain status {quote(model_id, limit=64)}` shows the model's training. "
                "If this keeps happening, tell the person who runs the bot."
            )
    return f"Einstein could not do that ({quote(error.message)}); {_LATER}."  # pragma: no cover


def _unavailable(error: EinsteinError, *, http: str | None) -> str:
    why = {
        "rate_limited": f"it is busy and asked the bot to slow down, {http}",
        "timeout": "it did not answer in time",
        "unreachable": "the bot could not connect to it",
    }.get(error.kind, http or "the connection broke")
    # Without an answer, a request may have reached Einstein unseen; the follower looks for
    # such a training before it gives up, so the bot believes nothing started, but says so.
    unanswered = error.kind == "timeout" or (error.kind == "unavailable" and http is None)
    started = (
        "Nothing was started as far as the bot can tell" if unanswered else "Nothing was started"
    )
    later = _LATER
    retry_after = error.retry_after if isinstance(error, EinsteinUnavailable) else None
    if retry_after is not None:
        later = f"try again in {_duration(retry_after)}"
    return f"Einstein is unavailable right now ({why}). {started}; {later}."


def _duration(seconds: float) -> str:
    if seconds < 90:
        whole = max(1, math.ceil(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    hours = math.ceil(minutes / 60)
    return f"{hours} hours"
