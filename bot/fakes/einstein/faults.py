"""What tests can make the simulator do wrong, and what it saw.

A `Fault` answers matching calls with an error status (and optionally a body, a `Retry-After`
header and a delay) before authentication, as a gateway in front of the service would. A call
matches by operation id from the spec (`retrain`, `getTrainStatusAndProgress`, ...), by a path
glob (`/v2/language/train/*`) or `*`, optionally narrowed to one model id. Every request
received is kept as a `RecordedRequest` so tests can assert what the client sent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import Any

from aiohttp import hdrs, web
from multidict import CIMultiDict, MultiDictProxy

__all__ = [
    "FORM_TYPES",
    "Fault",
    "FaultPlan",
    "RecordedRequest",
    "fault_response",
    "flatten_form",
    "record_request",
]

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@dataclass(slots=True)
class RecordedRequest:
    """One request as received; `status` is filled in once it has been answered."""

    method: str
    path: str
    operation: str | None
    query: dict[str, str]
    headers: CIMultiDict[str]
    content_type: str
    form: dict[str, str] | None
    json: Any
    time: float
    status: int | None = None

    @property
    def model_id(self) -> str | None:
        """The model the call is about, from its path or its form."""
        parts = self.path.rstrip("/").split("/")
        for marker in ("train", "models"):
            if marker in parts[:-1]:
                return parts[parts.index(marker) + 1]
        return (self.form or {}).get("modelId")


@dataclass(slots=True)
class Fault:
    """An injected failure; `status=None` only delays, then the call is answered normally."""

    target: str = "*"
    status: int | None = 503
    times: int | None = 1  # None: every matching call, until cleared
    body: Any = None
    retry_after: float | str | None = None
    delay: float | None = None
    model_id: str | None = None
    hits: int = 0

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, request: RecordedRequest) -> bool:
        if self.model_id is not None and request.model_id != self.model_id:
            return False
        if self.target == "*":
            return True
        if self.target.startswith("/"):
            return fnmatchcase(request.path, self.target)
        return self.target == request.operation


class FaultPlan:
    """The faults in force: scripted ones first, in the order added, then the random rate."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._rate = 0.0
        self._rate_statuses: tuple[int, ...] = ()
        self._rate_target = Fault(target="*", times=None)
        self._rng = random.Random(0)

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def set_rate(
        self, rate: float, *, statuses: Sequence[int], seed: int, target: str, model_id: str | None
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if rate and not statuses:
            raise ValueError("statuses must name at least one status")
        self._rate = rate
        self._rate_statuses = tuple(statuses)
        self._rate_target = Fault(target=target, times=None, model_id=model_id)
        self._rng = random.Random(seed)

    def clear(self) -> None:
        self._faults.clear()
        self._rate = 0.0

    def pick(self, request: RecordedRequest) -> Fault | None:
        """The fault this request meets, if any; it counts as one hit."""
        for fault in self._faults:
            if not fault.spent and fault.matches(request):
                fault.hits += 1
                return fault
        if self._rate and self._rate_target.matches(request) and self._rng.random() < self._rate:
            return Fault(status=self._rng.choice(self._rate_statuses))
        return None


def fault_response(fault: Fault, status: int) -> web.Response:
    """The answer to a faulted call: JSON `{"message": <reason>}` unless `body` says otherwise."""
    headers = {}
    if fault.retry_after is not None:
        value = fault.retry_after
        headers[hdrs.RETRY_AFTER] = value if isinstance(value, str) else f"{value:g}"
    if fault.body is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return web.json_response({"message": phrase}, status=status, headers=headers)
    if isinstance(fault.body, str):
        return web.Response(status=status, text=fault.body, headers=headers)
    return web.json_response(fault.body, status=status, headers=headers)


async def record_request(request: web.Request, *, time: float) -> RecordedRequest:
    form: dict[str, str] | None = None
    payload: Any = None
    if request.body_exists:
        try:
            if request.content_type in FORM_TYPES:
                form = flatten_form(await request.post())
            elif request.content_type == "application/json":
                payload = await request.json()
        except ValueError:
            pass  # an unreadable body is recorded without content; the handler refuses it
    return RecordedRequest(
        method=request.method,
        path=request.path,
        operation=request.match_info.route.name,
        query=dict(request.query),
        headers=CIMultiDict(request.headers),
        content_type=request.content_type,
        form=form,
        json=payload,
        time=time,
    )


def flatten_form(data: MultiDictProxy[Any]) -> dict[str, str]:
    """Form fields as text, parts sent with a file name included.

    Python `requests` sends every `files=` entry as a part with a file name, Salesforce's own
    smoke tests among them (`files={"modelId": ...}`), and the live API reads such a part as
    the field's value: so does the simulator, whatever the file name says.
    """
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str):
            flat[key] = value
        elif isinstance(value, bytes):
            flat[key] = value.decode("utf-8", "replace")
        else:
            flat[key] = _file_text(value)
    return flat


def _file_text(field: Any) -> str:
    handle = getattr(field, "file", None)
    if handle is None:
        return str(getattr(field, "filename", ""))
    # The parsed form is cached per request and read twice (the log, then the handler).
    handle.seek(0)
    content = handle.read()
    handle.seek(0)
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
