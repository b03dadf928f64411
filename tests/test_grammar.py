"""The `/retrain` grammar: every accepted form, every refusal and its message, round trips."""

from __future__ import annotations

import json
import re
import typing
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.core.grammar import (
    SUBCOMMANDS,
    Cancel,
    Command,
    Help,
    History,
    ListJobs,
    Notify,
    Retrain,
    Status,
    parse_command,
)
from bot.core.help import USAGE, render_help
from bot.core.options import OPTIONS, RetrainOptions
from bot.core.words import MAX_TEXT_LENGTH, parse_options
from bot.errors import UsageError

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
ALGORITHMS = ("intent", "multilingual-intent", "multilingual-intent-ood")
KEYWORDS = {sub.keyword for sub in SUBCOMMANDS}


def retrain(**options: Any) -> Retrain:
    return Retrain(model_id=MODEL, options=RetrainOptions(**options))


def refusal(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    return str(caught.value)


# --- accepted forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   \n ", Help()),
        ("help", Help()),
        ("HeLp", Help()),
        ("help split", Help(topic="split")),
        ("help TrainSplitRatio", Help(topic="split")),
        ("help lr", Help(topic="lr")),
        ("help STATUS", Help(topic="status")),
        (f"status {MODEL}", Status(model_id=MODEL)),
        (f"Status {MODEL}", Status(model_id=MODEL)),
        ("list", ListJobs()),
        ("LIST", ListJobs()),
        (f"cancel {MODEL}", Cancel(model_id=MODEL)),
        ("history", History()),
        (f"history {MODEL}", History(model_id=MODEL)),
        (MODEL, retrain()),
        ("abc123", Retrain(model_id="abc123", options=RetrainOptions())),
        ("M" * 64, Retrain(model_id="M" * 64, options=RetrainOptions())),
        (f"{MODEL} split=0.7", retrain(train_split_ratio=0.7)),
        (f"{MODEL} trainSplitRatio=0.7", retrain(train_split_ratio=0.7)),
        (f"{MODEL} SPLIT=.25", retrain(train_split_ratio=0.25)),
        (f"{MODEL} feedback=true", retrain(with_feedback=True)),
        (f"{MODEL} withFeedback=off", retrain(with_feedback=False)),
        (f"{MODEL} epochs=1", retrain(epochs=1)),
        (f"{MODEL} epochs=1000", retrain(epochs=1000)),
        (f"{MODEL} algorithm=intent", retrain(algorithm="intent")),
        (
            f"{MODEL} algorithm=Multilingual-Intent-OOD",
            retrain(algorithm="multilingual-intent-ood"),
        ),
        (f"{MODEL} global=1041763", retrain(with_global_dataset_id=1041763)),
        (f"{MODEL} withGlobalDatasetId=1", retrain(with_global_dataset_id=1)),
        (f"{MODEL} global={2**63 - 1}", retrain(with_global_dataset_id=2**63 - 1)),
        (f"{MODEL} lr=0.001", retrain(learning_rate=0.001)),
        (f"{MODEL} learningRate=1e-4", retrain(learning_rate=0.0001)),
        (f"{MODEL} lr=1", retrain(learning_rate=1.0)),
        (
            f"{MODEL} lr=0.01 global=7 algorithm=intent epochs=5 feedback=yes split=0.9",
            retrain(
                train_split_ratio=0.9,
                with_feedback=True,
                epochs=5,
                algorithm="intent",
                with_global_dataset_id=7,
                learning_rate=0.01,
            ),
        ),
    ],
)
def test_accepted_commands(text: str, expected: Command) -> None:
    """Each documented form parses to its command."""
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("word", "value"),
    [(w, True) for w in ("true", "TRUE", "yes", "Yes", "1", "on", "ON")]
    + [(w, False) for w in ("false", "False", "no", "NO", "0", "off", "Off")],
)
def test_boolean_spellings(word: str, value: bool) -> None:
    """true/false, yes/no, on/off and 1/0 are booleans in any case."""
    assert parse_command(f"{MODEL} feedback={word}") == retrain(with_feedback=value)


