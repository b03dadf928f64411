"""The words of a command: length and invisible characters, the model ID, `name=value` options.

Shared by the `/retrain` grammar (`bot.core.grammar`) and the forms, which check a typed model ID
and option values by the same rules. A `UsageError` names one problem in plain words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from bot.core.kinds import closest
from bot.core.mrkdwn import code_safe
from bot.core.options import OPTION_SPELLINGS, OPTIONS, OptionSpec, RetrainOptions, find_option
from bot.errors import UsageError

__all__ = [
    "EXAMPLE_MODEL_ID",
    "MAX_MODEL_ID_LENGTH",
    "MAX_TEXT_LENGTH",
    "check_model_id",
    "check_model_word",
    "check_text",
    "parse_option_words",
    "parse_options",
]

MAX_TEXT_LENGTH: Final = 1000
MAX_MODEL_ID_LENGTH: Final = 64
EXAMPLE_MODEL_ID: Final = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
_MODEL_ID = re.compile(r"[A-Za-z0-9]+")


# --- text and model IDs -----------------------------------------------------------------------


def check_text(text: str, *, what: str) -> None:
    """A `UsageError` if `text` is too long or holds an invisible character; `what` names it."""
    if len(text) > MAX_TEXT_LENGTH:
        raise UsageError(
            f"{what} is too long ({len(text)} characters); the limit is {MAX_TEXT_LENGTH}."
        )
    if text.isprintable():
        return  # no control, format or surrogate character (the usual case, checked in C)
    for char in text:
        # Whitespace of any kind separates words; other invisible characters would make a
        # model ID look right and still fail, so they are named instead.
        if not char.isspace() and unicodedata.category(char) in {"Cc", "Cf", "Cs"}:
            raise UsageError(
                f"{what} contains an invisible control character (U+{ord(char):04X});"
                " please retype it."
            )


def check_model_word(word: str) -> str:
    """`word` as a model ID, or a `UsageError` saying why it cannot be one."""
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
    check_text(word, what="The model ID")
    return check_model_word(word)


# --- /retrain <modelId> key=value ... ----------------------------------------------------------


def _spaced(key: str, tail: Sequence[str]) -> UsageError:
    """`key = value`, `key =value` or `key= value`: say how to write it."""
    after = tail[0][1:] if tail and tail[0] != "=" else ""
    if not after and len(tail) > 1 and "=" not in tail[1]:
        after = tail[1]
    shown = f"{code_safe(key)}={code_safe(after or '<value>')}"
    return UsageError(f"Write `{shown}` without spaces around `=`.")


def _bare_word(
    word: str, following: str | None, model_word: str, keywords: Collection[str]
) -> UsageError:
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
        keyword = closest(model_word.lower(), keywords)
        if keyword is not None:
            return UsageError(
                f"Unknown command `{code_safe(model_word)}`. Did you mean `{keyword}`?"
            )
        return UsageError(
            f"Only one model ID per command: found `{code_safe(model_word)}`"
            f" and then `{code_safe(word)}`."
        )
    return UsageError(f"Unexpected `{code_safe(word)}`: options are written `name=value`.")


def _pair_words(words: Sequence[str], keywords: Collection[str]) -> list[tuple[str, str]]:
    """Split `words[1:]` (after the model ID) into (typed name, raw value) pairs."""
    pairs: list[tuple[str, str]] = []
    for i in range(1, len(words)):
        word, following = words[i], words[i + 1] if i + 1 < len(words) else None
        key, equals, value = word.partition("=")
        if not equals:
            if following is not None and following.startswith("="):
                raise _spaced(word, words[i + 1 :])
            raise _bare_word(word, following, words[0], keywords)
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


def parse_options(pairs: Mapping[str, str]) -> RetrainOptions:
    """Validate option name -> raw value pairs (e.g. from a form) by the command's rules.

    Every given value must be non-empty: leave an unset field out of `pairs`.
    """
    for name, raw in pairs.items():
        check_text(raw, what=f"The value of `{code_safe(name)}`")
    return _build_options(pairs.items())


def parse_option_words(words: Sequence[str], keywords: Collection[str]) -> RetrainOptions:
    """The options in `words[1:]`, after the model ID; `keywords` are the subcommands, to
    suggest one when the "model ID" looks like a misspelt command."""
    return _build_options(_pair_words(words, keywords))
