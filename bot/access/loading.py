"""`load_policy`: the policy file in, a `Policy` out, or one `ConfigError` line naming the line.

The text is composed into YAML nodes once and constructed from those same nodes, so every error
pydantic reports (a path such as `models[1].max_epochs`) is walked back through the nodes to the
line it came from. Only `ConfigError` leaves this module, whatever the file holds.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml  # type: ignore[import-untyped,unused-ignore]  # types-PyYAML is not a dependency yet
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.access.rules import Loc, ModelRule, Policy, PolicyFile, RuleEntry, entry_problems
from bot.errors import ConfigError

__all__ = ["VARIABLE", "load_policy"]

VARIABLE: Final = "RETRAIN_POLICY_FILE"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_LIST_ERRORS: Final = frozenset({"list_type", "tuple_type", "set_type", "frozen_set_type"})
_MAPPING_ERRORS: Final = frozenset({"model_type", "dict_type", "model_attributes_type"})


@dataclass(frozen=True, slots=True)
class _Problem:
    line: int
    path: str
    message: str


def load_policy(path: Path) -> Policy:
    """Read and validate the policy file; an empty file (or only comments) has no rules."""
    parsed = _parse(_read(path), path=path)
    if parsed is None or parsed[1] is None:  # no document, only comments, `---` alone or `~`
        return Policy(source=str(path))
    root, data = parsed
    try:
        document = PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [_from_pydantic(error, root) for error in exc.errors(include_url=False)]
        raise ConfigError(_summary(path, problems)) from None
    problems = [_problem(root, loc, message) for loc, message in entry_problems(document.models)]
    if problems:
        raise ConfigError(_summary(path, problems))
    return Policy(rules=_rules(document, root), source=str(path))


# --- reading and parsing -----------------------------------------------------------------------


def _at(path: Path, line: int | None, detail: str) -> str:
    where = f" line {line}" if line is not None else ""
    return f"{VARIABLE} {path}{where}: {detail}"


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ConfigError(f"{VARIABLE} {path}: cannot read the file ({reason})") from None
    try:
        return raw.decode("utf-8-sig")  # an editor's byte order mark is harmless
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(_at(path, line, "the file is not UTF-8 text")) from None


def _parse(text: str, *, path: Path) -> tuple[yaml.Node, object] | None:
    """The root node and the data built from it; None when the text holds no document."""
    try:
        loader = yaml.SafeLoader(text)  # the reader already refuses control characters here
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error(exc, text=text, path=path)) from None
    root: yaml.Node | None = None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        # Checked before constructing: construction folds `<<` merges into the nodes.
        problems = _duplicate_keys(root)
        if problems:
            raise ConfigError(_summary(path, problems))
        return root, loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error(exc, text=text, path=path)) from None
    except (ValueError, OverflowError) as exc:
        # PyYAML's timestamp constructor lets `2024-13-01` escape as a bare ValueError.
        line = _failing_scalar_line(root) if root is not None else None
        raise ConfigError(_at(path, line, f"invalid YAML value: {exc}")) from None
    except RecursionError:
        raise ConfigError(_at(path, None, "invalid YAML: nested too deeply")) from None
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.YAMLError, *, text: str, path: Path) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        detail = f"invalid YAML: {exc.problem or exc.context or 'cannot parse'}"
        if exc.context and exc.problem and exc.context_mark is not None:
            detail += f" ({exc.context} on line {exc.context_mark.line + 1})"
        return _at(path, mark.line + 1 if mark is not None else None, detail)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        char = f" U+{exc.character:04X}" if isinstance(exc.character, int) else ""
        return _at(path, line, f"invalid YAML: character{char} is not allowed ({exc.reason})")
    return _at(path, None, f"invalid YAML: {exc}")


def _nodes(root: yaml.Node) -> list[tuple[yaml.Node, Loc]]:
    """Every node once (aliases share nodes) with a path to it; iterative, so depth is no risk."""
    seen: set[int] = set()
    found: list[tuple[yaml.Node, Loc]] = []
    stack: list[tuple[yaml.Node, Loc]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append((node, loc))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                step = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack += [(key, loc), (value, (*loc, step))]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, (*loc, index)) for index, item in enumerate(node.value)]
    return found


def _failing_scalar_line(root: yaml.Node) -> int | None:
    # A fresh constructor: the failed one is left mid-construction and refuses to go on.
    constructor = yaml.constructor.SafeConstructor()
    for node, _ in _nodes(root):
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except (ValueError, OverflowError, yaml.YAMLError):
                return int(node.start_mark.line) + 1
    return None


def _duplicate_keys(root: yaml.Node) -> list[_Problem]:
    # PyYAML keeps the last of two equal keys; a second `allow_users:` would silently win.
    problems: list[_Problem] = []
    for node, loc in _nodes(root):
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            line = int(key.start_mark.line) + 1
            earlier = first.get((key.tag, key.value))
            if earlier is None:
                first[key.tag, key.value] = line
                continue
            message = f"duplicate key (first on line {earlier})"
            problems.append(_Problem(line, _path((*loc, key.value)), message))
    return problems


# --- from pydantic errors to lines -------------------------------------------------------------


def _path(loc: Loc) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text


def _locate(root: yaml.Node, loc: Loc) -> int:
    """The line of the deepest node on `loc`; a mapping key's own line when the key is there."""
    node, line = root, int(root.start_mark.line) + 1
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next((p for p in node.value if getattr(p[0], "value", None) == str(step)), None)
            if pair is None:
                break
            node, line = pair[1], int(pair[0].start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if not 0 <= step < len(node.value):
                break
            node = node.value[step]
            line = int(node.start_mark.line) + 1
        else:
            break
    return line


def _problem(root: yaml.Node, loc: Loc, message: str) -> _Problem:
    return _Problem(_locate(root, loc), _path(loc), message)


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    names = {int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a YAML {type(value).__name__}")


def _unknown_key(loc: Loc) -> str:
    model: type[BaseModel] = RuleEntry if len(loc) > 1 else PolicyFile
    keys = list(model.model_fields)
    guess = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    if guess:
        return f"unknown key; did you mean `{guess[0]}`?"
    return "unknown key; expected " + ", ".join(f"`{key}`" for key in keys)


def _message(error: ErrorDetails) -> str:
    kind, loc, got = error["type"], error["loc"], _kind(error.get("input"))
    field = next((step for step in reversed(loc) if isinstance(step, str)), None)
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "invalid_key":
        return "unknown key; keys are words such as `match`"
    if kind == "missing":
        if field == "match":
            return 'is required (a glob on the model ID, e.g. "PROD*")'
        return "is required (the list of rules; `models: []` for none)"
    if kind in _MAPPING_ERRORS:
        if not loc:
            return f"the file must be a mapping with a `models:` list, not {got}"
        return f"must be a mapping of `key: value` lines, not {got}"
    if kind in _LIST_ERRORS:
        example = {
            "models": "a list of `- match: ...` items",
            "teams": "a list like [T0123ABCD, E0456EFGH]",
        }.get(str(field), "a list like [U0123ABCD]")
        return f"must be {example}, not {got}"
    if kind == "string_type":
        return f"must be text, not {got}"
    if kind == "int_type":
        return f"must be a whole number, not {got}"
    if kind == "bool_type":
        return f"must be true or false, not {got}"
    return error["msg"].removeprefix("Value error, ")


def _from_pydantic(error: ErrorDetails, root: yaml.Node) -> _Problem:
    loc = tuple(error["loc"])
    return _problem(root, loc, _message(error))


def _summary(path: Path, problems: list[_Problem]) -> str:
    # Start-up stops with one line: the first problem in the file, and how many more there are.
    first = min(problems, key=lambda problem: problem.line)
    detail = f"{first.path}: {first.message}" if first.path else first.message
    more = len(problems) - 1
    if more:
        detail += f" (and {more} more problem{'s' if more > 1 else ''})"
    return _at(path, first.line, detail)


def _rules(document: PolicyFile, root: yaml.Node) -> tuple[ModelRule, ...]:
    return tuple(
        ModelRule.from_entry(entry, number=index + 1, line=_locate(root, ("models", index)))
        for index, entry in enumerate(document.models)
    )
