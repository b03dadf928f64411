"""The `/retrain` options: the table `OPTIONS` and the validated value `RetrainOptions`. Pure.

One table drives parsing, validation, the canonical short form, the request fields and the help
text, so the help cannot promise what the parser refuses. Names are case-insensitive and each
option has a short name and Einstein's longer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from bot.core.kinds import Choice, Flag, Kind, OptionValue, Real, Whole
from bot.core.mrkdwn import code_safe
from bot.errors import UsageError

__all__ = ["OPTIONS", "OPTION_SPELLINGS", "OptionSpec", "RetrainOptions", "find_option"]

# Slack clients turn typed quotes into typographic ones, and not always into a matching pair.
_QUOTES: Final = "\"'\u201c\u201d\u2018\u2019\u201e\u201a\u00ab\u00bb"
_ALGORITHMS: Final = ("intent", "multilingual-intent", "multilingual-intent-ood")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One `/retrain` option: how it is typed, checked, sent to Einstein and explained."""

    name: str  # short name, used by `describe()` and the help
    long_name: str  # Einstein's parameter name, also accepted when typed
    attr: str  # the `RetrainOptions` field
    kind: Kind
    part: Literal["trainParams", "form"]  # where the value travels in the retrain request
    description: str
    default: str  # what Einstein does when the option is left out
    example: str

    def parse(self, typed_name: str, raw: str) -> OptionValue:
        """Check one raw value; errors name the option as the user typed it."""
        return self.kind.parse(typed_name, _unquote(typed_name, raw, self.example))


OPTIONS: Final[tuple[OptionSpec, ...]] = (
    OptionSpec(
        name="split",
        long_name="trainSplitRatio",
        attr="train_split_ratio",
        kind=Real(0.0, 1.0, high_inclusive=False, expected="a number between 0 and 1 (exclusive)"),
        part="trainParams",
        description="share of the examples used for training; the rest test the model",
        default="0.8",
        example="0.7",
    ),
    OptionSpec(
        name="feedback",
        long_name="withFeedback",
        attr="with_feedback",
        kind=Flag(),
        part="trainParams",
        description="also train on the feedback examples added to the dataset",
        default="false",
        example="true",
    ),
    OptionSpec(
        name="epochs",
        long_name="epochs",
        attr="epochs",
        kind=Whole(1, 1000, expected="a whole number from 1 to 1000", placeholder="1..1000"),
        part="form",
        description="passes over the training data; Einstein may stop early",
        default="chosen by Einstein from the dataset size",
        example="100",
    ),
    OptionSpec(
        name="algorithm",
        long_name="algorithm",
        attr="algorithm",
        kind=Choice(_ALGORITHMS),
        part="form",
        description="intent models only; `multilingual-intent-ood` answers no label for text"
        " that fits none",
        default="Einstein's choice",
        example="multilingual-intent-ood",
    ),
    OptionSpec(
        name="global",
        long_name="withGlobalDatasetId",
        attr="with_global_dataset_id",
        kind=Whole(
            1, 2**63 - 1, expected="a positive whole number (a dataset ID)", placeholder="datasetId"
        ),
        part="trainParams",
        description="also train on this Salesforce global dataset",
        default="none",
        example="1041763",
    ),
    OptionSpec(
        name="lr",
        long_name="learningRate",
        attr="learning_rate",
        kind=Real(0.0, 1.0, high_inclusive=True, expected="a number greater than 0 and at most 1"),
        part="form",
        description="learning rate; Einstein ignores it for intent and sentiment models",
        default="Einstein's choice",
        example="0.001",
    ),
)

# Lower-cased short and long names; keys are case-insensitive.
_BY_NAME: Final = {n.lower(): spec for spec in OPTIONS for n in (spec.name, spec.long_name)}
_BY_ATTR: Final = {spec.attr: spec for spec in OPTIONS}
OPTION_SPELLINGS: Final = {n.lower(): n for spec in OPTIONS for n in (spec.name, spec.long_name)}


def find_option(name: str) -> OptionSpec | None:
    """The option typed as `name`, by its short or long name in any case."""
    return _BY_NAME.get(name.lower())


@dataclass(frozen=True, slots=True)
class RetrainOptions:
    """Validated retrain options; None means "leave it to Einstein"."""

    train_split_ratio: float | None = None
    with_feedback: bool | None = None
    epochs: int | None = None
    algorithm: str | None = None
    with_global_dataset_id: int | None = None
    learning_rate: float | None = None

    def __post_init__(self) -> None:
        # Options also come from storage and other code, not only from the parser.
        for spec, value in self._set_options():
            if not spec.kind.accepts(value):
                raise ValueError(
                    f"{spec.attr}={value!r}: `{spec.name}` must be {spec.kind.expected}"
                )

    def _set_options(self) -> list[tuple[OptionSpec, OptionValue]]:
        pairs = ((spec, getattr(self, spec.attr)) for spec in OPTIONS)
        return [(spec, value) for spec, value in pairs if value is not None]

    def train_params(self) -> dict[str, float | bool | int]:
        """The set `trainParams` keys, for the request's JSON part."""
        return {
            spec.long_name: value
            for spec, value in self._set_options()
            # Only the algorithm is a string, and it travels as a form field.
            if spec.part == "trainParams" and not isinstance(value, str)
        }

    def form_fields(self) -> dict[str, str]:
        """The set top-level form fields (`epochs`, `algorithm`, `learningRate`) as strings."""
        return {
            spec.long_name: spec.kind.render(value)
            for spec, value in self._set_options()
            if spec.part == "form"
        }

    def describe(self) -> str:
        """Canonical short form, e.g. `split=0.7 feedback=true`, or `default options`.

        Typed after a model ID, the short form parses back to `self`; "default options" is
        for people, a bare model ID gives the defaults.
        """
        words = [f"{spec.name}={spec.kind.render(value)}" for spec, value in self._set_options()]
        return " ".join(words) or "default options"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form holding only the set options."""
        return {spec.attr: value for spec, value in self._set_options()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetrainOptions:
        """Inverse of `to_dict`; raises ValueError on unknown keys or values out of range."""
        unknown = sorted(set(data) - set(_BY_ATTR))
        if unknown:
            raise ValueError(f"unknown retrain options: {', '.join(unknown)}")
        return cls(**{key: value for key, value in data.items() if value is not None})


def _unquote(name: str, raw: str, example: str) -> str:
    value = raw.strip()
    if value and (value[0] in _QUOTES or value[-1] in _QUOTES):
        if len(value) < 2 or value[0] not in _QUOTES or value[-1] not in _QUOTES:
            raise UsageError(f"The value of `{name}` has an unmatched quote: `{code_safe(value)}`.")
        value = value[1:-1].strip()
    if not value:
        raise UsageError(f"`{name}` needs a value after `=`, e.g. `{name}={example}`.")
    return value
