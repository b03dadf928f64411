"""The `/retrain` grammar: command text in, a typed command or a `UsageError` out.

    /retrain <modelId> [split=<0..1>] [feedback=<true|false>] [epochs=<1..1000>]
             [algorithm=<intent|multilingual-intent|multilingual-intent-ood>]
             [global=<datasetId>] [lr=<0..1>]
    /retrain help [topic] | status <modelId> | list | cancel <modelId> | history [modelId]

Pure and synchronous. One table, `OPTIONS`, drives parsing, validation, the canonical short form,
the request fields and the help text, so the help cannot promise what the parser refuses.

Every text here is Slack mrkdwn: `&`, `<` and `>` are Slack's markup characters, so they are
written as `&amp;`, `&lt;` and `&gt;`, placeholders such as `<modelId>` included. A `UsageError`
message names one problem in plain words and is shown as is; the caller appends `USAGE`.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from bot.core.mrkdwn import code_safe, escape, unescape
from bot.errors import UsageError

__all__ = [
    "MAX_MODEL_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "OPTIONS",
    "SUBCOMMANDS",
    "USAGE",
    "Cancel",
    "Command",
    "Help",
    "History",
    "ListJobs",
    "OptionSpec",
    "Retrain",
    "RetrainOptions",
    "Status",
    "SubcommandSpec",
    "check_model_id",
    "parse_command",
    "parse_options",
    "render_help",
]

MAX_TEXT_LENGTH: Final = 1000
MAX_MODEL_ID_LENGTH: Final = 64
_EXAMPLE_MODEL_ID: Final = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
_MODEL_ID = re.compile(r"[A-Za-z0-9]+")
# ASCII digits only: `float()` and `int()` also take Arabic-Indic digits, `1_000`, `nan` and `inf`.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")
# Slack clients turn typed quotes into typographic ones, and not always into a matching pair.
_QUOTES: Final = "\"'\u201c\u201d\u2018\u2019\u201e\u201a\u00ab\u00bb"
_TRUE_WORDS: Final = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS: Final = frozenset({"false", "no", "off", "0"})
_ALGORITHMS: Final = ("intent", "multilingual-intent", "multilingual-intent-ood")

OptionValue: TypeAlias = float | bool | int | str


# --- value kinds -------------------------------------------------------------------------------


def _must_be(name: str, expected: str, raw: str) -> str:
    return f"`{name}` must be {expected}, got `{code_safe(raw)}`."


@dataclass(frozen=True, slots=True)
class _Real:
    """A finite number above `low`, below (or up to) `high`."""

    low: float
    high: float
    high_inclusive: bool
    expected: str
    placeholder: str = "0..1"

    def parse(self, name: str, raw: str) -> float:
        if _DECIMAL.fullmatch(raw) is None:
            if raw.count(",") == 1 and _DECIMAL.fullmatch(raw.replace(",", ".")):
                dotted = raw.replace(",", ".")
                raise UsageError(
                    f"`{name}` takes a dot as the decimal separator: "
                    f"write `{name}={dotted}`, not `{name}={raw}`."
                )
            raise UsageError(_must_be(name, self.expected, raw))
        value = float(raw)  # `1e999` becomes inf, which `accepts` refuses
        if not self.accepts(value):
            raise UsageError(_must_be(name, self.expected, raw))
        return value

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        below_high = value <= self.high if self.high_inclusive else value < self.high
        return math.isfinite(value) and self.low < value and below_high

    def render(self, value: OptionValue) -> str:
        return repr(float(value))  # shortest text that reads back as the same float


@dataclass(frozen=True, slots=True)
class _Whole:
    """A whole number from `low` to `high`, both included."""

    low: int
    high: int
    expected: str
    placeholder: str

    def parse(self, name: str, raw: str) -> int:
        if _WHOLE.fullmatch(raw) is None:
            raise UsageError(_must_be(name, self.expected, raw))
        try:
            value = int(raw)
        except ValueError:  # more digits than Python converts; far out of range anyway
            raise UsageError(_must_be(name, self.expected, raw)) from None
        if not self.accepts(value):
            raise UsageError(_must_be(name, self.expected, raw))
        return value

    def accepts(self, value: object) -> bool:
        return type(value) is int and self.low <= value <= self.high  # True is an int too

    def render(self, value: OptionValue) -> str:
        return str(value)


@dataclass(frozen=True, slots=True)
class _Flag:
    """A boolean, spelled any way people spell one."""

    expected: str = "true or false (yes/no, on/off and 1/0 work too)"
    placeholder: str = "true|false"

    def parse(self, name: str, raw: str) -> bool:
        word = raw.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise UsageError(_must_be(name, self.expected, raw))

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool)

    def render(self, value: OptionValue) -> str:
        return "true" if value else "false"


@dataclass(frozen=True, slots=True)
class _Choice:
    """One of a few fixed words, case-insensitive, kept in the API's spelling."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        quoted = [f"`{choice}`" for choice in self.choices]
        return f"one of {', '.join(quoted[:-1])} or {quoted[-1]}"

    @property
    def placeholder(self) -> str:
        return "|".join(self.choices)

    def parse(self, name: str, raw: str) -> str:
        word = raw.lower()
        if word in self.choices:
            return word
        guess = _closest(word, self.choices)
        hint = f" Did you mean `{guess}`?" if guess else ""
        raise UsageError(f"{_must_be(name, self.expected, raw)}{hint}")

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value in self.choices

    def render(self, value: OptionValue) -> str:
        return str(value)


