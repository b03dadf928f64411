"""`People`: an allow list's users and user groups, where both empty means everyone. Pure."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["People"]


@dataclass(frozen=True, slots=True)
class People:
    """A user list and a group list; both empty means everyone."""

    users: frozenset[str]
    groups: frozenset[str]

    @property
    def is_open(self) -> bool:
        return not self.users and not self.groups

    def admits(self, user: str, user_groups: frozenset[str]) -> bool:
        return self.is_open or user in self.users or not self.groups.isdisjoint(user_groups)

    def others_than(self, user: str) -> bool | None:
        """Whether someone besides `user` is admitted; None when groups make it unknowable."""
        if self.is_open or self.groups:
            return None
        return bool(self.users - {user})
