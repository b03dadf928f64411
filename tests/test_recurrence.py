"""Cron schedules in a time zone, and the one-fire catch-up after missed runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.recurrence import Recurrence, catch_up, parse_recurrence
from bot.errors import UsageError

MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("@hourly", datetime(2026, 3, 2, 13, 0, tzinfo=UTC)),
        ("@daily", datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),
        ("@weekly", datetime(2026, 3, 8, 0, 0, tzinfo=UTC)),  # Sunday
        ("@monthly", datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
        ("@DAILY", datetime(2026, 3, 3, 0, 0, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 3, 2, 12, 15, tzinfo=UTC)),
        ("0 9 * * MON-FRI", datetime(2026, 3, 3, 9, 0, tzinfo=UTC)),
    ],
)
def test_next_run_in_utc(cron: str, expected: datetime) -> None:
    """Shortcuts mean what Vixie cron says; a run is strictly after the moment given."""
    assert parse_recurrence(cron).next_after(MONDAY_NOON) == expected


def test_zone_and_daylight_saving() -> None:
    """Runs are read in the zone, across the spring-forward gap (02:30 then fires at 03:00)."""
    recurrence = parse_recurrence("30 2 * * *", "America/New_York")
    runs, moment = [], datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    for _ in range(3):
        moment = recurrence.next_after(moment)
        runs.append(moment)
    assert runs == [
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # 02:30 does not exist that night: 03:00 EDT
        datetime(2026, 3, 9, 6, 30, tzinfo=UTC),  # 02:30 EDT
        datetime(2026, 3, 10, 6, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("cron", "tz", "words"),
    [
        ("61 * * * *", "UTC", "bad minute"),
        ("* * *", "UTC", "wrong number of fields"),
        ("0 9 * * FOO", "UTC", "bad day-of-week"),
        ("@yearly", "UTC", "`@hourly`, `@daily`, `@weekly`, `@monthly`"),
        ("0 9 * * *", "Mars/Olympus", "Unknown time zone `Mars/Olympus`"),
        ("0 9 * * *", "../etc/passwd", "Unknown time zone"),
    ],
)
def test_bad_lines_and_zones_say_what_is_wrong(cron: str, tz: str, words: str) -> None:
    """A bad cron line or zone is a usage error naming the problem and an example."""
    with pytest.raises(UsageError) as caught:
        parse_recurrence(cron, tz)
    assert words in str(caught.value)


def test_missed_runs_fire_once() -> None:
    """Days of missed hourly runs fire once, and the next run is the first after now."""
    recurrence = Recurrence("@hourly")
    last = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    now = last + timedelta(days=3, minutes=20)
    assert catch_up(recurrence, last, now) == datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert catch_up(recurrence, now + timedelta(minutes=1), now) is None


def test_explain_names_the_zone() -> None:
    """The schedule in words, for the list of schedules."""
    text = parse_recurrence("0 9 * * MON-FRI", "Europe/Paris").explain()
    assert text == "At 09:00 on Monday through Friday (Europe/Paris)"
