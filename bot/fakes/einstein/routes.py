"""The simulator's HTTP routes: each operation of the spec a handler, and how forms are read.

Route names are the spec's operation ids, which faults and `EinsteinSimulator.calls` refer to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.fakes.einstein.faults import FORM_TYPES, flatten_form
from bot.fakes.einstein.requests import ApiError
from bot.fakes.einstein.service import LanguageService

__all__ = ["TOKEN_PATH", "error_response", "language_routes", "read_form"]

TOKEN_PATH = "/v2/oauth2/token"  # noqa: S105 - a URL path, not a secret
_MULTIPART = "multipart/form-data"

Answer = Callable[[web.Request], Awaitable[web.Response]]


def language_routes(
    service: LanguageService, *, token: Answer, usage: Answer, strict_multipart: bool
) -> list[web.RouteDef]:
    """The routes of every call the simulator serves; `token` and `usage` answer those two."""

    async def form(request: web.Request) -> dict[str, str]:
        return await read_form(request, multipart=True, strict=strict_multipart)

    async def train(request: web.Request) -> web.Response:
        return web.json_response(service.train(await form(request)))

    async def retrain(request: web.Request) -> web.Response:
        return web.json_response(service.retrain(await form(request)))

    async def status(request: web.Request) -> web.Response:
        return web.json_response(service.training(request.match_info["modelId"]))

    async def metrics(request: web.Request) -> web.Response:
        return web.json_response(service.metrics(request.match_info["modelId"]))

    async def curve(request: web.Request) -> web.Response:
        body = service.learning_curve(request.match_info["modelId"], request.query)
        return web.json_response(body)

    async def models(request: web.Request) -> web.Response:
        body = service.dataset_models(request.match_info["datasetId"], request.query)
        return web.json_response(body)

    async def dataset(request: web.Request) -> web.Response:
        return web.json_response(service.dataset(request.match_info["datasetId"]))

    async def examples(request: web.Request) -> web.Response:
        body = service.examples(request.match_info["datasetId"], request.query)
        return web.json_response(body)

    async def feedback(request: web.Request) -> web.Response:
        return web.json_response(service.feedback(await form(request)))

    return [
        web.post(TOKEN_PATH, token, name="generateTokenV2"),
        web.post("/v2/language/train", train, name="train"),
        web.post("/v2/language/retrain", retrain, name="retrain"),
        web.get("/v2/language/train/{modelId}", status, name="getTrainStatusAndProgress"),
        web.get("/v2/language/models/{modelId}", metrics, name="getTrainedModelMetrics"),
        web.get("/v2/language/models/{modelId}/lc", curve, name="getTrainedModelLearningCurve"),
        web.get("/v2/language/datasets/{datasetId}/models", models, name="getTrainedModels"),
        web.get("/v2/language/datasets/{datasetId}", dataset, name="getDataset"),
        web.get("/v2/language/datasets/{datasetId}/examples", examples, name="getExamples"),
        web.post("/v2/language/feedback", feedback, name="provideFeedback"),
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
