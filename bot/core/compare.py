"""What a retrain changed: a model's metrics before and after, compared. Pure; no I/O.

The bot records a model's metrics before it submits a retrain; once the retrain succeeded,
`compare_metrics` sets them beside the new ones and `render_comparison` turns the result into
Slack mrkdwn lines for the success reply. A `Comparison` is stored next to the job's `Result`
(`to_dict`/`from_dict`), so a restarted bot can still report it.

The confusion matrix is read as rows = expected label, columns = predicted label. For
`multilingual-intent-ood` models it has one more row and column than there are labels, for the
out-of-domain class; `confusion_labels` names that one `(out of domain)`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core.mrkdwn import escape, percent, shorten

if TYPE_CHECKING:  # the pure core does not load the API's models (pydantic) at run time
    from bot.einstein.models import MetricsData

__all__ = [
    "OUT_OF_DOMAIN",
    "Comparison",
    "ConfusedPair",
    "LabelMove",
    "compare_metrics",
    "confusion_labels",
    "regressions",
    "render_comparison",
]

OUT_OF_DOMAIN = "(out of domain)"
MAX_MOVERS = 3
MAX_PAIRS = 3
# Half a point of F1 is what reshuffling a small test split does on its own; it is not news.
MIN_MOVE = 0.005
MAX_LABEL_CHARS = 40
MAX_LISTED_LABELS = 5
# Deltas are differences of rounded floats (0.805 - 0.8 = 0.00500000000000004); comparing them
# at this precision keeps the threshold and tie order from depending on float noise.
_PRECISION = 9


@dataclass(frozen=True, slots=True)
class LabelMove:
    """A label's F1 before and after the retrain."""

    label: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class ConfusedPair:
    """Test examples of `expected` that the new model predicted as `predicted`."""

    expected: str
    predicted: str
    count: int
    share: float  # of all test examples whose expected label is `expected`


@dataclass(frozen=True, slots=True)
class Comparison:
    """The retrain's effect; `*_before` are None when the model had no earlier metrics."""

    accuracy_before: float | None = None
    accuracy_after: float | None = None
    macro_f1_before: float | None = None
    macro_f1_after: float | None = None
    movers_up: tuple[LabelMove, ...] = ()
    movers_down: tuple[LabelMove, ...] = ()
    new_labels: tuple[str, ...] = ()
    dropped_labels: tuple[str, ...] = ()
    confused_pairs: tuple[ConfusedPair, ...] = ()

    @property
    def accuracy_delta(self) -> float | None:
        return _delta(self.accuracy_before, self.accuracy_after)

    @property
    def macro_f1_delta(self) -> float | None:
        return _delta(self.macro_f1_before, self.macro_f1_after)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        # Lenient like `Result.from_dict`: rows written by an older or newer bot still load.
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("movers_up", "movers_down"):
            values[name] = tuple(LabelMove(**item) for item in values.get(name, ()))
        for name in ("new_labels", "dropped_labels"):
            values[name] = tuple(values.get(name, ()))
        values["confused_pairs"] = tuple(
            ConfusedPair(**item) for item in values.get("confused_pairs", ())
        )
        return cls(**values)


def compare_metrics(before: MetricsData | None, after: MetricsData) -> Comparison:
    """Compare a model's metrics before a retrain (None if it had none) with those after it."""
    pairs = _confused_pairs(after)
    if before is None:
        return Comparison(
            accuracy_after=_finite(after.test_accuracy),
            macro_f1_after=_finite(after.effective_macro_f1),
            confused_pairs=pairs,
        )
    up, down = _movers(before, after)
    new, dropped = _label_changes(before, after)
    return Comparison(
        accuracy_before=_finite(before.test_accuracy),
        accuracy_after=_finite(after.test_accuracy),
        macro_f1_before=_finite(before.effective_macro_f1),
        macro_f1_after=_finite(after.effective_macro_f1),
        movers_up=up,
        movers_down=down,
        new_labels=new,
        dropped_labels=dropped,
        confused_pairs=pairs,
    )


def regressions(comparison: Comparison, points: float) -> tuple[tuple[str, float], ...]:
    """The headline metrics that fell more than `points` percentage points, with their change
    in points (negative), e.g. `(("test accuracy", -3.4),)`."""
    fallen = []
    for name, delta in (
        ("test accuracy", comparison.accuracy_delta),
        ("macro F1", comparison.macro_f1_delta),
    ):
        if delta is not None and round(delta * 100, _PRECISION) < -points:
            fallen.append((name, round(delta * 100, 1)))
    return tuple(fallen)


