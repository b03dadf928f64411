"""The kinds of `/retrain` option value: how each is typed, checked and written back. Pure.

A kind's `parse` reads a value as typed and raises a `UsageError` naming the problem; `accepts`
checks a value that comes from elsewhere (storage, other code); `render` writes the shortest text
that parses back to the same value.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from bot.core.mrkdwn import code_safe
from bot.errors import UsageError

__all__ = ["Choice", "Flag", "Kind", "OptionValue", "Real", "Whole", "closest"]

# ASCII digits only: `float()` and `int()` also take Arabic-Indic digits, `1_000`, `nan` and `inf`.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")
_TRUE_WORDS: Final = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS: Final = frozenset({"false", "no", "off", "0"})

OptionValue: TypeAlias = float | bool | int | str


def _must_be(name: str, expected: str, raw: str) -> str:
    return f"`{name}` must be {expected}, got `{code_safe(raw)}`."


def closest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True, slots=True)
class Real:
    """A finite number above `low`, below (or up to) `high`."""

    low: float
    high: float
    high_inclusive: bool
    expected: str
    placeholder: str = "0..1"

    def parse(self, name: str, raw: str) -> float:
        if _DECIMAL.fullmatch(raw) is None:
            if raw.count(",") == 1 and _DECIMAL.fullmatch(raw.replace(",", ".")):
                dotted = raw.replace(",", ".")
                raise UsageError(
                    f"`{name}` takes a dot as the decimal separator: "
                    f"write `{name}={dotted}`, not `{name}={raw}`."
                )
            raise UsageError(_must_be(name, self.expected, raw))
        value = float(raw)  # `1e999` becomes inf, which `accepts` refuses
        if not self.accepts(value):
            raise UsageError(_must_be(name, self.expected, raw))
        return value

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        below_high = value <= self.high if self.high_inclusive else value < self.high
        return math.isfinite(value) and self.low < value and below_high

    def render(self, value: OptionValue) -> str:
        return repr(float(value))  # shortest text that reads back as the same float


@dataclass(frozen=True, slots=True)
class Whole:
    """A whole number from `low` to `high`, both included."""

    low: int
    high: int
    expected: str
    placeholder: str

    def parse(self, name: str, raw: str) -> int:
        if _WHOLE.fullmatch(raw) is None:
            raise UsageError(_must_be(name, self.expected, raw))
        try:
            value = int(raw)
        except ValueError:  # more digits than Python converts; far out of range anyway
            raise UsageError(_must_be(name, self.expected, raw)) from None
        if not self.accepts(value):
            raise UsageError(_must_be(name, self.expected, raw))
        return value

    def accepts(self, value: object) -> bool:
        return type(value) is int and self.low <= value <= self.high  # True is an int too

    def render(self, value: OptionValue) -> str:
        return str(value)


@dataclass(frozen=True, slots=True)
class Flag:
    """A boolean, spelled any way people spell one."""

    expected: str = "true or false (yes/no, on/off and 1/0 work too)"
    placeholder: str = "true|false"

    def parse(self, name: str, raw: str) -> bool:
        word = raw.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise UsageError(_must_be(name, self.expected, raw))

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool)

    def render(self, value: OptionValue) -> str:
        return "true" if value else "false"


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a few fixed words, case-insensitive, kept in the API's spelling."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        quoted = [f"`{choice}`" for choice in self.choices]
        return f"one of {', '.join(quoted[:-1])} or {quoted[-1]}"

    @property
    def placeholder(self) -> str:
        return "|".join(self.choices)

    def parse(self, name: str, raw: str) -> str:
        word = raw.lower()
        if word in self.choices:
            return word
        guess = closest(word, self.choices)
        hint = f" Did you mean `{guess}`?" if guess else ""
        raise UsageError(f"{_must_be(name, self.expected, raw)}{hint}")

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value in self.choices

    def render(self, value: OptionValue) -> str:
        return str(value)


Kind: TypeAlias = Real | Whole | Flag | Choice
