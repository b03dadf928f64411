"""When a scheduled retrain fires: a cron expression read in an IANA time zone.

The expression is read by `cronsim` (Debian cron's rules, daylight saving included: a time that
does not exist on the day the clocks go forward fires when they have, one that happens twice
fires once). `@hourly`, `@daily`, `@weekly` and `@monthly` stand for the cron lines Vixie cron
gives them. Zones come from `zoneinfo`; times go in and out as aware UTC datetimes.

A schedule remembers only its next run. When that time has passed, the schedule fires once,
however many runs were missed (while no instance ran, say), and its next run is the first one
after now: `catch_up`.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cronsim import CronSim, CronSimError

from bot.core.mrkdwn import code_safe
from bot.errors import UsageError

__all__ = ["ALIASES", "Recurrence", "catch_up", "parse_recurrence"]

ALIASES: Final = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
_FIELDS = "minute hour day-of-month month day-of-week"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A checked cron expression (as typed) and the zone it is read in."""

    cron: str
    tz: str = "UTC"

    def next_after(self, moment: datetime) -> datetime:
        """The first run strictly after `moment` (aware), in UTC."""
        zone = zoneinfo.ZoneInfo(self.tz)
        start = moment.astimezone(zone).replace(second=0, microsecond=0)
        return next(CronSim(ALIASES.get(self.cron, self.cron), start)).astimezone(UTC)

    def explain(self) -> str:
        """In words, e.g. "At 09:00 on Monday through Friday (Europe/Paris)"."""
        sim = CronSim(ALIASES.get(self.cron, self.cron), datetime.now(UTC))
        return f"{sim.explain()} ({self.tz})"


def parse_recurrence(cron: str, tz: str = "UTC") -> Recurrence:
    """Check `cron` and `tz`; a `UsageError` names what is wrong and what would do."""
    cron = " ".join(cron.split())
    if cron.startswith("@") and cron.lower() in ALIASES:
        cron = cron.lower()
    elif cron.startswith("@"):
        shortcuts = ", ".join(f"`{alias}`" for alias in ALIASES)
        raise UsageError(f"Unknown cron shortcut `{code_safe(cron)}`: use one of {shortcuts}.")
    try:
        CronSim(ALIASES.get(cron, cron), datetime.now(UTC))
    except CronSimError as exc:
        raise UsageError(
            f'`cron="{code_safe(cron)}"` is not a cron line ({str(exc).lower()}): write five '
            f'fields, {_FIELDS}, e.g. `cron="0 6 * * MON"`, or a shortcut such as `@daily`.'
        ) from None
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"Unknown time zone `{code_safe(tz)}`: use an IANA name such as `Europe/Paris` "
            "or `America/New_York` (the default is `UTC`)."
        ) from None
    return Recurrence(cron=cron, tz=tz)


def catch_up(recurrence: Recurrence, next_run: datetime, now: datetime) -> datetime | None:
    """The next run to remember if the schedule fires now, or None if it is not due yet.

    Due once `next_run` has passed: then the schedule fires once, and its next run is the first
    after `now`, so runs missed meanwhile are not made up one by one.
    """
    if next_run > now:
        return None
    return recurrence.next_after(now)