@pytest.mark.parametrize(
    "text",
    [
        f"  {MODEL} split=0.7  ",
        f"{MODEL}\u00a0split=0.7",  # non-breaking space, as Slack clients send
        f"{MODEL}\u2003split=0.7",
        f"{MODEL}\u3000split=0.7",
        f"{MODEL}\tsplit=0.7\n",
        f'{MODEL} split="0.7"',
        f"{MODEL} split='0.7'",
        f"{MODEL} split=\u201c0.7\u201d",
        f"{MODEL} split=\u20180.7\u2019",
        f"{MODEL} split=\u201d0.7\u201d",  # half-converted smart quotes
        f"{MODEL} split=+0.70",
        f"{MODEL} split=7e-1",
    ],
)
def test_separators_and_quotes(text: str) -> None:
    """Any Unicode whitespace separates words and values may be quoted, smart quotes too."""
    assert parse_command(text) == retrain(train_split_ratio=0.7)


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # model ID
        ("split=0.7", f"Missing model ID: put it first, e.g. `/retrain {MODEL} split=0.7`."),
        ("a/b", "The model ID must be letters and digits only"),
        ("../models", "got `../models`"),
        ("AB.CD", "got `AB.CD`"),
        ("AB%2FCD", "got `AB%2FCD`"),
        ("ÄBC", "got `ÄBC`"),
        ("M" * 65, "The model ID is too long (65 characters; at most 64)"),
        # keys
        (f"{MODEL} splt=0.7", "Unknown option `splt`. Did you mean `split`?"),
        (f"{MODEL} trainsplit=0.7", "Did you mean `trainSplitRatio`?"),
        (f"{MODEL} learnrate=0.1", "Did you mean `learningRate`?"),
        (f"{MODEL} colour=red", "Unknown option `colour`. Options are `split`, `feedback`"),
        (f"{MODEL} split=0.7 split=0.8", "Option `split` is given more than once."),
        (
            f"{MODEL} split=0.7 trainSplitRatio=0.8",
            "`split` and `trainSplitRatio` are the same option",
        ),
        (f"{MODEL} LR=0.1 learningrate=0.2", "Option `lr` is given more than once"),
        # shape
        (f"{MODEL} OTHERMODEL", f"Only one model ID per command: found `{MODEL}` and then"),
        (f"stauts {MODEL}", "Unknown command `stauts`. Did you mean `status`?"),
        (f"{MODEL} hello!", "Unexpected `hello!`: options are written `name=value`."),
        (f"{MODEL} split", "Option `split` needs a value, e.g. `split=0.7`."),
        (f"{MODEL} split 0.7", "Missing `=`: write `split=0.7`."),
        (f"{MODEL} split:0.7", "Write `split=0.7` with `=`, not `:`."),
        (f"{MODEL} split=", "`split` needs a value after `=`, e.g. `split=0.7`."),
        (f"{MODEL} split= epochs=3", "`split` needs a value after `=`"),
        (f'{MODEL} split=""', "`split` needs a value after `=`"),
        (f"{MODEL} split = 0.7", "Write `split=0.7` without spaces around `=`."),
        (f"{MODEL} split =0.7", "Write `split=0.7` without spaces around `=`."),
        (f"{MODEL} split= 0.7", "Write `split=0.7` without spaces around `=`."),
        (f"{MODEL} split =", "Write `split=&lt;value&gt;` without spaces around `=`."),
        ("split = 0.7", "Write `split=0.7` without spaces around `=`."),
        (f"{MODEL} split=0.7 =3", "`=3` needs an option name before `=`"),
        (f"{MODEL} split='0.7", "The value of `split` has an unmatched quote: `'0.7`."),
        # values
        (f"{MODEL} split=1.5", "`split` must be a number between 0 and 1 (exclusive), got `1.5`."),
        (f"{MODEL} split=0", "got `0`"),
        (f"{MODEL} split=1", "got `1`"),
        (f"{MODEL} split=nan", "got `nan`"),
        (f"{MODEL} split=abc", "got `abc`"),
        (
            f"{MODEL} split=0,7",
            "a dot as the decimal separator: write `split=0.7`, not `split=0,7`",
        ),
        (f"{MODEL} trainSplitRatio=2", "`trainSplitRatio` must be a number between 0 and 1"),
        (f"{MODEL} feedback=maybe", "`feedback` must be true or false"),
        (f"{MODEL} epochs=0", "`epochs` must be a whole number from 1 to 1000, got `0`."),
        (f"{MODEL} epochs=1001", "got `1001`"),
        (f"{MODEL} epochs=1.0", "got `1.0`"),
        (f"{MODEL} epochs=1_0", "got `1_0`"),
        (f"{MODEL} epochs=\u0661\u0662", "got `\u0661\u0662`"),  # Arabic-Indic digits
        (f"{MODEL} algorithm=multilingual", "Did you mean `multilingual-intent`?"),
        (f"{MODEL} algorithm=cnn", "`algorithm` must be one of `intent`, `multilingual-intent`"),
        (f"{MODEL} global=0", "`global` must be a positive whole number (a dataset ID), got `0`."),
        (f"{MODEL} global=-4", "got `-4`"),
        (f"{MODEL} global={2**63}", f"got `{2**63}`"),
        (f"{MODEL} lr=0", "`lr` must be a number greater than 0 and at most 1, got `0`."),
        (f"{MODEL} lr=1.01", "got `1.01`"),
        (f"{MODEL} lr=inf", "got `inf`"),
        (f"{MODEL} lr=1e999", "got `1e999`"),
        (f"{MODEL} lr=0,001", "write `lr=0.001`"),
        # subcommands
        ("status", "`status` needs a model ID: `/retrain status &lt;modelId&gt;`."),
        ("cancel", "`cancel` needs a model ID"),
        (f"status {MODEL} extra", "`status` takes one model ID; unexpected `extra`."),
        ("status a/b", "The model ID must be letters and digits only"),
        ("list all", "`list` takes nothing after it; unexpected `all`."),
        (f"history {MODEL} {MODEL}", "`history` takes at most one model ID"),
        ("help me please", "`help` takes at most one topic; unexpected `please`."),
        ("help splt", "There is no help on `splt`. Did you mean `split`?"),
        # text as a whole
        (
            "x" * (MAX_TEXT_LENGTH + 1),
            "The command is too long (1001 characters); the limit is 1000.",
        ),
        (f"{MODEL}\x00", "invisible control character (U+0000)"),
        (f"{MODEL} split=0.\x077", "invisible control character (U+0007)"),
        (f"{MODEL}\u200b", "invisible control character (U+200B)"),
        (f"{MODEL}\ufeff split=0.7", "invisible control character (U+FEFF)"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    """Each malformed input is refused with a message naming its specific problem."""
    assert message in refusal(text)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"{MODEL} <@U123>", "`&lt;@U123&gt;`"),
        (f"{MODEL} &lt;!channel&gt;", "`&lt;!channel&gt;`"),  # as Slack delivers it
        (f"{MODEL} a`b", "`a'b`"),
        (f"{MODEL} split={'9' * 100}", "`" + "9" * 39 + "…`"),
    ],
)
def test_echoed_text_is_safe_mrkdwn(text: str, shown: str) -> None:
    """Quoted user text cannot mention anyone, end its code span or flood the message."""
    assert shown in refusal(text)


