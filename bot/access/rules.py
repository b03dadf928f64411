"""Per-model rules: the policy file's shape (pydantic) and the frozen rules the bot decides with.

The file is read into `PolicyFile` (unknown keys refused, types strict, globs and IDs checked);
`entry_problems` adds the checks that span fields or rules. `ModelRule` is what the rest of the
bot sees: one validated rule plus where it came from, so a denial can cite it. Which workspaces
a rule holds in (`teams:`) and how scoped rules combine is told in `bot.access.teams`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from bot.access.ids import IdKind, id_problem
from bot.access.teams import covers, in_workspaces, workspaces_note

__all__ = [
    "MAX_EPOCHS",
    "Loc",
    "ModelRule",
    "Policy",
    "PolicyFile",
    "RuleEntry",
    "entry_problems",
    "glob_problem",
]

MAX_EPOCHS: Final = 1000  # Einstein's own bound on `epochs`
Loc: TypeAlias = tuple[str | int, ...]

# Model IDs are letters and digits, so a glob with any other character could never match one.
_GLOB: Final = re.compile(r"(?:[A-Za-z0-9*?]|\[!?(?:[A-Za-z0-9](?:-[A-Za-z0-9])?)+\])+")
_RANGE: Final = re.compile(r"([A-Za-z0-9])-([A-Za-z0-9])")
_GLOB_CHARS: Final = frozenset("*?[")


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` is not a usable glob on model IDs (a phrase starting with "must"), or None."""
    if not pattern:
        return "must not be empty; use `*` to match every model"
    if _GLOB.fullmatch(pattern) is None:
        return (
            "must be letters, digits and the glob characters * ? [ ] ! -"
            " (model IDs are letters and digits only)"
        )
    for low, high in _RANGE.findall(pattern):
        if low > high:
            return f"must not hold the backwards range `{low}-{high}`, which matches nothing"
    return None


def _glob(pattern: str) -> str:
    problem = glob_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    return pattern


def _id_of(kind: IdKind) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = id_problem(value, kind=kind)
        if problem is not None:
            raise ValueError(problem)
        return value

    return check


def _epochs(value: int) -> int:
    if not 1 <= value <= MAX_EPOCHS:
        raise ValueError(f"must be between 1 and {MAX_EPOCHS}")
    return value


UserId = Annotated[StrictStr, AfterValidator(_id_of("user"))]
GroupId = Annotated[StrictStr, AfterValidator(_id_of("group"))]
ChannelId = Annotated[StrictStr, AfterValidator(_id_of("channel"))]
ApproverId = Annotated[StrictStr, AfterValidator(_id_of("approver"))]
TeamId = Annotated[StrictStr, AfterValidator(_id_of("team"))]

# An empty list would read as "nobody" to some and "everybody" to others: refuse it.
_EMPTY_LIST: Final = {
    "allow_users": "must list at least one user ID; leave the key out to use the global lists",
    "allow_groups": "must list at least one group ID; leave the key out to use the global lists",
    "allow_channels": (
        "must list at least one channel ID; leave the key out to use RETRAIN_ALLOWED_CHANNELS"
    ),
    "approvers": (
        "must list at least one user or user group ID; leave the key out to let anyone allowed"
        " for the model approve"
    ),
    "teams": (
        "must list at least one workspace (T…) or Enterprise Grid org (E…) ID; leave the key"
        " out for a rule that holds in every workspace"
    ),
}


class RuleEntry(BaseModel):
    """One item of `models:` as written in the policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: Annotated[StrictStr, AfterValidator(_glob)]
    allow_users: frozenset[UserId] | None = None
    allow_groups: frozenset[GroupId] | None = None
    allow_channels: frozenset[ChannelId] | None = None
    protected: StrictBool = False
    approvers: frozenset[ApproverId] | None = None  # users (U…, W…) and user groups (S…)
    max_epochs: Annotated[StrictInt, AfterValidator(_epochs)] | None = None
    feedback: StrictBool = True  # false refuses `feedback=true`
    teams: frozenset[TeamId] | None = None  # workspaces (T…) and orgs (E…); None: everywhere

    @field_validator("*", mode="before")
    @classmethod
    def _no_blank_value(cls, value: Any, info: ValidationInfo) -> Any:
        # `allow_users:` with nothing after it is YAML null; a forgotten value, not "unset".
        if value is None:
            if info.field_name == "match":
                raise ValueError('must be a glob such as "PROD*"')
            raise ValueError("has no value; give one or leave the key out")
        return value

    @field_validator("allow_users", "allow_groups", "allow_channels", "approvers", "teams")
    @classmethod
    def _not_empty(cls, value: frozenset[str], info: ValidationInfo) -> frozenset[str]:
        if not value:
            raise ValueError(_EMPTY_LIST[str(info.field_name)])
        return value


class PolicyFile(BaseModel):
    """The whole policy file: a list of rules under `models:`, the first match wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[RuleEntry, ...]


