"""Modals and Home tabs: ``views.open``, ``views.update`` and ``views.publish``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from bot.fakes.slack.checks import MAX_VIEW_BLOCKS, ApiFailure, check_blocks
from bot.fakes.slack.records import BotIdentity, View
from bot.fakes.slack.reports import SlackEvent, ViewRecorded

__all__ = ["Views", "view_payload"]


class Views:
    """Every view the bot showed, and the live ones it may still update, in every workspace
    of the fake (view IDs and trigger IDs are unique across Slack)."""

    def __init__(self, *, clock: Callable[[], float], emit: Callable[[SlackEvent], None]) -> None:
        self._clock = clock
        self._emit = emit
        self._count = 0
        self._revision = 0
        self._live: dict[str, View] = {}
        self._by_external_id: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self.records: list[View] = []

    def open(self, *, trigger_id: object, view: object) -> View:
        """Open a modal; a trigger id works once, as in Slack."""
        if not trigger_id:
            raise ApiFailure("invalid_trigger_id")
        if str(trigger_id) in self._used_triggers:
            raise ApiFailure("exchanged_trigger_id")
        body = _decode_view(view, expected="modal")
        self._used_triggers.add(str(trigger_id))
        return self._record(self._new_id(), "open", body, user_id=None, trigger_id=str(trigger_id))

    def update(self, *, view_id: object, external_id: object, hash: object, view: object) -> View:
        """Replace a live modal, refusing a stale ``hash`` like Slack does."""
        live_id = str(view_id) if view_id else self._by_external_id.get(str(external_id or ""))
        current = self._live.get(live_id or "")
        if current is None:
            raise ApiFailure("not_found")
        if hash and str(hash) != current.hash:
            raise ApiFailure("hash_conflict")
        body = _decode_view(view, expected="modal")
        return self._record(current.id, "update", body, user_id=None, trigger_id=None)

    def publish(self, *, user_id: object, hash: object, view: object) -> View:
        """Publish a user's Home tab (one live Home view per user)."""
        if not user_id:
            raise ApiFailure("invalid_arguments")
        home_id = f"VHOME{user_id}"
        current = self._live.get(home_id)
        if hash and current is not None and str(hash) != current.hash:
            raise ApiFailure("hash_conflict")
        body = _decode_view(view, expected="home")
        return self._record(home_id, "publish", body, user_id=str(user_id), trigger_id=None)

    def _new_id(self) -> str:
        self._count += 1
        return f"V{self._count:010d}"

    def _record(
        self,
        view_id: str,
        action: Literal["open", "update", "publish"],
        body: dict[str, Any],
        *,
        user_id: str | None,
        trigger_id: str | None,
    ) -> View:
        self._revision += 1
        record = View(
            id=view_id,
            action=action,
            view=body,
            user_id=user_id,
            trigger_id=trigger_id,
            hash=f"1700000000.{self._revision:08d}",
            time=self._clock(),
        )
        self._live[view_id] = record
        if isinstance(body.get("external_id"), str):
            self._by_external_id[body["external_id"]] = view_id
        self.records.append(record)
        self._emit(ViewRecorded(record))
        return record


def view_payload(view: View, identity: BotIdentity) -> dict[str, Any]:
    """The ``view`` object Slack returns from ``views.*``."""
    return {
        "id": view.id,
        "team_id": identity.team_id,
        "app_id": identity.app_id,
        "bot_id": identity.bot_id,
        "state": {"values": {}},
        "hash": view.hash,
        "root_view_id": view.id,
        "previous_view_id": None,
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        **view.view,
    }


def _decode_view(value: object, *, expected: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ApiFailure("invalid_arguments") from None
    if not isinstance(value, Mapping) or value.get("type") != expected:
        raise ApiFailure("invalid_arguments", messages=[f"[ERROR] view type must be {expected}"])
    body = dict(value)
    body["blocks"] = check_blocks(body.get("blocks", []), limit=MAX_VIEW_BLOCKS)
    return body