# --- RetrainOptions ----------------------------------------------------------------------------


FULL = RetrainOptions(
    train_split_ratio=0.7,
    with_feedback=True,
    epochs=100,
    algorithm="multilingual-intent",
    with_global_dataset_id=1041763,
    learning_rate=0.001,
)


def test_train_params_of_full_options() -> None:
    """train_params holds the trainParams keys with JSON-native values."""
    assert FULL.train_params() == {
        "trainSplitRatio": 0.7,
        "withFeedback": True,
        "withGlobalDatasetId": 1041763,
    }


def test_form_fields_of_full_options() -> None:
    """form_fields holds the top-level form fields as strings."""
    assert FULL.form_fields() == {
        "epochs": "100",
        "algorithm": "multilingual-intent",
        "learningRate": "0.001",
    }


def test_only_set_options_are_sent() -> None:
    """Unset options are left out of both request parts."""
    options = RetrainOptions(with_feedback=False, epochs=3)
    assert options.train_params() == {"withFeedback": False}
    assert options.form_fields() == {"epochs": "3"}
    assert RetrainOptions().train_params() == {}
    assert RetrainOptions().form_fields() == {}


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (RetrainOptions(), "default options"),
        (RetrainOptions(train_split_ratio=0.7, with_feedback=True), "split=0.7 feedback=true"),
        (RetrainOptions(learning_rate=1e-05, epochs=9), "epochs=9 lr=1e-05"),
        (
            FULL,
            "split=0.7 feedback=true epochs=100 algorithm=multilingual-intent global=1041763"
            " lr=0.001",
        ),
    ],
)
def test_describe(options: RetrainOptions, text: str) -> None:
    """describe gives the canonical short form in table order."""
    assert options.describe() == text


