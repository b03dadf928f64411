"""What the simulator accepts: form, path and query validation, with Einstein's error shape.

Every refusal is an `ApiError` carrying the HTTP status and the `message` Einstein puts in its
JSON body. The exact wording of the live service's 400s is undocumented, so each message names
the offending parameter and the accepted values: a client bug shows up in one test failure.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALGORITHMS",
    "DEFAULT_SPLIT_RATIO",
    "MODEL_ID_PATTERN",
    "ApiError",
    "TrainRequest",
    "parse_dataset_id",
    "parse_model_id",
    "parse_page",
    "parse_train_request",
]

ALGORITHMS = ("intent", "multilingual-intent", "multilingual-intent-ood")
DEFAULT_SPLIT_RATIO = 0.8  # language default per the developer guide
MODEL_ID_PATTERN = re.compile(r"[A-Z2-7]{26}")
_MAX_EPOCHS = 1000
_MAX_NAME = 180
_TRAIN_PARAM_KEYS = ("trainSplitRatio", "withFeedback", "withGlobalDatasetId")


class ApiError(Exception):
    """A refusal the simulator answers as `{"message": ...}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class TrainRequest:
    """The parameters of `POST /train` or `/retrain`, checked and typed."""

    name: str | None = None
    dataset_id: int | None = None
    epochs: int | None = None
    algorithm: str | None = None
    train_params: str | None = None
    split_ratio: float = DEFAULT_SPLIT_RATIO
    with_feedback: bool = False


def parse_model_id(value: str | None) -> str:
    if value is None or not value.strip():
        raise ApiError(400, "modelId is required")
    if not MODEL_ID_PATTERN.fullmatch(value):
        raise ApiError(400, f"Invalid modelId '{value}': expected 26 characters from A-Z and 2-7")
    return value


def parse_dataset_id(value: str | None) -> int:
    if value is None or not value.strip():
        raise ApiError(400, "datasetId is required")
    try:
        dataset_id = int(value)
    except ValueError:
        raise ApiError(400, f"Invalid datasetId '{value}': expected an integer") from None
    if dataset_id <= 0:
        raise ApiError(400, f"Invalid datasetId '{value}': expected a positive integer")
    return dataset_id


def parse_page(query: Mapping[str, str], *, max_count: int) -> tuple[int, int]:
    """`offset` and `count` of a list call; `count` defaults to and may not exceed `max_count`."""
    offset = _query_int(query, "offset", default=0)
    count = _query_int(query, "count", default=max_count)
    if offset < 0:
        raise ApiError(400, "offset must be an integer of at least 0")
    if not 1 <= count <= max_count:
        raise ApiError(400, f"count must be an integer between 1 and {max_count}")
    return offset, count


def _query_int(query: Mapping[str, str], name: str, *, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got '{raw}'") from None


def parse_train_request(form: Mapping[str, str], *, new_model: bool) -> TrainRequest:
    """Check the fields of a train (`new_model`) or retrain form.

    Unknown form fields are ignored, as multipart frameworks do; unknown `trainParams` keys
    are refused, as a strict JSON binding does, so a misspelt key is not silently dropped.
    """
    name = dataset_id = None
    if new_model:
        dataset_id = parse_dataset_id(form.get("datasetId"))
        name = _parse_name(form.get("name"))
    if "learningRate" in form:
        _parse_learning_rate(form["learningRate"])  # checked, then ignored: N/A for language
    raw_params = form.get("trainParams") or None
    params = _parse_train_params(raw_params) if raw_params else {}
    return TrainRequest(
        name=name,
        dataset_id=dataset_id,
        epochs=_parse_epochs(form.get("epochs")),
        algorithm=_parse_algorithm(form.get("algorithm")),
        train_params=raw_params,
        split_ratio=_split_ratio(params.get("trainSplitRatio")),
        with_feedback=_with_feedback(params.get("withFeedback")),
    )


def _parse_name(value: str | None) -> str:
    if value is None or not value.strip():
        raise ApiError(400, "name is required")
    if len(value) > _MAX_NAME:
        raise ApiError(400, f"name must be at most {_MAX_NAME} characters")
    return value


def _parse_epochs(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        epochs = int(value)
    except ValueError:
        epochs = 0
    if not 1 <= epochs <= _MAX_EPOCHS:
        raise ApiError(400, f"epochs must be an integer between 1 and {_MAX_EPOCHS}, got '{value}'")
    return epochs


def _parse_learning_rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        rate = math.nan
    if not math.isfinite(rate) or rate < 0:
        raise ApiError(400, f"learningRate must be a non-negative number, got '{value}'")
    return rate


def _parse_algorithm(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in ALGORITHMS:
        raise ApiError(
            400, f"Invalid algorithm '{value}'. Valid values are: {', '.join(ALGORITHMS)}"
        )
    return value


def _parse_train_params(raw: str) -> dict[str, Any]:
    try:
        params = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"trainParams is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise ApiError(400, "trainParams must be a JSON object")
    for key in params:
        if key not in _TRAIN_PARAM_KEYS:
            raise ApiError(
                400,
                f"Unknown trainParams key '{key}'. Valid keys are: {', '.join(_TRAIN_PARAM_KEYS)}",
            )
    global_id = params.get("withGlobalDatasetId")
    if global_id is not None and (isinstance(global_id, bool) or not isinstance(global_id, int)):
        raise ApiError(400, "withGlobalDatasetId must be an integer")
    return params


def _split_ratio(value: Any) -> float:
    if value is None:
        return DEFAULT_SPLIT_RATIO
    # Salesforce's own smoke test sends the ratio as a string ("0.7"), so strings are tolerated.
    ratio = math.nan
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            ratio = float(value)
        except ValueError:
            ratio = math.nan
    if not 0 < ratio < 1:
        raise ApiError(
            400, f"trainSplitRatio must be a number greater than 0 and less than 1, got {value!r}"
        )
    return ratio


def _with_feedback(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, f"withFeedback must be true or false, got {value!r}")