_Kind: TypeAlias = _Real | _Whole | _Flag | _Choice


# --- the option table --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One `/retrain` option: how it is typed, checked, sent to Einstein and explained."""

    name: str  # short name, used by `describe()` and the help
    long_name: str  # Einstein's parameter name, also accepted when typed
    attr: str  # the `RetrainOptions` field
    kind: _Kind
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
        kind=_Real(0.0, 1.0, high_inclusive=False, expected="a number between 0 and 1 (exclusive)"),
        part="trainParams",
        description="share of the examples used for training; the rest test the model",
        default="0.8",
        example="0.7",
    ),
    OptionSpec(
        name="feedback",
        long_name="withFeedback",
        attr="with_feedback",
        kind=_Flag(),
        part="trainParams",
        description="also train on the feedback examples added to the dataset",
        default="false",
        example="true",
    ),
    OptionSpec(
        name="epochs",
        long_name="epochs",
        attr="epochs",
        kind=_Whole(1, 1000, expected="a whole number from 1 to 1000", placeholder="1..1000"),
        part="form",
        description="passes over the training data; Einstein may stop early",
        default="chosen by Einstein from the dataset size",
        example="100",
    ),
    OptionSpec(
        name="algorithm",
        long_name="algorithm",
        attr="algorithm",
        kind=_Choice(_ALGORITHMS),
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
        kind=_Whole(
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
        kind=_Real(0.0, 1.0, high_inclusive=True, expected="a number greater than 0 and at most 1"),
        part="form",
        description="learning rate; Einstein ignores it for intent and sentiment models",
        default="Einstein's choice",
        example="0.001",
    ),
)

# Lower-cased short and long names; keys are case-insensitive.
_BY_NAME: Final = {n.lower(): spec for spec in OPTIONS for n in (spec.name, spec.long_name)}
_BY_ATTR: Final = {spec.attr: spec for spec in OPTIONS}
_SPELLING: Final = {n.lower(): n for spec in OPTIONS for n in (spec.name, spec.long_name)}


def _lookup(name: str) -> OptionSpec | None:
    return _BY_NAME.get(name.lower())


# --- commands ----------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Retrain:
    model_id: str
    options: RetrainOptions


@dataclass(frozen=True, slots=True)
class Help:
    topic: str | None = None  # an option's short name or a subcommand keyword


@dataclass(frozen=True, slots=True)
class Status:
    model_id: str


@dataclass(frozen=True, slots=True)
class ListJobs:
    pass


@dataclass(frozen=True, slots=True)
class Cancel:
    model_id: str


@dataclass(frozen=True, slots=True)
class History:
    model_id: str | None = None


