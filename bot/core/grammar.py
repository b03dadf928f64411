"""The `/retrain` grammar: command text in, a typed command or a `UsageError` out.

    /retrain <modelId> [split=<0..1>] [feedback=<true|false>] [epochs=<1..1000>]
             [algorithm=<intent|multilingual-intent|multilingual-intent-ood>]
             [global=<datasetId>] [lr=<0..1>]
    /retrain help [topic] | status <modelId> | list | cancel <modelId> | history [modelId]

Pure and synchronous. The options and their checks are the table in `options`; the subcommands
are the table `SUBCOMMANDS` here; the help text (`help`) is drawn from both.

Every text here is Slack mrkdwn: `&`, `<` and `>` are Slack's markup characters, so they are
written as `&amp;`, `&lt;` and `&gt;`, placeholders such as `<modelId>` included. A `UsageError`
message names one problem in plain words and is shown as is; the caller appends `USAGE`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from bot.core.kinds import closest
from bot.core.mrkdwn import code_safe, unescape
from bot.core.options import OPTION_SPELLINGS, OPTIONS, OptionSpec, RetrainOptions, find_option
from bot.errors import UsageError

__all__ = [
    "EXAMPLE_MODEL_ID",
    "MAX_MODEL_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "SUBCOMMANDS",
    "SUBCOMMANDS_BY_KEYWORD",
    "Cancel",
    "Command",
    "Help",
    "History",
    "ListJobs",
    "Retrain",
    "Status",
    "SubcommandSpec",
    "check_model_id",
    "parse_command",
    "parse_options",
]

MAX_TEXT_LENGTH: Final = 1000
MAX_MODEL_ID_LENGTH: Final = 64
EXAMPLE_MODEL_ID: Final = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
_MODEL_ID = re.compile(r"[A-Za-z0-9]+")


# --- commands ----------------------------------------------------------------------------------


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


def _check_model_id(word: str) -> str:
    if len(word) > MAX_MODEL_ID_LENGTH:
        raise UsageError(
            f"The model ID is too long ({len(word)} characters; at most {MAX_MODEL_ID_LENGTH})."
            f" Einstein model IDs are 26 letters and digits, like `{EXAMPLE_MODEL_ID}`."
        )
    # The ID ends up in Einstein URLs: `/`, `.` or `%` would change which resource is asked for.
    if _MODEL_ID.fullmatch(word) is None:
        raise UsageError(
            f"The model ID must be letters and digits only, like `{EXAMPLE_MODEL_ID}`,"
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
    spec = find_option(word)
    if spec is not None:
        if following is not None and "=" not in following:
            return UsageError(f"Missing `=`: write `{word}={code_safe(following)}`.")
        return UsageError(f"Option `{word}` needs a value, e.g. `{word}={spec.example}`.")
    key, colon, value = word.partition(":")
    if colon and find_option(key) is not None:
        return UsageError(f"Write `{key}={code_safe(value)}` with `=`, not `:`.")
    if _MODEL_ID.fullmatch(word) is not None:
        keyword = closest(model_word.lower(), SUBCOMMANDS_BY_KEYWORD)
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
    spec = find_option(typed_name)
    if spec is not None:
        return spec
    guess = closest(typed_name.lower(), OPTION_SPELLINGS)
    if guess is not None:
        hint = f" Did you mean `{OPTION_SPELLINGS[guess]}`?"
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
            f" e.g. `/retrain {EXAMPLE_MODEL_ID} {code_safe(words[0])}`."
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
    spec = find_option(topic)
    if spec is not None:
        return Help(topic=spec.name)
    if topic in SUBCOMMANDS_BY_KEYWORD:
        return Help(topic=topic)
    topics = {**OPTION_SPELLINGS, **{keyword: keyword for keyword in SUBCOMMANDS_BY_KEYWORD}}
    guess = closest(topic, topics)
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
SUBCOMMANDS_BY_KEYWORD: Final = {sub.keyword: sub for sub in SUBCOMMANDS}


def parse_command(text: str) -> Command:
    """Turn the slash command's text into a command; raise `UsageError` naming the problem."""
    text = unescape(text)
    _check_text(text, what="The command")
    words = text.split()  # splits on every Unicode space, including Slack's non-breaking ones
    if not words:
        return Help()
    sub = SUBCOMMANDS_BY_KEYWORD.get(words[0].lower())
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