@pytest.mark.parametrize(
    "options", [FULL, RetrainOptions(epochs=1), RetrainOptions(learning_rate=5e-324)]
)
def test_describe_parses_back(options: RetrainOptions) -> None:
    """The canonical form, typed after a model ID, gives the same options."""
    assert parse_command(f"{MODEL} {options.describe()}") == Retrain(MODEL, options)


@pytest.mark.parametrize("options", [FULL, RetrainOptions(), RetrainOptions(with_feedback=False)])
def test_dict_round_trip_through_json(options: RetrainOptions) -> None:
    """to_dict survives JSON and from_dict restores equal options."""
    stored = json.loads(json.dumps(options.to_dict()))
    assert RetrainOptions.from_dict(stored) == options


def test_to_dict_holds_only_set_options() -> None:
    """to_dict leaves unset options out."""
    assert RetrainOptions(epochs=4).to_dict() == {"epochs": 4}


@pytest.mark.parametrize(
    "data",
    [
        {"colour": "red"},
        {"epochs": 0},
        {"epochs": "4"},
        {"epochs": True},
        {"with_feedback": "true"},
        {"train_split_ratio": 1.0},
        {"learning_rate": float("nan")},
        {"algorithm": "cnn"},
    ],
)
def test_from_dict_refuses_bad_data(data: dict[str, Any]) -> None:
    """Unknown keys and values the grammar would refuse raise ValueError."""
    with pytest.raises(ValueError, match=r"\S"):
        RetrainOptions.from_dict(data)


def test_options_cannot_be_built_out_of_range() -> None:
    """RetrainOptions checks its own values, whoever builds it."""
    with pytest.raises(ValueError, match="split"):
        RetrainOptions(train_split_ratio=1.5)


# --- parse_options -----------------------------------------------------------------------------


def test_parse_options_accepts_short_and_long_names() -> None:
    """parse_options takes the same names and values as the command."""
    pairs = {"SPLIT": " 0.7 ", "withFeedback": "yes", "learningRate": "\u201c0.5\u201d"}
    assert parse_options(pairs) == RetrainOptions(
        train_split_ratio=0.7, with_feedback=True, learning_rate=0.5
    )


def test_parse_options_of_nothing_is_default() -> None:
    """An empty mapping means default options."""
    assert parse_options({}) == RetrainOptions()


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ({"epochs": "0"}, "`epochs` must be a whole number from 1 to 1000, got `0`."),
        ({"split": ""}, "`split` needs a value after `=`"),
        ({"splt": "0.5"}, "Unknown option `splt`. Did you mean `split`?"),
        ({"lr": "0.1", "learningRate": "0.2"}, "Option `lr` is given more than once"),
        ({"epochs": "1\x002"}, "The value of `epochs` contains an invisible control character"),
        ({"global": "9" * 2000}, "The value of `global` is too long"),
    ],
)
def test_parse_options_refusals(pairs: dict[str, str], message: str) -> None:
    """parse_options refuses by the command's rules and names the field."""
    with pytest.raises(UsageError) as caught:
        parse_options(pairs)
    assert message in str(caught.value)


# --- usage and help ----------------------------------------------------------------------------