Command: TypeAlias = Retrain | Help | Status | ListJobs | Cancel | History


# --- words -------------------------------------------------------------------------------------


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _check_text(text: str, *, what: str) -> None:
    if len(text) > MAX_TEXT_LENGTH:
        raise UsageError(
            f"{what} is too long ({len(text)} characters); the limit is {MAX_TEXT_LENGTH}."
        )
    for char in text:
        # Whitespace of any kind separates words; other invisible characters would make a
        # model ID look right and still fail, so they are named instead.
        if not char.isspace() and unicodedata.category(char) in {"Cc", "Cf", "Cs"}:
            raise UsageError(
                f"{what} contains an invisible control character (U+{ord(char):04X});"
                " please retype it."
            )


def _unquote(name: str, raw: str, example: str) -> str:
    value = raw.strip()
    if value and (value[0] in _QUOTES or value[-1] in _QUOTES):
        if len(value) < 2 or value[0] not in _QUOTES or value[-1] not in _QUOTES:
            raise UsageError(f"The value of `{name}` has an unmatched quote: `{code_safe(value)}`.")
        value = value[1:-1].strip()
    if not value:
        raise UsageError(f"`{name}` needs a value after `=`, e.g. `{name}={example}`.")
    return value


def _check_model_id(word: str) -> str:
    if len(word) > MAX_MODEL_ID_LENGTH:
        raise UsageError(
            f"The model ID is too long ({len(word)} characters; at most {MAX_MODEL_ID_LENGTH})."
            f" Einstein model IDs are 26 letters and digits, like `{_EXAMPLE_MODEL_ID}`."
        )
    # The ID ends up in Einstein URLs: `/`, `.` or `%` would change which resource is asked for.
    if _MODEL_ID.fullmatch(word) is None:
        raise UsageError(
            f"The model ID must be letters and digits only, like `{_EXAMPLE_MODEL_ID}`,"
            f" got `{code_safe(word)}`."
        )
    return word


def check_model_id(text: str) -> str:
    """Check a model ID given outside the command text (a form field) by the same rules."""
    word = text.strip()
    _check_text(word, what="The model ID")
    return _check_model_id(word)


# --- /retrain <modelId> key=value ... ----------------------------------------------------------


def _spaced(key: str, tail: Sequence[str]) -> UsageError:
    """`key = value`, `key =value` or `key= value`: say how to write it."""
    after = tail[0][1:] if tail and tail[0] != "=" else ""
    if not after and len(tail) > 1 and "=" not in tail[1]:
        after = tail[1]
    shown = f"{code_safe(key)}={code_safe(after or '<value>')}"
    return UsageError(f"Write `{shown}` without spaces around `=`.")


def _bare_word(word: str, following: str | None, model_word: str) -> UsageError:
    """A word without `=` where an option was expected."""
    spec = _lookup(word)
    if spec is not None:
        if following is not None and "=" not in following:
            return UsageError(f"Missing `=`: write `{word}={code_safe(following)}`.")
        return UsageError(f"Option `{word}` needs a value, e.g. `{word}={spec.example}`.")
    key, colon, value = word.partition(":")
    if colon and _lookup(key) is not None:
        return UsageError(f"Write `{key}={code_safe(value)}` with `=`, not `:`.")
    if _MODEL_ID.fullmatch(word) is not None:
        keyword = _closest(model_word.lower(), _SUBCOMMANDS_BY_KEYWORD)
        if keyword is not None:
            return UsageError(
                f"Unknown command `{code_safe(model_word)}`. Did you mean `{keyword}`?"
            )
        return UsageError(
            f"Only one model ID per command: found `{code_safe(model_word)}`"
            f" and then `{code_safe(word)}`."
        )
    return UsageError(f"Unexpected `{code_safe(word)}`: options are written `name=value`.")


