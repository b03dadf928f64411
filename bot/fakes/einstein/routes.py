"""The simulator's HTTP routes: each operation of the spec a handler, and how forms are read.

Route names are the spec's operation ids, which faults and `EinsteinSimulator.calls` refer to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot.fakes.einstein.faults import FORM_TYPES, flatten_form
from bot.fakes.einstein.requests import ApiError
from bot.fakes.einstein.service import LanguageService

__all__ = ["TOKEN_PATH", "error_response", "language_routes", "read_form"]

TOKEN_PATH = "/v2/oauth2/token"  # noqa: S105 - a URL path, not a secret
_MULTIPART = "multipart/form-data"

Answer = Callable[[web.Request], Awaitable[web.Response]]
Body = dict[str, Any]  # a JSON answer of the service


def language_routes(
    service: LanguageService, *, token: Answer, usage: Answer, strict_multipart: bool
) -> list[web.RouteDef]:
    """The routes of every call the simulator serves; `token` and `usage` answer those two."""

    def posted(call: Callable[[Mapping[str, str]], Body]) -> Answer:
        async def answer(request: web.Request) -> web.Response:
            form = await read_form(request, multipart=True, strict=strict_multipart)
            return web.json_response(call(form))

        return answer

    def named(call: Callable[[str], Body], name: str) -> Answer:
        async def answer(request: web.Request) -> web.Response:
            return web.json_response(call(request.match_info[name]))

        return answer

    def paged(call: Callable[[str, Mapping[str, str]], Body], name: str) -> Answer:
        async def answer(request: web.Request) -> web.Response:
            return web.json_response(call(request.match_info[name], request.query))

        return answer

    model, dataset = "/v2/language/models/{modelId}", "/v2/language/datasets/{datasetId}"
    return [
        web.post(TOKEN_PATH, token, name="generateTokenV2"),
        web.post("/v2/language/train", posted(service.train), name="train"),
        web.post("/v2/language/retrain", posted(service.retrain), name="retrain"),
        web.get(
            "/v2/language/train/{modelId}",
            named(service.training, "modelId"),
            name="getTrainStatusAndProgress",
        ),
        web.get(model, named(service.metrics, "modelId"), name="getTrainedModelMetrics"),
        web.get(
            f"{model}/lc",
            paged(service.learning_curve, "modelId"),
            name="getTrainedModelLearningCurve",
        ),
        web.get(
            f"{dataset}/models", paged(service.dataset_models, "datasetId"), name="getTrainedModels"
        ),
        web.get(dataset, named(service.dataset, "datasetId"), name="getDataset"),
        web.get(f"{dataset}/examples", paged(service.examples, "datasetId"), name="getExamples"),
        web.post("/v2/language/feedback", posted(service.feedback), name="provideFeedback"),
        web.get("/v2/apiusage", usage, name="getApiUsagePlansV2"),
    ]


async def read_form(
    request: web.Request, *, multipart: bool = False, strict: bool = True
) -> dict[str, str]:
    """The request's form fields; `ApiError` 400 for a body that is not a form (with
    `multipart` and `strict`, one that is not multipart/form-data)."""
    content_type = request.content_type
    if multipart and strict and content_type != _MULTIPART:
        raise ApiError(400, f"Content-Type must be {_MULTIPART}, got '{content_type}'")
    if content_type not in FORM_TYPES:
        raise ApiError(400, f"Expected a form body, got Content-Type '{content_type}'")
    try:
        return flatten_form(await request.post())
    except ValueError:
        raise ApiError(400, "The request body is not a readable form") from None


def error_response(status: int, message: str) -> web.Response:
    """An error as the simulator answers every one: JSON `{"message": ...}`."""
    return web.json_response({"message": message}, status=status)