def test_help_names_every_option_and_command() -> None:
    """The help lists each option's short and long name and each subcommand."""
    text = render_help()
    for spec in OPTIONS:
        assert f"`{spec.name}=" in text
        assert f"`{spec.long_name}`" in text or spec.long_name == spec.name
        assert spec.default in text
    for sub in SUBCOMMANDS:
        assert f"`/retrain {sub.keyword}" in text


def test_usage_names_every_option() -> None:
    """The usage line shows every option in table order."""
    positions = [USAGE.index(f"[{spec.name}=") for spec in OPTIONS]
    assert positions == sorted(positions)
    assert USAGE.startswith("Usage: `/retrain &lt;modelId&gt; ")


def test_help_examples_parse() -> None:
    """Every example in the help is a command the parser accepts."""
    examples = re.findall(r"`/retrain ([A-Z0-9]{26}[^`]*)`", render_help())
    assert len(examples) >= 2
    for text in examples:
        assert isinstance(parse_command(text), Retrain)


def test_help_has_no_raw_angle_brackets() -> None:
    """Placeholders are escaped, so Slack does not read them as links."""
    assert "<" not in render_help().replace("&lt;", "")


@pytest.mark.parametrize(
    ("topic", "expected"), [("split", "trainSplitRatio"), ("status", "/retrain status")]
)
def test_help_on_one_topic(topic: str, expected: str) -> None:
    """Help on a topic shows just that option or command."""
    text = render_help(topic=topic)
    assert expected in text
    assert "passes over the training data" not in text


# --- properties --------------------------------------------------------------------------------

NAMES = st.sampled_from(
    [name for spec in OPTIONS for name in (spec.name, spec.long_name, spec.name.upper())]
    + ["splt", "lrate", "", "status"]
)
VALUES = st.sampled_from(
    [
        *("0.7", ".5", "0,7", "1e999", "-1", "nan", "inf", "9" * 30, "1000", "0", "true", "Off"),
        *("multilingual-intent", "intent", '"0.7"', "\u201c0.7\u201d", "'0.7", "", "&lt;x&gt;"),
    ]
)
JOINS = st.sampled_from(["=", "=", "=", "=", "=", " = ", " =", "= ", ":", " ", "=="])
HEADS = st.sampled_from([MODEL] * 8 + ["abc", "a/b", "", "stauts", *sorted(KEYWORDS)])
SEPARATORS = st.sampled_from([" ", "", "  ", "\t", "\n", "\u00a0", "\u3000"])
# Plain characters, plus plenty of the kinds the grammar treats specially (lone surrogates too).
ANY_CHAR = st.characters() | st.characters(categories=["Cc", "Cf", "Cs", "Zs", "Zl", "Zp"])


@st.composite
def option_like_texts(draw: st.DrawFn) -> str:
    """A head word, then words that mostly look like options, some of them slightly wrong."""
    option = st.tuples(NAMES, JOINS, VALUES).map("".join)
    noise = VALUES | st.text(alphabet=ANY_CHAR, max_size=3)
    word = st.integers(0, 7).flatmap(lambda roll: noise if roll == 0 else option)
    words = draw(st.lists(word, max_size=4))
    separators = draw(st.lists(SEPARATORS, min_size=len(words) + 1, max_size=len(words) + 1))
    text = draw(HEADS) + "".join(s + w for s, w in zip(separators, words, strict=False))
    return text + separators[-1]


@settings(max_examples=300)
@given(st.text() | st.text(alphabet=ANY_CHAR) | option_like_texts())
@example("x" * 5000)
@example(f"{MODEL} global={'9' * 990}")
@example("\ud800")
def test_no_text_raises_anything_but_usage_error(text: str) -> None:
    """Whatever is typed, the parser returns a command or raises UsageError."""
    try:
        command = parse_command(text)
    except UsageError:
        return
    assert isinstance(command, typing.get_args(Command))


@given(
    st.dictionaries(NAMES | st.text(max_size=8), VALUES | st.text(alphabet=ANY_CHAR, max_size=9))
)
def test_parse_options_raises_only_usage_error(pairs: dict[str, str]) -> None:
    """Whatever a form holds, parse_options returns options or raises UsageError."""
    try:
        options = parse_options(pairs)
    except UsageError:
        return
    assert isinstance(options, RetrainOptions)