def confusion_labels(
    labels: Sequence[str], matrix: Sequence[Sequence[int]]
) -> tuple[str, ...] | None:
    """The names of the matrix's rows and columns, or None when its shape does not fit `labels`."""
    size = len(matrix)
    if not labels or any(len(row) != size for row in matrix):
        return None
    if size == len(labels):
        return tuple(labels)
    if size == len(labels) + 1:
        return (*labels, OUT_OF_DOMAIN)
    return None


def render_comparison(comparison: Comparison) -> list[str]:
    """Slack mrkdwn lines for the success reply; only the new values when there is no before."""
    c = comparison
    lines = [
        line
        for line in (
            _change_line("Test accuracy", c.accuracy_before, c.accuracy_after),
            _change_line("Macro F1", c.macro_f1_before, c.macro_f1_after),
        )
        if line
    ]
    if c.movers_up:
        lines.append("*F1 up*: " + ", ".join(_move_text(m) for m in c.movers_up))
    if c.movers_down:
        lines.append("*F1 down*: " + ", ".join(_move_text(m) for m in c.movers_down))
    if c.new_labels:
        lines.append("*New labels*: " + _label_list(c.new_labels))
    if c.dropped_labels:
        lines.append("*Dropped labels*: " + _label_list(c.dropped_labels))
    if c.confused_pairs:
        lines.append("*Most confused*: " + "; ".join(_pair_text(p) for p in c.confused_pairs))
    return lines


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _finite(value: float | None) -> float | None:
    # Python's json accepts NaN; a NaN would print as "nan%" and break every sort.
    return value if value is not None and math.isfinite(value) else None


def _movers(
    before: MetricsData, after: MetricsData
) -> tuple[tuple[LabelMove, ...], tuple[LabelMove, ...]]:
    old = before.label_f1()
    moves = [
        LabelMove(label, old[label], f1)
        for label, f1 in after.label_f1().items()
        if label in old and math.isfinite(f1) and math.isfinite(old[label])
    ]
    moves = [m for m in moves if round(abs(m.delta), _PRECISION) >= MIN_MOVE]
    moves.sort(key=lambda m: (-round(abs(m.delta), _PRECISION), m.label))
    up = tuple(m for m in moves if m.delta > 0)[:MAX_MOVERS]
    down = tuple(m for m in moves if m.delta < 0)[:MAX_MOVERS]
    return up, down


def _label_changes(
    before: MetricsData, after: MetricsData
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # Metrics without labels say nothing about labels; don't call every label new.
    if not before.labels or not after.labels:
        return (), ()
    old, new = dict.fromkeys(before.labels), dict.fromkeys(after.labels)
    return tuple(x for x in new if x not in old), tuple(x for x in old if x not in new)


def _confused_pairs(metrics: MetricsData) -> tuple[ConfusedPair, ...]:
    matrix = metrics.confusion_matrix
    names = confusion_labels(metrics.labels, matrix)
    if names is None:
        return ()
    found: list[tuple[int, int, ConfusedPair]] = []
    for row, counts in enumerate(matrix):
        total = sum(max(0, count) for count in counts)
        for col, count in enumerate(counts):
            if col != row and count > 0:
                pair = ConfusedPair(names[row], names[col], count, count / total)
                found.append((row, col, pair))
    # Most examples first; equal counts: the bigger share of its label, then matrix order.
    found.sort(key=lambda item: (-item[2].count, -item[2].share, item[0], item[1]))
    return tuple(pair for _, _, pair in found[:MAX_PAIRS])


def _change_line(name: str, before: float | None, after: float | None) -> str | None:
    if before is None and after is None:
        return None
    if before is None:
        return f"*{name}* {percent(after)}"
    line = f"*{name}* {percent(before)} → {percent(after)}"
    if after is not None:
        line += f" ({_points(after - before)})"
    return line


def _move_text(move: LabelMove) -> str:
    return f"{_label(move.label)} {_points(move.delta)}"


def _pair_text(pair: ConfusedPair) -> str:
    expected = _label(pair.expected)
    return (
        f"{expected} → {_label(pair.predicted)} ({pair.count}, {_share(pair.share)} of {expected})"
    )


def _label_list(labels: Sequence[str]) -> str:
    shown = ", ".join(_label(x) for x in labels[:MAX_LISTED_LABELS])
    rest = len(labels) - MAX_LISTED_LABELS
    return shown + (f" and {rest} more" if rest > 0 else "")


def _points(delta: float) -> str:
    points = round(delta * 100, 1)
    if points == 0:
        return "±0.0 pts"
    sign = "+" if points > 0 else "\N{MINUS SIGN}"
    return f"{sign}{abs(points):.1f} pts"


def _share(share: float) -> str:
    percent = round(share * 100)
    return "<1%" if percent == 0 else f"{percent}%"


def _label(name: str) -> str:
    """A label name safe inside mrkdwn: one line, at most 40 characters, entities escaped."""
    return escape(shorten(name, MAX_LABEL_CHARS))
