"""The `/retrain` grammar: command text in, a typed command or a `UsageError` out.

    /retrain <modelId> [split=<0..1>] [feedback=<true|false>] [epochs=<1..1000>]
             [algorithm=<intent|multilingual-intent|multilingual-intent-ood>]
             [global=<datasetId>] [lr=<0..1>]
    /retrain help [topic] | status <modelId> | list | cancel <modelId> | history [modelId]
             | notify [dm|off]

Pure and synchronous. The options and their checks are the table in `options`; the subcommands
are the table `SUBCOMMANDS` here; a model ID and `name=value` options are read by `words`;
the help text (`help`) is drawn from both tables.

Every text here is Slack mrkdwn: `&`, `<` and `>` are Slack's markup characters, so they are
written as `&amp;`, `&lt;` and `&gt;`, placeholders such as `<modelId>` included. A `UsageError`
message names one problem in plain words and is shown as is; the caller appends `USAGE`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from bot.core.autocommands import (
    Schedule,
    Schedules,
    Unschedule,
    When,
    parse_schedule,
    parse_schedules,
    parse_unschedule,
    parse_when,
)
from bot.core.kinds import closest
from bot.core.mrkdwn import code_safe, unescape
from bot.core.options import OPTION_SPELLINGS, RetrainOptions, find_option
from bot.core.words import EXAMPLE_MODEL_ID, check_model_word, check_text, parse_option_words
from bot.errors import UsageError

__all__ = [
    "SUBCOMMANDS",
    "SUBCOMMANDS_BY_KEYWORD",
    "Cancel",
    "Command",
    "Help",
    "History",
    "ListJobs",
    "Notify",
    "Retrain",
    "Status",
    "SubcommandSpec",
    "parse_command",
]

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


@dataclass(frozen=True, slots=True)
class Notify:
    mode: str | None = None  # "dm" or "off"; None asks what the current choice is


Command: TypeAlias = (
    Retrain
    | Help
    | Status
    | ListJobs
    | Cancel
    | History
    | Notify
    | Schedule
    | When
    | Schedules
    | Unschedule
)


def _parse_retrain(words: Sequence[str]) -> Retrain:
    if "=" in words[0]:
        raise UsageError(
            "Missing model ID: put it first,"
            f" e.g. `/retrain {EXAMPLE_MODEL_ID} {code_safe(words[0])}`."
        )
    model_id = check_model_word(words[0])
    return Retrain(model_id=model_id, options=parse_option_words(words, SUBCOMMANDS_BY_KEYWORD))


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
    return check_model_word(args[0])


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
    return History(model_id=check_model_word(args[0]) if args else None)


NOTIFY_MODES: Final = ("dm", "off")


def _parse_notify(args: Sequence[str]) -> Notify:
    if len(args) > 1:
        raise _too_many("notify", "one choice, `dm` or `off`", args[1])
    if not args:
        return Notify()
    mode = args[0].lower()
    if mode not in NOTIFY_MODES:
        raise UsageError(
            f"`notify` takes `dm` (results also by direct message) or `off` (the thread "
            f"only), not `{code_safe(args[0])}`: e.g. `/retrain notify dm`."
        )
    return Notify(mode=mode)


@dataclass(frozen=True, slots=True)
class SubcommandSpec:
    """A `/retrain <keyword> ...` command other than a retrain."""

    keyword: str
    argument: str  # as shown in the help; empty when it takes none
    description: str
    parse: Callable[[Sequence[str]], Command]
    details: str = ""  # said by `/retrain help <keyword>` after the one-line description


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
    SubcommandSpec(
        "notify",
        "dm|off",
        "also get each of your trainings' result by direct message (`dm`), or not (`off`)",
        _parse_notify,
        details=(
            "With `dm`, when a training you asked for ends, the bot also sends you a direct "
            "message (in its *Messages* tab) with the model, the outcome, the accuracy or the "
            "reason, and a link to the training's thread; once per training, whichever "
            "instance follows it. `off` (the default) keeps results in the thread only. The "
            "choice is yours alone, is kept across restarts and counts for trainings that "
            "are running when you make it. `/retrain notify` alone tells your current choice."
        ),
    ),
    SubcommandSpec(
        "schedule",
        '<modelId> cron="<cron>" [tz=<zone>] [options]',
        "retrain on a schedule: a 5-field cron line or @hourly, @daily, @weekly, @monthly,"
        " read in an IANA time zone (default UTC)",
        parse_schedule,
    ),
    SubcommandSpec(
        "when",
        "<modelId> feedback>=<N> [options]",
        "retrain (with feedback) once the model's dataset has N feedback examples more than"
        " at its last retrain",
        parse_when,
    ),
    SubcommandSpec("schedules", "", "the schedules and triggers, with their IDs", parse_schedules),
    SubcommandSpec("unschedule", "<id>", "remove a schedule or trigger", parse_unschedule),
)
SUBCOMMANDS_BY_KEYWORD: Final = {sub.keyword: sub for sub in SUBCOMMANDS}


def parse_command(text: str) -> Command:
    """Turn the slash command's text into a command; raise `UsageError` naming the problem."""
    text = unescape(text)
    check_text(text, what="The command")
    words = text.split()  # splits on every Unicode space, including Slack's non-breaking ones
    if not words:
        return Help()
    sub = SUBCOMMANDS_BY_KEYWORD.get(words[0].lower())
    if sub is not None:
        return sub.parse(words[1:])
    return _parse_retrain(words)