@given(st.text(alphabet=ANY_CHAR) | option_like_texts())
def test_refusals_are_safe_mrkdwn(text: str) -> None:
    """A refusal never carries raw angle brackets or control characters into Slack."""
    try:
        parse_command(text)
    except UsageError as error:
        message = str(error)
    else:
        return
    assert message
    assert "<" not in message
    assert ">" not in message
    assert not any(unicodedata.category(char) in {"Cc", "Cf"} for char in message)
    message.encode()  # no lone surrogate: Slack only takes UTF-8


VALID_OPTIONS = st.builds(
    RetrainOptions,
    train_split_ratio=st.none() | st.floats(0, 1, exclude_min=True, exclude_max=True),
    with_feedback=st.none() | st.booleans(),
    epochs=st.none() | st.integers(1, 1000),
    algorithm=st.none() | st.sampled_from(ALGORITHMS),
    with_global_dataset_id=st.none() | st.integers(1, 2**63 - 1),
    learning_rate=st.none() | st.floats(0, 1, exclude_min=True),
)
MODEL_IDS = st.from_regex(r"[A-Za-z0-9]{1,64}", fullmatch=True).filter(
    lambda word: word.lower() not in KEYWORDS
)
CASES: st.SearchStrategy[Callable[[str], str]] = st.sampled_from(
    [str.lower, str.upper, str.swapcase, lambda word: word]
)
QUOTES = st.sampled_from([("", ""), ('"', '"'), ("'", "'"), ("\u201c", "\u201d")])
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


@st.composite
def option_words(draw: st.DrawFn, options: RetrainOptions) -> list[str]:
    """Each set option as `name=value`, in any spelling the grammar accepts."""
    words = []
    for spec in OPTIONS:
        value = getattr(options, spec.attr)
        if value is None:
            continue
        name = draw(CASES)(draw(st.sampled_from([spec.name, spec.long_name])))
        if isinstance(value, bool):
            raw = draw(CASES)(draw(st.sampled_from(TRUE_WORDS if value else FALSE_WORDS)))
        elif isinstance(value, float):
            raw = draw(st.sampled_from([repr(value), f"{value:.17g}", f"{value:.17e}"]))
        else:
            raw = draw(CASES)(str(value))
        opening, closing = draw(QUOTES)
        words.append(f"{name}={opening}{raw}{closing}")
    return draw(st.permutations(words))


@given(VALID_OPTIONS, MODEL_IDS, st.data())
def test_rendered_options_parse_back(
    options: RetrainOptions, model_id: str, data: st.DataObject
) -> None:
    """Valid options written in any order, case and name parse back to the same options."""
    words = [model_id, *data.draw(option_words(options))]
    count = len(words) + 1
    separators = data.draw(st.lists(SEPARATORS.filter(bool), min_size=count, max_size=count))
    text = separators[0] + "".join(w + s for w, s in zip(words, separators[1:], strict=True))
    assert parse_command(text) == Retrain(model_id=model_id, options=options)


@given(VALID_OPTIONS)
def test_describe_and_dict_round_trip(options: RetrainOptions) -> None:
    """describe (for non-default options) and to_dict/from_dict give back the same options."""
    if options != RetrainOptions():  # "default options" is for people, not for the parser
        assert parse_command(f"{MODEL} {options.describe()}") == Retrain(MODEL, options)
    assert RetrainOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options


@pytest.mark.parametrize(
    ("text", "expected"),
    [("notify dm", Notify("dm")), ("NOTIFY Off", Notify("off")), ("notify", Notify())],
)
def test_notify_takes_dm_or_off(text: str, expected: Notify) -> None:
    """`notify dm|off` parses case-insensitively; alone it asks for the current choice."""
    assert parse_command(text) == expected


@pytest.mark.parametrize(("text", "bad"), [("notify sms", "`sms`"), ("notify dm now", "`now`")])
def test_notify_refuses_other_words_by_name(text: str, bad: str) -> None:
    """Anything but one of dm and off is a usage error naming the word and the choices."""
    with pytest.raises(UsageError, match="`dm`") as refused:
        parse_command(text)
    assert bad in str(refused.value)
