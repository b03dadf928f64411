"""The Einstein Language client: the only code that speaks HTTP to Einstein.

Every call has a timeout and every failure comes out as one of the `EinsteinError` kinds in
`bot.errors`; a 401 is answered once with a fresh token before it counts as an auth failure.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError

from bot.einstein.auth import TokenSource
from bot.einstein.models import LearningCurvePoint, Metrics, Training
from bot.errors import (
    EinsteinAuthError,
    EinsteinError,
    EinsteinNotFound,
    EinsteinRejected,
    EinsteinUnavailable,
)
from bot.grammar import RetrainOptions

__all__ = ["EinsteinClient"]

_Model = TypeVar("_Model", bound=BaseModel)
_LC_PAGE = 25  # the API's maximum page size for learning curves


class EinsteinClient:
    """Typed access to the language endpoints the bot uses."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        session: aiohttp.ClientSession,
        timeout: float = 20.0,
    ) -> None:
        self._base = base_url
        self._tokens = tokens
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def retrain(self, model_id: str, options: RetrainOptions) -> Training:
        """`POST v2/language/retrain`: start a new training that keeps `model_id`."""

        def form() -> aiohttp.FormData:
            # Built per attempt: aiohttp consumes a FormData when it is sent.
            data = aiohttp.FormData(default_to_multipart=True)
            data.add_field("modelId", model_id)
            for name, value in options.form_fields().items():
                data.add_field(name, value)
            params = options.train_params()
            if params:
                data.add_field("trainParams", json.dumps(params, separators=(",", ":")))
            return data

        body = await self._request("POST", "v2/language/retrain", form=form)
        return _parse(Training, body, what="retrain answer")

    async def training_status(self, model_id: str) -> Training:
        """`GET v2/language/train/{modelId}`."""
        body = await self._request("GET", f"v2/language/train/{model_id}")
        return _parse(Training, body, what="training status")

    async def metrics(self, model_id: str) -> Metrics:
        """`GET v2/language/models/{modelId}`: metrics of the model's last training."""
        body = await self._request("GET", f"v2/language/models/{model_id}")
        return _parse(Metrics, body, what="model metrics")

    async def learning_curve(self, model_id: str) -> list[LearningCurvePoint]:
        """`GET v2/language/models/{modelId}/lc`, every page."""
        points: list[LearningCurvePoint] = []
        offset = 0
        while True:
            body = await self._request(
                "GET",
                f"v2/language/models/{model_id}/lc",
                params={"offset": str(offset), "count": str(_LC_PAGE)},
            )
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise EinsteinError("Einstein's learning curve answer has no data list")
            try:
                points.extend(LearningCurvePoint.model_validate(item) for item in data)
            except ValidationError:
                raise EinsteinError("Einstein's learning curve answer is malformed") from None
            if len(data) < _LC_PAGE:
                return points
            offset += len(data)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        form: Any = None,
    ) -> Any:
        token = await self._tokens.token()
        status, body = await self._send(method, path, token=token, params=params, form=form)
        if status == 401 and self._tokens.can_refresh:
            # Tokens expire on Einstein's clock, not ours: one fresh token and one retry.
            token = await self._tokens.token(stale=token)
            status, body = await self._send(method, path, token=token, params=params, form=form)
        return _check(status, body, path=path)

    async def _send(
        self, method: str, path: str, *, token: str, params: dict[str, str] | None, form: Any
    ) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}
        try:
            async with self._session.request(
                method,
                self._base + path,
                headers=headers,
                params=params,
                data=form() if form is not None else None,
                timeout=self._timeout,
            ) as response:
                return response.status, await response.read()
        except TimeoutError:
            raise EinsteinUnavailable("Einstein did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise EinsteinUnavailable(
                f"could not reach Einstein ({exc.__class__.__name__})"
            ) from None


def _message(body: bytes) -> str | None:
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    message = decoded.get("message") if isinstance(decoded, dict) else None
    return message.strip() if isinstance(message, str) and message.strip() else None


def _check(status: int, body: bytes, *, path: str) -> Any:
    """Map an HTTP answer to its JSON body or the right error."""
    if status == 200:
        try:
            return json.loads(body)
        except ValueError:
            raise EinsteinUnavailable(
                "Einstein answered with a body that is not JSON", status=status
            ) from None
    message = _message(body)
    if status >= 500 or status == 429:
        raise EinsteinUnavailable(
            f"Einstein is unavailable (HTTP {status}{': ' + message if message else ''})",
            status=status,
        )
    if status == 401:
        raise EinsteinAuthError(message or "Einstein refused the access token", status=status)
    if status == 404:
        raise EinsteinNotFound(message or "Einstein does not know this model", status=status)
    if 400 <= status < 500:
        raise EinsteinRejected(
            message or f"Einstein refused the request (HTTP {status})", status=status
        )
    raise EinsteinError(f"unexpected HTTP {status} from Einstein for {path}", status=status)


def _parse(model: type[_Model], body: Any, *, what: str) -> _Model:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise EinsteinError(f"Einstein's {what} is malformed") from None