def _pair_words(words: Sequence[str]) -> list[tuple[str, str]]:
    """Split `words[1:]` (after the model ID) into (typed name, raw value) pairs."""
    pairs: list[tuple[str, str]] = []
    for i in range(1, len(words)):
        word, following = words[i], words[i + 1] if i + 1 < len(words) else None
        key, equals, value = word.partition("=")
        if not equals:
            if following is not None and following.startswith("="):
                raise _spaced(word, words[i + 1 :])
            raise _bare_word(word, following, words[0])
        if not key:
            if i == 1:  # the "model ID" was really an option name: `/retrain split = 0.7`
                raise _spaced(words[0], words[i:])
            raise UsageError(
                f"`{code_safe(word)}` needs an option name before `=`, e.g. `split=0.7`."
            )
        if not value and following is not None and "=" not in following:
            raise _spaced(key, ["=", following])
        pairs.append((key, value))
    return pairs


def _resolve(typed_name: str) -> OptionSpec:
    spec = _lookup(typed_name)
    if spec is not None:
        return spec
    guess = _closest(typed_name.lower(), _SPELLING)
    if guess is not None:
        hint = f" Did you mean `{_SPELLING[guess]}`?"
    else:
        hint = " Options are " + ", ".join(f"`{spec.name}`" for spec in OPTIONS) + "."
    raise UsageError(f"Unknown option `{code_safe(typed_name)}`.{hint}")


def _build_options(pairs: Iterable[tuple[str, str]]) -> RetrainOptions:
    values: dict[str, Any] = {}
    typed_as: dict[str, str] = {}
    for typed_name, raw in pairs:
        spec = _resolve(typed_name)
        if spec.name in typed_as:
            first = typed_as[spec.name]
            same = first.lower() == typed_name.lower()
            also = "" if same else f" (`{first}` and `{typed_name}` are the same option)"
            raise UsageError(f"Option `{spec.name}` is given more than once{also}.")
        typed_as[spec.name] = typed_name
        values[spec.attr] = spec.parse(typed_name, raw)
    return RetrainOptions(**values)


def _parse_retrain(words: Sequence[str]) -> Retrain:
    if "=" in words[0]:
        raise UsageError(
            "Missing model ID: put it first,"
            f" e.g. `/retrain {_EXAMPLE_MODEL_ID} {code_safe(words[0])}`."
        )
    model_id = _check_model_id(words[0])
    return Retrain(model_id=model_id, options=_build_options(_pair_words(words)))


# --- subcommands -------------------------------------------------------------------------------


def _too_many(keyword: str, takes: str, extra: str) -> UsageError:
    return UsageError(f"`{keyword}` takes {takes}; unexpected `{code_safe(extra)}`.")


def _parse_help(args: Sequence[str]) -> Help:
    if len(args) > 1:
        raise _too_many("help", "at most one topic", args[1])
    if not args:
        return Help()
    topic = args[0].lower()
    spec = _lookup(topic)
    if spec is not None:
        return Help(topic=spec.name)
    if topic in _SUBCOMMANDS_BY_KEYWORD:
        return Help(topic=topic)
    topics = {**_SPELLING, **{keyword: keyword for keyword in _SUBCOMMANDS_BY_KEYWORD}}
    guess = _closest(topic, topics)
    hint = f" Did you mean `{topics[guess]}`?" if guess else ""
    raise UsageError(f"There is no help on `{code_safe(args[0])}`.{hint}")


def _required_model_id(keyword: str, args: Sequence[str]) -> str:
    if not args:
        raise UsageError(f"`{keyword}` needs a model ID: `/retrain {keyword} &lt;modelId&gt;`.")
    if len(args) > 1:
        raise _too_many(keyword, "one model ID", args[1])
    return _check_model_id(args[0])


def _parse_status(args: Sequence[str]) -> Status:
    return Status(model_id=_required_model_id("status", args))


def _parse_cancel(args: Sequence[str]) -> Cancel:
    return Cancel(model_id=_required_model_id("cancel", args))


def _parse_list(args: Sequence[str]) -> ListJobs:
    if args:
        raise _too_many("list", "nothing after it", args[0])
    return ListJobs()


def _parse_history(args: Sequence[str]) -> History:
    if len(args) > 1:
        raise _too_many("history", "at most one model ID", args[1])
    return History(model_id=_check_model_id(args[0]) if args else None)