def _matches_everything(pattern: str) -> bool:
    return set(pattern) == {"*"}


def _shadowing(entries: Sequence[RuleEntry], index: int) -> int | None:
    """The earlier rule that takes every request `entries[index]` would match, if one is obvious:
    its glob takes the same models, and it holds in every workspace this one holds in."""
    pattern = entries[index].match
    literal = not (_GLOB_CHARS & set(pattern))
    for earlier in range(index):
        other = entries[earlier].match
        if not covers(entries[earlier].teams, entries[index].teams):
            continue
        if _matches_everything(other) or other == pattern:
            return earlier
        if literal and fnmatch.fnmatchcase(pattern, other):
            return earlier
    return None


def entry_problems(entries: Sequence[RuleEntry]) -> list[tuple[Loc, str]]:
    """Mistakes pydantic cannot see in one field: approvers without protection, dead rules."""
    problems: list[tuple[Loc, str]] = []
    for index, entry in enumerate(entries):
        if entry.approvers is not None and not entry.protected:
            problems.append(
                (
                    ("models", index, "approvers"),
                    "only apply to protected models; add `protected: true` or remove approvers",
                )
            )
        earlier = _shadowing(entries, index)
        if earlier is not None:
            where = "" if entry.teams is None else " in the workspaces this rule names"
            problems.append(
                (
                    ("models", index, "match"),
                    f"`{entry.match}` never applies: rule {earlier + 1}"
                    f" (`{entries[earlier].match}`) matches those models first{where}",
                )
            )
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRule:
    """A validated per-model rule; `number` (from 1) and `line` say where it is in the file."""

    match: str
    number: int
    line: int
    allow_users: frozenset[str] | None = None
    allow_groups: frozenset[str] | None = None
    allow_channels: frozenset[str] | None = None
    protected: bool = False
    approvers: frozenset[str] | None = None
    max_epochs: int | None = None
    feedback: bool = True
    teams: frozenset[str] | None = None

    @classmethod
    def from_entry(cls, entry: RuleEntry, *, number: int, line: int) -> ModelRule:
        return cls(number=number, line=line, **entry.model_dump())

    def matches(self, model_id: str) -> bool:
        """Whether the glob matches the model ID; case-sensitive on every platform."""
        return fnmatch.fnmatchcase(model_id, self.match)

    def holds_in(self, *, team_id: str | None, enterprise_id: str | None) -> bool:
        """Whether the rule holds for a request from this workspace (and Enterprise Grid org)."""
        return in_workspaces(self.teams, team_id=team_id, enterprise_id=enterprise_id)

    @property
    def where(self) -> str:
        """Where the rule is, for messages: `policy file rule 1, line 2`."""
        return f"policy file rule {self.number}, line {self.line}"

    @property
    def limits_people(self) -> bool:
        """Whether the rule has its own user or group list (which replaces the global ones)."""
        return self.allow_users is not None or self.allow_groups is not None

    @property
    def approver_groups(self) -> frozenset[str]:
        """The user groups among the listed approvers (their members may approve)."""
        return frozenset(a for a in self.approvers or () if a.startswith("S"))

    def summary(self) -> str:
        """A short description for start-up logs, e.g. `PROD*` (own users, protected)."""
        notes = []
        if self.limits_people:
            notes.append("own user list")
        if self.allow_channels is not None:
            notes.append("own channel list")
        if self.protected:
            approvers = "listed approvers" if self.approvers else "any allowed approver"
            notes.append(f"protected, {approvers}")
        if self.max_epochs is not None:
            notes.append(f"at most {self.max_epochs} epochs")
        if not self.feedback:
            notes.append("no feedback=true")
        if self.teams is not None:
            notes.append(workspaces_note(self.teams))
        return f"`{self.match}` ({', '.join(notes) or 'no limits'})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The rules of the policy file in order; `source` is the file, None when there is none."""

    rules: tuple[ModelRule, ...] = ()
    source: str | None = None

    def rule_for(
        self, model_id: str, *, team_id: str | None = None, enterprise_id: str | None = None
    ) -> ModelRule | None:
        """The first rule that holds in the workspace and whose glob matches the model ID."""
        return next(
            (
                rule
                for rule in self.rules
                if rule.matches(model_id)
                and rule.holds_in(team_id=team_id, enterprise_id=enterprise_id)
            ),
            None,
        )

    def names_model(self, model_id: str) -> bool:
        """Whether some rule's glob matches the model, whatever its workspaces: when none of
        them holds in a request's workspace, the model is not retrained there."""
        return any(rule.matches(model_id) for rule in self.rules)

    @property
    def scoped(self) -> tuple[ModelRule, ...]:
        """The rules that name workspaces (`teams:`)."""
        return tuple(rule for rule in self.rules if rule.teams is not None)
