"""Message timestamps as the fake Slack makes them: unique and increasing within a channel.

They start at a fixed second, so test output is the same from run to run.
"""

from __future__ import annotations

import re

__all__ = ["Stamps", "format_ts", "well_formed"]

_EPOCH_MICROS = 1_700_000_000 * 1_000_000
_STEP_MICROS = 100
_PATTERN = re.compile(r"^\d{10}\.\d{6}$")


def format_ts(micros: int) -> str:
    """Slack's ``"<seconds>.<6 digits>"`` form of a microsecond count."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def well_formed(ts: str) -> bool:
    """Whether ``ts`` has the form of a message timestamp."""
    return _PATTERN.match(ts) is not None


class Stamps:
    """The next timestamp of each channel."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def new(self, channel_id: str) -> str:
        """A fresh ts, unique and increasing within the channel."""
        count = self._counts.get(channel_id, 0) + 1
        self._counts[channel_id] = count
        return format_ts(_EPOCH_MICROS + count * _STEP_MICROS)
