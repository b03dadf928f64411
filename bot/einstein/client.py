"""The Einstein Language client: a typed method for each language endpoint the bot uses.

Its calls are sent by `bot.einstein.transport`, the only code that speaks HTTP to Einstein's
language API. Every call is bounded: each request has a timeout, and a call with its retries and
waits ends within `RetryPolicy.budget` seconds (`bot.einstein.retry`). Every failure comes out as
one of the `EinsteinError` kinds in `bot.errors`, read from Einstein's answer by
`bot.einstein.answers`. What is retried, and why it is safe:

    call                  retried after                              because
    GET status, metrics,  connection errors, timeouts, 5xx, 429      reading twice changes nothing
    learning curve,
    dataset, examples
    POST retrain,         no connection made (refused, DNS); 429;    Einstein never processed it
    POST feedback         503 with Retry-After
    token (auth.py)       connection errors, timeouts, 5xx, 429      a spare token harms nothing
    any call, once        401: sent again with a fresh token         the refused request was not
                                                                     processed

Any other retrain failure (a timeout, a connection broken after sending, a 5xx) may hide a
training Einstein did start, so it is raised at once: the follower looks for that training
before it sends the retrain again. A feedback example sent twice would be stored twice, so
it follows the retrain's rule. How the retries wait, `Retry-After` included, is
`bot.einstein.retry`'s.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.core.options import RetrainOptions
from bot.einstein.auth import TokenSource
from bot.einstein.models import (
    TERMINAL_STATUSES,
    ApiUsage,
    Dataset,
    Example,
    LearningCurvePoint,
    Metrics,
    Training,
)
from bot.einstein.reading import parse_body, parse_items, safe_dataset_id, safe_model_id
from bot.einstein.retry import DEFAULT_RETRY, RetryPolicy
from bot.einstein.transport import Transport, unprocessed
from bot.errors import EinsteinError, EinsteinRejected
from bot.metrics import Metrics as BotMetrics

__all__ = ["KNOWN_STATUSES", "EinsteinClient"]

_LC_PAGE = 25  # the API's maximum page size for learning curves
_EXAMPLES_PAGE = 100  # the API's default page size for examples
_MAX_NAME = 180  # feedback example names, per the spec
KNOWN_STATUSES = TERMINAL_STATUSES | {"QUEUED", "RUNNING"}


class EinsteinClient:
    """Typed access to the language endpoints the bot uses.

    `timeout` bounds each request, `retry` each call (see the module docstring for what is
    retried). `problem` says why Einstein refuses the bot's credentials, for the operator.
    """

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        session: aiohttp.ClientSession,
        timeout: float = 20.0,
        retry: RetryPolicy = DEFAULT_RETRY,
        metrics: BotMetrics | None = None,
    ) -> None:
        self._transport = Transport(
            base_url=base_url,
            tokens=tokens,
            session=session,
            timeout=timeout,
            retry=retry,
            metrics=metrics,
        )

    @property
    def problem(self) -> str | None:
        """An operator message while Einstein refuses the credentials, else None."""
        return self._transport.problem

    async def api_usage(self) -> list[ApiUsage]:
        """`GET v2/apiusage`: the account's plan by month; the cheapest authenticated call."""
        body = await self._transport.call("GET", "v2/apiusage", what="API usage request")
        data = body.get("data")
        if not isinstance(data, list):
            raise EinsteinError("Einstein's API usage answer is malformed (no data list)")
        return parse_items(ApiUsage, data, what="API usage")

    async def retrain(self, model_id: str, options: RetrainOptions) -> Training:
        """`POST v2/language/retrain`: start a new training that keeps `model_id`."""
        model_id = safe_model_id(model_id)

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

        body = await self._transport.call(
            "POST", "v2/language/retrain", form=form, retry_on=unprocessed, what="retrain"
        )
        return _training(body, what="retrain answer")

    async def training_status(self, model_id: str) -> Training:
        """`GET v2/language/train/{modelId}`."""
        body = await self._transport.call(
            "GET", f"v2/language/train/{safe_model_id(model_id)}", what="status request"
        )
        return _training(body, what="training status")

    async def metrics(self, model_id: str) -> Metrics:
        """`GET v2/language/models/{modelId}`: metrics of the model's last training."""
        body = await self._transport.call(
            "GET", f"v2/language/models/{safe_model_id(model_id)}", what="metrics request"
        )
        return parse_body(Metrics, body, what="model metrics")

    async def learning_curve(self, model_id: str) -> list[LearningCurvePoint]:
        """`GET v2/language/models/{modelId}/lc`, every page."""
        return await self._transport.every_page(
            f"v2/language/models/{safe_model_id(model_id)}/lc",
            LearningCurvePoint,
            page=_LC_PAGE,
            what="learning curve",
        )

    async def dataset_id(self, model_id: str) -> int:
        """The dataset `model_id` was trained on: its training's `datasetId`."""
        training = await self.training_status(model_id)
        if training.dataset_id is None:
            raise EinsteinError("Einstein's training status names no datasetId")
        return training.dataset_id

    async def dataset(self, dataset_id: int) -> Dataset:
        """`GET v2/language/datasets/{datasetId}`: the dataset, with its labels."""
        body = await self._transport.call(
            "GET", f"v2/language/datasets/{safe_dataset_id(dataset_id)}", what="dataset request"
        )
        return parse_body(Dataset, body, what="dataset")

    async def feedback_examples(self, dataset_id: int) -> list[Example]:
        """`GET v2/language/datasets/{datasetId}/examples?source=feedback`, every page."""
        return await self._transport.every_page(
            f"v2/language/datasets/{safe_dataset_id(dataset_id)}/examples",
            Example,
            page=_EXAMPLES_PAGE,
            params={"source": "feedback"},
            what="examples",
        )

    async def feedback_count(self, dataset_id: int) -> int:
        """How many feedback examples the dataset has."""
        return len(await self.feedback_examples(dataset_id))

    async def add_feedback(
        self, model_id: str, *, document: str, expected_label: str, name: str | None = None
    ) -> Example:
        """`POST v2/language/feedback`: `document` becomes an example of `expected_label` in
        the dataset of `model_id`. Einstein refuses a label the dataset does not have
        (kind `unknown_label`) and an unknown model (`EinsteinNotFound`)."""
        model_id = safe_model_id(model_id)
        if not document.strip():
            raise EinsteinRejected("the document is empty", kind="invalid_parameter")
        if not expected_label.strip():
            raise EinsteinRejected("the expected label is empty", kind="invalid_parameter")
        if name is not None and not 0 < len(name) <= _MAX_NAME:
            raise EinsteinRejected(
                f"an example name has 1 to {_MAX_NAME} characters", kind="invalid_parameter"
            )

        def form() -> aiohttp.FormData:
            data = aiohttp.FormData(default_to_multipart=True)
            data.add_field("modelId", model_id)
            data.add_field("document", document)
            data.add_field("expectedLabel", expected_label)
            if name is not None:
                data.add_field("name", name)
            return data

        body = await self._transport.call(
            "POST", "v2/language/feedback", form=form, retry_on=unprocessed, what="feedback"
        )
        return parse_body(Example, body, what="feedback answer")


def _training(body: dict[str, Any], *, what: str) -> Training:
    # A status the bot does not know is passed on, not refused: the follower treats it as
    # still running (never as success) and says so in the log.
    return parse_body(Training, body, what=what)
