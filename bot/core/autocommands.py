"""The commands of retrains that run themselves: schedule, when, schedules, unschedule.

    /retrain schedule <modelId> cron="<5-field cron>" [tz=<IANA zone>] [options…]
    /retrain when <modelId> feedback>=<N> [options…]
    /retrain schedules
    /retrain unschedule <id>

A cron line has spaces, so it is quoted; Slack's apps turn typed quotes into curly ones, and
those are read as straight quotes. The options after a schedule or trigger are the retrain
options, checked as in `/retrain <modelId> …`; a trigger retrains with `feedback=true` unless
they say otherwise.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from bot.core.mrkdwn import code_safe
from bot.core.options import RetrainOptions
from bot.core.recurrence import Recurrence, parse_recurrence
from bot.core.words import EXAMPLE_MODEL_ID, check_model_word, parse_option_words
from bot.errors import UsageError

__all__ = [
    "MAX_FEEDBACK_THRESHOLD",
    "Schedule",
    "Schedules",
    "Unschedule",
    "When",
    "parse_schedule",
    "parse_schedules",
    "parse_unschedule",
    "parse_when",
]

MAX_FEEDBACK_THRESHOLD: Final = 1_000_000
# Curly and low double quotes, double prime; curly single quotes.
_QUOTES = str.maketrans(
    dict.fromkeys("\u201c\u201d\u201e\u2033", '"') | dict.fromkeys("\u2018\u2019", "'")
)
_AUTO_ID = re.compile(r"(sch|trg)-[a-z2-9]{6}")
_THRESHOLD = re.compile(r"feedback\s*>=\s*(\S*)", re.IGNORECASE)
_SCHEDULE_EXAMPLE = f'`/retrain schedule {EXAMPLE_MODEL_ID} cron="0 6 * * MON" tz=Europe/Paris`'
_WHEN_EXAMPLE = f"`/retrain when {EXAMPLE_MODEL_ID} feedback&gt;=20`"


@dataclass(frozen=True, slots=True)
class Schedule:
    model_id: str
    recurrence: Recurrence
    options: RetrainOptions


@dataclass(frozen=True, slots=True)
class When:
    model_id: str
    threshold: int
    options: RetrainOptions


@dataclass(frozen=True, slots=True)
class Schedules:
    pass


@dataclass(frozen=True, slots=True)
class Unschedule:
    auto_id: str


def parse_schedule(args: Sequence[str]) -> Schedule:
    words = _quoted_words(args)
    model_id = _model(words, "schedule", _SCHEDULE_EXAMPLE)
    cron = tz = None
    rest = [model_id]
    for word in words[1:]:
        key, equals, value = word.partition("=")
        if equals and key.lower() == "cron":
            if cron is not None:
                raise UsageError("Give `cron` once.")
            cron = value
        elif equals and key.lower() in ("tz", "timezone"):
            if tz is not None:
                raise UsageError("Give `tz` once.")
            tz = value
        else:
            rest.append(word)
    if not cron:
        raise UsageError(f"A schedule needs its cron line, e.g. {_SCHEDULE_EXAMPLE}.")
    recurrence = parse_recurrence(cron, tz or "UTC")
    return Schedule(model_id, recurrence, parse_option_words(rest, ()))


def parse_when(args: Sequence[str]) -> When:
    model_id = _model(list(args), "when", _WHEN_EXAMPLE)
    tail = " ".join(args[1:])
    found = _THRESHOLD.search(tail)
    if found is None or tail[: found.start()].strip():
        raise UsageError(f"Say how much feedback starts the retrain, e.g. {_WHEN_EXAMPLE}.")
    number = found.group(1)
    if not number.isdigit() or not 1 <= int(number) <= MAX_FEEDBACK_THRESHOLD:
        raise UsageError(
            f"`feedback&gt;={code_safe(number)}`: the threshold must be a whole number of "
            f"feedback examples from 1 to {MAX_FEEDBACK_THRESHOLD:,}, e.g. {_WHEN_EXAMPLE}."
        )
    options = parse_option_words([model_id, *tail[found.end() :].split()], ())
    if options.with_feedback is None:
        options = replace(options, with_feedback=True)
    return When(model_id, int(number), options)


def parse_schedules(args: Sequence[str]) -> Schedules:
    if args:
        raise UsageError(f"`schedules` takes nothing; unexpected `{code_safe(args[0])}`.")
    return Schedules()


def parse_unschedule(args: Sequence[str]) -> Unschedule:
    if len(args) != 1 or _AUTO_ID.fullmatch(args[0].lower()) is None:
        given = f", got `{code_safe(' '.join(args))}`" if args else ""
        raise UsageError(
            "`unschedule` takes the ID of one schedule or trigger, as `/retrain schedules` "
            f"lists them (e.g. `sch-4kq9tm`){given}."
        )
    return Unschedule(args[0].lower())


def _model(words: Sequence[str], keyword: str, example: str) -> str:
    if not words or "=" in words[0] or ">" in words[0]:
        raise UsageError(f"`{keyword}` needs the model ID first, e.g. {example}.")
    return check_model_word(words[0])


def _quoted_words(args: Sequence[str]) -> list[str]:
    try:
        return shlex.split(" ".join(args).translate(_QUOTES))
    except ValueError:
        raise UsageError(
            f"A quote is not closed: write the cron line in quotes, e.g. {_SCHEDULE_EXAMPLE}."
        ) from None