@dataclass(frozen=True, slots=True)
class SubcommandSpec:
    """A `/retrain <keyword> ...` command other than a retrain."""

    keyword: str
    argument: str  # as shown in the help; empty when it takes none
    description: str
    parse: Callable[[Sequence[str]], Command]


SUBCOMMANDS: Final[tuple[SubcommandSpec, ...]] = (
    SubcommandSpec("help", "[topic]", "this text; a topic is an option or a command", _parse_help),
    SubcommandSpec("status", "<modelId>", "the model's latest training", _parse_status),
    SubcommandSpec("list", "", "the trainings the bot is following", _parse_list),
    SubcommandSpec(
        "cancel",
        "<modelId>",
        "stop following the model's training (Einstein cannot stop a training)",
        _parse_cancel,
    ),
    SubcommandSpec("history", "[modelId]", "past retrains, of one model or all", _parse_history),
)
_SUBCOMMANDS_BY_KEYWORD: Final = {sub.keyword: sub for sub in SUBCOMMANDS}


def parse_command(text: str) -> Command:
    """Turn the slash command's text into a command; raise `UsageError` naming the problem."""
    text = unescape(text)
    _check_text(text, what="The command")
    words = text.split()  # splits on every Unicode space, including Slack's non-breaking ones
    if not words:
        return Help()
    sub = _SUBCOMMANDS_BY_KEYWORD.get(words[0].lower())
    if sub is not None:
        return sub.parse(words[1:])
    return _parse_retrain(words)


def parse_options(pairs: Mapping[str, str]) -> RetrainOptions:
    """Validate option name -> raw value pairs (e.g. from a form) by the command's rules.

    Every given value must be non-empty: leave an unset field out of `pairs`.
    """
    for name, raw in pairs.items():
        _check_text(raw, what=f"The value of `{code_safe(name)}`")
    return _build_options(pairs.items())


# --- usage and help ----------------------------------------------------------------------------


def _option_usage(spec: OptionSpec) -> str:
    return escape(f"{spec.name}=<{spec.kind.placeholder}>")


def _command_usage(sub: SubcommandSpec) -> str:
    return escape(f"/retrain {sub.keyword} {sub.argument}".rstrip())


USAGE: Final = (
    "Usage: `/retrain &lt;modelId&gt; "
    + " ".join(f"[{_option_usage(spec)}]" for spec in OPTIONS)
    + "`"
)

_EXAMPLES: Final = (
    RetrainOptions(),
    RetrainOptions(train_split_ratio=0.7, with_feedback=True),
    RetrainOptions(epochs=100, algorithm="multilingual-intent-ood"),
)


def _option_line(spec: OptionSpec) -> str:
    also = f" (or `{spec.long_name}`)" if spec.long_name != spec.name else ""
    return (
        f"• `{_option_usage(spec)}`{also}: {spec.description}. Must be {spec.kind.expected}."
        f" Default: {spec.default}."
    )


def _command_line(sub: SubcommandSpec) -> str:
    return f"• `{_command_usage(sub)}`: {sub.description}."


def _example_line(options: RetrainOptions) -> str:
    words = ["/retrain", _EXAMPLE_MODEL_ID]
    if options != RetrainOptions():
        words.append(options.describe())
    return f"• `{' '.join(words)}`"


def render_help(*, topic: str | None = None) -> str:
    """Slack mrkdwn help; with a topic (from `Help.topic`), only that option or command."""
    if topic is not None:
        spec = _lookup(topic)
        if spec is not None:
            return f"{USAGE}\n{_option_line(spec)}"
        sub = _SUBCOMMANDS_BY_KEYWORD.get(topic.lower())
        if sub is not None:
            return _command_line(sub)
    lines = [
        "*Retrain an Einstein Language model*",
        USAGE,
        "",
        "*Options* (all optional; names are case-insensitive, values may be quoted)",
        *(_option_line(spec) for spec in OPTIONS),
        "",
        "*Other commands*",
        *(_command_line(sub) for sub in SUBCOMMANDS),
        "",
        "*Examples*",
        *(_example_line(options) for options in _EXAMPLES),
    ]
    return "\n".join(lines)
