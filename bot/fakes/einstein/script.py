"""Simulator scripts: a YAML file that says how each model's next trainings go, and which calls
fail, for `python -m bot simulator --script FILE` (the format is in the README).

    queue_seconds: 30            # defaults for every training (simulated seconds)
    run_seconds: 150
    models:
      - id: 7JXCXTRXTMNLJCEF2DR5CJ46QU   # optional: a new ID is made up
        labels: [billing, shipping, returns]
        trainings:                 # the next retrains, in order; later ones simply succeed
          - outcome: FAILED
            failure_msg: System error, training failed to complete
          - accuracy: 0.62         # a worse model than before
            metrics_not_found: 2   # its metrics answer 404 twice after the success
        faults:                    # this model's calls only
          - call: status
            status: 503
            times: 3
    faults:                        # any call
      - call: retrain
        status: 429
        retry_after: 20

A bad file is one `ConfigError` line: the file, the line, the field and what it expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, TypeGuard, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.errors import ConfigError
from bot.fakes.einstein.datasets import DEFAULT_LABELS
from bot.fakes.einstein.requests import MODEL_ID_PATTERN
from bot.fakes.einstein.simulator import EinsteinSimulator

__all__ = ["CALLS", "ModelScript", "SimulatorScript", "apply_script", "load_script"]

# Short names for the calls a fault can target, and the spec's operation ids they stand for.
CALLS = {
    "any": "*",
    "token": "generateTokenV2",
    "retrain": "retrain",
    "train": "train",
    "status": "getTrainStatusAndProgress",
    "metrics": "getTrainedModelMetrics",
    "learning_curve": "getTrainedModelLearningCurve",
    "models": "getTrainedModels",
    "dataset": "getDataset",
    "examples": "getExamples",
    "feedback": "provideFeedback",
}

Seconds = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingScript(_Strict):
    """How one coming training goes."""

    outcome: Literal["SUCCEEDED", "FAILED", "KILLED", "FAILED_WITH_RETRIES"] = "SUCCEEDED"
    failure_msg: str | None = Field(default=None, min_length=1)
    queue_seconds: Seconds | None = None
    run_seconds: Seconds | None = None
    epochs: int | None = Field(default=None, ge=1, le=1000)
    early_stop_at: int | None = Field(default=None, ge=1, le=1000)
    stall: bool = False
    metrics_not_found: int = Field(default=0, ge=0)
    accuracy: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _message_with_failed(self) -> TrainingScript:
        if self.failure_msg is not None and self.outcome != "FAILED":
            raise ValueError("failure_msg goes with outcome FAILED only, as Einstein sends it")
        return self


class FaultScript(_Strict):
    """A burst of failed calls: the next `times` matching calls answer `status`."""

    call: str = "any"
    status: int = Field(ge=400, le=599)
    times: int | None = Field(default=1, ge=1)
    retry_after: Seconds | None = None
    delay: Seconds | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _known_call(self) -> FaultScript:
        if self.call not in CALLS and not self.call.startswith("/"):
            raise ValueError(
                f"call must be one of {', '.join(CALLS)} or a path like /v2/language/*, "
                f"got {self.call!r}"
            )
        return self


class ModelScript(_Strict):
    """A model the simulator serves, and how its next trainings go."""

    id: str | None = None
    name: str | None = None
    labels: list[str] = Field(default=list(DEFAULT_LABELS), min_length=1)
    examples: int = Field(default=150, ge=1)
    feedback_examples: int = Field(default=0, ge=0)
    trained: bool = True
    trainings: list[TrainingScript] = Field(default_factory=list)
    faults: list[FaultScript] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid_model(self) -> ModelScript:
        if self.id is not None and not MODEL_ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"id must be 26 characters from A-Z and 2-7, got {self.id!r}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must differ from each other")
        if self.examples < len(self.labels):
            raise ValueError("examples must be at least one per label")
        return self


class SimulatorScript(_Strict):
    queue_seconds: Seconds = 30.0
    run_seconds: Seconds = 150.0
    models: list[ModelScript] = Field(default_factory=list)
    faults: list[FaultScript] = Field(default_factory=list)

    @model_validator(mode="after")
    def _distinct_ids(self) -> SimulatorScript:
        ids = [m.id for m in self.models if m.id is not None]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"model id {twice[0]} appears twice")
        return self


def load_script(path: str | Path) -> SimulatorScript:
    """The script in `path`, checked; a bad file raises one `ConfigError` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the simulator script ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the simulator script is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
        tree = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        detail = f" ({problem})" if problem else ""
        raise ConfigError(f"{path}{where}: not valid YAML{detail}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}, line 1: a simulator script is a mapping (models:, faults:)")
    try:
        return SimulatorScript.model_validate(data)
    except ValidationError as exc:
        # A misspelt field explains the missing one it leaves behind, so it is told first.
        error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = tuple(error["loc"])
        line = _line_of(tree, loc)
        where = f", line {line}" if line is not None else ""
        field = _dotted(loc) or "the script"
        if error["type"] == "extra_forbidden":
            known = ", ".join(_fields_at(loc[:-1]))
            raise ConfigError(
                f"{path}{where}: {field}: unknown field; expected one of {known}"
            ) from None
        got = "" if error["type"] in ("missing", "value_error") else f" (got {error['input']!r})"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{path}{where}: {field}: {message}{got}") from None


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The fields the script allows at `loc` (a mapping inside the script)."""
    model: type[BaseModel] = SimulatorScript
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        nested = [t for t in (annotation, *get_args(annotation)) if _is_model(t)]
        if not nested:
            break
        model = nested[0]
    return list(model.model_fields)


def _is_model(value: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of its nearest parent that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    child = value
                    line = key.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def apply_script(simulator: EinsteinSimulator, script: SimulatorScript) -> list[str]:
    """Add the script's models, their trainings and the faults to `simulator` (built with the
    script's `queue_seconds` and `run_seconds`); returns the model ids, in the script's order."""
    model_ids = [_add_model(simulator, model) for model in script.models]
    for fault in script.faults:
        _add_fault(simulator, fault, model_id=None)
    return model_ids


def _add_model(simulator: EinsteinSimulator, model: ModelScript) -> str:
    model_id = model.id or simulator.new_model_id()
    # Queued first: an untrained model's first training takes its script when it is added.
    for training in model.trainings:
        simulator.script(model_id, **training.model_dump())
    dataset_id = simulator.add_dataset(
        labels=model.labels, examples=model.examples, feedback_examples=model.feedback_examples
    )
    simulator.add_model(model_id, dataset_id=dataset_id, name=model.name, trained=model.trained)
    for fault in model.faults:
        _add_fault(simulator, fault, model_id=model_id)
    return model_id


def _add_fault(simulator: EinsteinSimulator, fault: FaultScript, *, model_id: str | None) -> None:
    simulator.fail_next(
        CALLS.get(fault.call, fault.call),
        status=fault.status,
        times=fault.times,
        body={"message": fault.message} if fault.message else None,
        retry_after=fault.retry_after,
        delay=fault.delay,
        model_id=model_id,
    )
