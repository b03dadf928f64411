"""The grammar of schedule, when, schedules and unschedule."""

from __future__ import annotations

import pytest

from bot.core.autocommands import Schedule, Schedules, Unschedule, When
from bot.core.grammar import parse_command
from bot.core.options import RetrainOptions
from bot.core.recurrence import Recurrence
from bot.errors import UsageError

M = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f'schedule {M} cron="0 6 * * MON" tz=Europe/Paris split=0.7',
            Schedule(M, Recurrence("0 6 * * MON", "Europe/Paris"), RetrainOptions(0.7)),
        ),
        (
            f"schedule {M} cron=\u201c@daily\u201d",
            Schedule(M, Recurrence("@daily"), RetrainOptions()),
        ),
        (
            f"schedule {M} cron='*/30  *  * * *'",
            Schedule(M, Recurrence("*/30 * * * *"), RetrainOptions()),
        ),
        (f"SCHEDULE {M} Cron=@Weekly", Schedule(M, Recurrence("@weekly"), RetrainOptions())),
    ],
)
def test_schedule(text: str, expected: Schedule) -> None:
    """A schedule: quoted cron line (straight or curly quotes), zone, retrain options."""
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "threshold", "feedback", "epochs"),
    [
        (f"when {M} feedback&gt;=20", 20, True, None),
        (f"when {M} feedback >= 5 epochs=10", 5, True, 10),
        (f"when {M} FEEDBACK>=3 feedback=false", 3, False, None),
    ],
)
def test_when(text: str, threshold: int, feedback: bool, epochs: int | None) -> None:
    """A trigger retrains with feedback unless its options say otherwise."""
    assert parse_command(text) == When(
        M, threshold, RetrainOptions(with_feedback=feedback, epochs=epochs)
    )


def test_schedules_and_unschedule() -> None:
    """The list takes nothing; unschedule takes one ID as the list shows it."""
    assert parse_command("schedules") == Schedules()
    assert parse_command("unschedule SCH-4kq9tm") == Unschedule("sch-4kq9tm")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f'schedule {M} cron="0 6 * *', "A quote is not closed"),
        (f"schedule {M}", "needs its cron line"),
        (f"schedule {M} cron=@daily cron=@hourly", "Give `cron` once"),
        (f'schedule {M} cron="61 * * * *"', "(bad minute)"),
        (f"schedule {M} cron=@daily tz=Mars/X", "Unknown time zone `Mars/X`"),
        (f"schedule {M} cron=@daily epochs=5000", "epochs"),
        ('schedule cron="@daily"', "needs the model ID first"),
        (f"when {M}", "how much feedback"),
        (f"when {M} split=0.7 feedback>=20", "how much feedback"),
        (f"when {M} feedback>=0", "from 1 to 1,000,000"),
        (f"when {M} feedback>=lots", "whole number"),
        ("schedules now", "`schedules` takes nothing"),
        ("unschedule", "takes the ID of one schedule"),
        ("unschedule 42", "got `42`"),
    ],
)
def test_mistakes_are_named(text: str, words: str) -> None:
    """Each mistake gets a usage error that names it, most with an example."""
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    assert words in str(caught.value)
