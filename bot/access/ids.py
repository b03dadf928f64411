"""Slack IDs in allow lists and rules: what each kind looks like, and the `RETRAIN_ALLOWED_*`
list parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from bot.errors import ConfigError

__all__ = [
    "CHANNELS_VARIABLE",
    "GROUPS_VARIABLE",
    "USERS_VARIABLE",
    "IdKind",
    "id_problem",
    "parse_id_list",
]

USERS_VARIABLE: Final = "RETRAIN_ALLOWED_USERS"
GROUPS_VARIABLE: Final = "RETRAIN_ALLOWED_GROUPS"
CHANNELS_VARIABLE: Final = "RETRAIN_ALLOWED_CHANNELS"

IdKind: TypeAlias = Literal["user", "group", "channel", "approver", "team"]

# Slack IDs are upper-case letters and digits after a one-letter prefix that names the kind.
_ID_BODY: Final = re.compile(r"[A-Z0-9]+")
# Longer entries are not echoed in errors: a pasted token or key is long, and IDs are short.
_SHOWN_LENGTH: Final = 24


@dataclass(frozen=True, slots=True)
class _Kind:
    prefixes: str
    noun: str
    example: str
    name_sign: str  # what people type before a name where an ID belongs ('' for none)
    name_hint: str

    @property
    def expected(self) -> str:
        letters = " or ".join(", ".join(self.prefixes).rsplit(", ", 1))
        return (
            f"must be a {self.noun} ID like {self.example}"
            f" ({letters}, then capital letters and digits)"
        )


_KINDS: Final[dict[IdKind, _Kind]] = {
    "user": _Kind("UW", "user", "U0123ABCD", "@", "copy the member ID from the user's profile"),
    "group": _Kind("S", "user group", "S0456EFGH", "@", "user group IDs start with S"),
    "channel": _Kind("CGD", "channel", "C0789IJKL", "#", "the ID is in the channel's details"),
    # Approvers are people or user groups; a group's members are asked for when one approves.
    "approver": _Kind(
        "UWS", "user or user group", "U0999MNOP", "@", "copy the member or user group ID"
    ),
    # A rule's `teams:`: a workspace (T…), or an Enterprise Grid org (E…) for all its workspaces.
    "team": _Kind("TE", "workspace or Enterprise Grid org", "T0123ABCD", "", ""),
}


def _is_kind(value: str, kind: _Kind) -> bool:
    return value[:1] in kind.prefixes and _ID_BODY.fullmatch(value[1:]) is not None


def id_problem(value: str, *, kind: IdKind) -> str | None:
    """Why `value` is not a Slack ID of `kind` (a phrase starting with "must"), or None."""
    spec = _KINDS[kind]
    if _is_kind(value, spec):
        return None
    if spec.name_sign and value.startswith(spec.name_sign):
        return f"{spec.expected}, not a name ({spec.name_hint})"
    if _is_kind(value.upper(), spec):
        return f"{spec.expected}; Slack IDs are upper case"
    for other in _KINDS.values():
        # "approver" is users and groups together: never the other kind an ID was mistaken for.
        if other is not spec and other is not _KINDS["approver"] and _is_kind(value, other):
            return f"{spec.expected}, not a {other.noun} ID"
    return spec.expected


def _shown(entry: str) -> str:
    # Nothing secret in an error: long entries and anything shaped like a Slack token stay hidden.
    if len(entry) > _SHOWN_LENGTH or not entry.isprintable() or entry.startswith(("xox", "xapp")):
        return f"({len(entry)} characters, not shown)"
    quoted = entry.replace("`", "'")  # a backtick would end the code span
    return f"`{quoted}`"


def parse_id_list(raw: str | None, *, kind: IdKind, variable: str) -> frozenset[str]:
    """The IDs in a comma-separated variable; unset or blank gives the empty set, which means open.

    Spaces around entries and a trailing comma are fine; anything that is not a Slack ID of
    `kind` raises a `ConfigError` naming `variable` and the entry's position.
    """
    if raw is None or not raw.strip():
        return frozenset()
    found: list[str] = []
    for position, part in enumerate(raw.split(","), start=1):
        entry = part.strip()
        if not entry:
            continue  # `U1, U2,` is a harmless slip
        if any(char.isspace() for char in entry):
            raise ConfigError(
                f"{variable}: entry {position} {_shown(entry)} contains a space;"
                " separate IDs with commas"
            )
        problem = id_problem(entry, kind=kind)
        if problem is not None:
            raise ConfigError(f"{variable}: entry {position} {_shown(entry)} {problem}")
        found.append(entry)
    if not found:
        # Someone typed something here, so they meant to restrict: do not silently stay open.
        raise ConfigError(
            f"{variable}: holds commas but no IDs; list {_KINDS[kind].noun} IDs"
            " or leave it empty to allow all"
        )
    return frozenset(found)
