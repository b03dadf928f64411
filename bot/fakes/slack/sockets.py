"""Socket Mode: `apps.connections.open` and the WebSocket Slack delivers envelopes over.

The app calls `apps.connections.open` with its app-level token (`xapp-…`) and gets a one-use
`ws://…/link/?ticket=…` URL; on connecting it is greeted with `hello`. A test then delivers a
slash command envelope (`send_slash_command`), which goes to one connected socket as
`{"envelope_id", "type": "slash_commands", "payload", "accepts_response_payload": true}`; the
app's ack, `{"envelope_id", "payload"?}`, is recorded in `acks` (reference §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import Collection
from typing import Any

from aiohttp import WSMsgType, web

from bot.fakes.slack.checks import ApiFailure

__all__ = ["SocketMode"]

LINK_PATH = "/link/"


class SocketMode:
    """Connections opened with an app token, the envelopes sent and the acks received."""

    def __init__(self, *, app_tokens: Collection[str] | None = None) -> None:
        self._app_tokens = frozenset(app_tokens) if app_tokens is not None else None
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.opened = 0

    def open(self, token: str | None, *, root_url: str) -> dict[str, Any]:
        """The answer to `apps.connections.open`."""
        if not token:
            raise ApiFailure("not_authed")
        if not token.startswith("xapp-"):
            raise ApiFailure("not_allowed_token_type")
        if self._app_tokens is not None and token not in self._app_tokens:
            raise ApiFailure("invalid_auth")
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        self.opened += 1
        ws_root = root_url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_root}{LINK_PATH}?ticket={ticket}"}

    @property
    def connected(self) -> int:
        return sum(1 for socket in self._sockets if not socket.closed)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """`GET /link/?ticket=…`: one connection, greeted with `hello`, acks recorded."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)  # a ticket opens one connection
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {
            "type": "hello",
            "num_connections": self.connected,
            "connection_info": {"app_id": "A0001"},
            "debug_info": {"host": "fake-slack"},
        }
        await socket.send_json(hello)
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive(message.data)
        finally:
            with contextlib.suppress(ValueError):
                self._sockets.remove(socket)
        return socket

    def _receive(self, text: str) -> None:
        with contextlib.suppress(ValueError):
            ack = json.loads(text)
            if isinstance(ack, dict) and isinstance(ack.get("envelope_id"), str):
                self.acks[ack["envelope_id"]] = ack

    async def deliver(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope of `kind` to a connected app; returns its envelope_id."""
        open_sockets = [socket for socket in self._sockets if not socket.closed]
        if not open_sockets:
            raise RuntimeError("no app is connected in Socket Mode")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": True,
        }
        await open_sockets[-1].send_json(envelope)
        return envelope_id

    async def wait_ack(self, envelope_id: str, *, timeout: float = 3.0) -> dict[str, Any]:  # noqa: ASYNC109 - a deadline, as in asyncio.wait_for
        """The app's ack of one envelope; TimeoutError after `timeout` (Slack's 3 s)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while envelope_id not in self.acks:
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(f"no ack of envelope {envelope_id} within {timeout} s")
            await asyncio.sleep(0.005)
        return self.acks[envelope_id]

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
