"""Comparing a model's metrics before and after a retrain, and the lines that report it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.compare import (
    OUT_OF_DOMAIN,
    Comparison,
    ConfusedPair,
    LabelMove,
    compare_metrics,
    confusion_labels,
    regressions,
    render_comparison,
)
from bot.einstein.models import MetricsData

BEFORE: dict[str, Any] = {
    "labels": ["billing", "returns", "shipping", "account"],
    "f1": [0.80, 0.90, 0.85, 0.70],
    "macroF1": 0.85,
    "testAccuracy": 0.88,
    "confusionMatrix": [[9, 1, 0, 0], [0, 9, 1, 0], [0, 0, 10, 0], [1, 0, 0, 9]],
}
AFTER: dict[str, Any] = {
    "labels": ["billing", "returns", "shipping", "refunds"],
    "f1": [0.881, 0.92, 0.808, 0.75],
    "macroF1": 0.88,
    "testAccuracy": 0.912,
    "confusionMatrix": [[51, 7, 0, 0], [2, 40, 1, 0], [0, 3, 30, 3], [0, 0, 0, 20]],
}


def _metrics(data: dict[str, Any], **changes: Any) -> MetricsData:
    return MetricsData.model_validate({**data, **changes})


def _f1s(before: list[float], after: list[float]) -> Comparison:
    labels = [f"l{i}" for i in range(len(before))]
    return compare_metrics(
        _metrics({"labels": labels, "f1": before}), _metrics({"labels": labels, "f1": after})
    )


def test_headline_numbers() -> None:
    """Accuracy and macro F1 before, after and their deltas come from the two metrics."""
    c = compare_metrics(_metrics(BEFORE), _metrics(AFTER))
    assert (c.accuracy_before, c.accuracy_after) == (0.88, 0.912)
    assert (c.macro_f1_before, c.macro_f1_after) == (0.85, 0.88)
    assert c.accuracy_delta == pytest.approx(0.032)
    assert c.macro_f1_delta == pytest.approx(0.03)


def test_movers_up_and_down() -> None:
    """Labels present in both move up or down, biggest change first, with their F1s."""
    c = compare_metrics(_metrics(BEFORE), _metrics(AFTER))
    assert c.movers_up == (LabelMove("billing", 0.80, 0.881), LabelMove("returns", 0.90, 0.92))
    assert c.movers_down == (LabelMove("shipping", 0.85, 0.808),)
    assert c.movers_down[0].delta == pytest.approx(-0.042)


def test_new_and_dropped_labels() -> None:
    """Labels only in the new metrics are new, labels only in the old ones are dropped."""
    c = compare_metrics(_metrics(BEFORE), _metrics(AFTER))
    assert (c.new_labels, c.dropped_labels) == (("refunds",), ("account",))


def test_confused_pairs_from_new_matrix() -> None:
    """The top three off-diagonal cells of the new matrix, with their share of the row."""
    c = compare_metrics(_metrics(BEFORE), _metrics(AFTER))
    assert c.confused_pairs == (
        ConfusedPair("billing", "returns", 7, 7 / 58),
        ConfusedPair("shipping", "returns", 3, 3 / 36),
        ConfusedPair("shipping", "refunds", 3, 3 / 36),
    )


def test_no_before() -> None:
    """Without earlier metrics only the new values and confused pairs are known."""
    c = compare_metrics(None, _metrics(AFTER))
    assert (c.accuracy_before, c.macro_f1_before) == (None, None)
    assert (c.accuracy_delta, c.macro_f1_delta) == (None, None)
    assert (c.accuracy_after, c.macro_f1_after) == (0.912, 0.88)
    assert (c.movers_up, c.movers_down, c.new_labels, c.dropped_labels) == ((), (), (), ())
    assert len(c.confused_pairs) == 3


def test_macro_f1_falls_back_to_mean_f1() -> None:
    """Without a macroF1 field the mean of the per-label F1s stands in."""
    c = compare_metrics(None, _metrics(AFTER, macroF1=None, f1=[0.5, 0.7, 0.9, 0.9]))
    assert c.macro_f1_after == pytest.approx(0.75)


def test_not_a_number_counts_as_unknown() -> None:
    """A NaN accuracy is treated as missing rather than reported as 'nan%'."""
    c = compare_metrics(_metrics(BEFORE, testAccuracy=float("nan")), _metrics(AFTER))
    assert (c.accuracy_before, c.accuracy_delta) == (None, None)


@pytest.mark.parametrize(
    ("before", "after", "up", "down"),
    [
        ([0.8, 0.8], [0.804, 0.796], (), ()),
        ([0.8, 0.8], [0.805, 0.795], ("l0",), ("l1",)),
        ([0.5, 0.5, 0.5, 0.5, 0.5], [0.6, 0.7, 0.8, 0.9, 0.55], ("l3", "l2", "l1"), ()),
        ([0.9, 0.9, 0.9, 0.9], [0.8, 0.7, 0.6, 0.5], (), ("l3", "l2", "l1")),
    ],
    ids=["below-threshold", "at-threshold", "top-three-up", "top-three-down"],
)
def test_mover_threshold_and_limit(
    before: list[float], after: list[float], up: tuple[str, ...], down: tuple[str, ...]
) -> None:
    """Changes under half a point are ignored; at most three labels each way, biggest first."""
    c = _f1s(before, after)
    assert tuple(m.label for m in c.movers_up) == up
    assert tuple(m.label for m in c.movers_down) == down


def test_mover_ties_sort_by_label() -> None:
    """Equal changes (up to float noise) are ordered by label name."""
    labels = ["delta", "charlie", "bravo", "alpha"]
    before = _metrics({"labels": labels, "f1": [0.8, 0.7, 0.6, 0.5]})
    after = _metrics({"labels": labels, "f1": [0.9, 0.8, 0.7, 0.6]})
    c = compare_metrics(before, after)
    assert [m.label for m in c.movers_up] == ["alpha", "bravo", "charlie"]


def test_confused_pair_ties_prefer_share_then_matrix_order() -> None:
    """Equal counts rank by share of their row, then by position in the matrix."""
    after = _metrics(
        {"labels": ["a", "b", "c"], "confusionMatrix": [[10, 2, 2], [2, 2, 0], [0, 0, 5]]}
    )
    pairs = compare_metrics(None, after).confused_pairs
    assert [(p.expected, p.predicted) for p in pairs] == [("b", "a"), ("a", "b"), ("a", "c")]


def test_out_of_domain_row_and_column() -> None:
    """A matrix one larger than the labels has its extra class named out of domain."""
    after = _metrics({"labels": ["a", "b"], "confusionMatrix": [[5, 1, 0], [0, 6, 2], [4, 0, 9]]})
    assert compare_metrics(None, after).confused_pairs == (
        ConfusedPair(OUT_OF_DOMAIN, "a", 4, 4 / 13),
        ConfusedPair("b", OUT_OF_DOMAIN, 2, 2 / 8),
        ConfusedPair("a", "b", 1, 1 / 6),
    )


@pytest.mark.parametrize(
    "matrix",
    [
        [],
        [[1, 2], [3]],
        [[1, 2, 3], [4, 5, 6]],
        [[1, 2], [3, 4], [5, 6]],
        [[1, 0, 0, 0]] * 4,
        [[1]],
    ],
    ids=["empty", "ragged", "wide", "tall", "two-extra", "too-small"],
)
def test_malformed_matrix_gives_no_pairs(matrix: list[list[int]]) -> None:
    """A matrix whose shape does not fit the labels yields no pairs instead of an error."""
    after = _metrics({"labels": ["a", "b"], "confusionMatrix": matrix})
    assert compare_metrics(None, after).confused_pairs == ()


def test_confusion_labels_without_labels() -> None:
    """A matrix without any labels has no names, not a lone out-of-domain class."""
    assert confusion_labels([], [[3]]) is None


def test_perfect_matrix_has_no_pairs() -> None:
    """A diagonal matrix has nothing confused."""
    after = _metrics({"labels": ["a", "b"], "confusionMatrix": [[5, 0], [0, 7]]})
    assert compare_metrics(None, after).confused_pairs == ()


def test_render_lines() -> None:
    """The reply lines show before → after with points, movers, label changes and confusions."""
    lines = render_comparison(compare_metrics(_metrics(BEFORE), _metrics(AFTER)))
    assert lines == [
        "*Test accuracy* 88.0% → 91.2% (+3.2 pts)",
        "*Macro F1* 85.0% → 88.0% (+3.0 pts)",
        "*F1 up*: billing +8.1 pts, returns +2.0 pts",
        "*F1 down*: shipping \N{MINUS SIGN}4.2 pts",
        "*New labels*: refunds",
        "*Dropped labels*: account",
        "*Most confused*: billing → returns (7, 12% of billing); "
        "shipping → returns (3, 8% of shipping); shipping → refunds (3, 8% of shipping)",
    ]


def test_render_without_before() -> None:
    """Without earlier metrics the lines carry only the new values."""
    lines = render_comparison(compare_metrics(None, _metrics(AFTER)))
    assert lines[:2] == ["*Test accuracy* 91.2%", "*Macro F1* 88.0%"]
    assert lines[2].startswith("*Most confused*: billing → returns")
    assert len(lines) == 3


@pytest.mark.parametrize(
    ("before", "after", "line"),
    [
        (0.9, 0.85, "*Test accuracy* 90.0% → 85.0% (\N{MINUS SIGN}5.0 pts)"),
        (0.9, 0.9, "*Test accuracy* 90.0% → 90.0% (±0.0 pts)"),
        (0.9, None, "*Test accuracy* 90.0% → n/a"),
    ],
    ids=["worse", "same", "after-missing"],
)
def test_render_accuracy_line(before: float, after: float | None, line: str) -> None:
    """Falls show a minus sign, no change shows ±0.0, a missing new value shows n/a."""
    assert render_comparison(Comparison(accuracy_before=before, accuracy_after=after)) == [line]


def test_render_nothing_known() -> None:
    """A comparison without any numbers renders no lines."""
    assert render_comparison(Comparison()) == []


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("R&D <team>", "R&amp;D &lt;team&gt;"),
        ("x" * 60, "x" * 39 + "…"),
        ("&" * 60, "&amp;" * 39 + "…"),
        ("two\nlines", "two lines"),
    ],
    ids=["escaped", "long", "long-escaped", "newline"],
)
def test_render_label_names_safely(label: str, shown: str) -> None:
    """Label names are escaped for mrkdwn, kept on one line and cut to 40 characters."""
    comparison = Comparison(confused_pairs=(ConfusedPair(label, "b", 1, 0.5),))
    assert render_comparison(comparison) == [f"*Most confused*: {shown} → b (1, 50% of {shown})"]


def test_render_many_new_labels() -> None:
    """Only the first five new labels are named, the rest counted."""
    comparison = Comparison(new_labels=tuple(f"n{i}" for i in range(8)))
    assert render_comparison(comparison) == ["*New labels*: n0, n1, n2, n3, n4 and 3 more"]


def test_render_tiny_share() -> None:
    """A share under half a percent reads '<1%' rather than '0%'."""
    comparison = Comparison(confused_pairs=(ConfusedPair("a", "b", 1, 1 / 500),))
    assert render_comparison(comparison) == ["*Most confused*: a → b (1, <1% of a)"]


@pytest.mark.parametrize("before", [BEFORE, None], ids=["with-before", "without-before"])
def test_round_trip_through_json(before: dict[str, Any] | None) -> None:
    """to_dict is JSON-serialisable and from_dict restores an equal comparison."""
    c = compare_metrics(None if before is None else _metrics(before), _metrics(AFTER))
    assert Comparison.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_from_dict_is_lenient() -> None:
    """Unknown keys are ignored and missing ones take their defaults."""
    c = Comparison.from_dict({"accuracy_after": 0.9, "added_later": 1})
    assert c == Comparison(accuracy_after=0.9)


@pytest.mark.parametrize(
    ("accuracy", "macro_f1", "expected"),
    [
        ((0.90, 0.87), (0.85, 0.80), (("test accuracy", -3.0), ("macro F1", -5.0))),
        ((0.90, 0.87), (0.85, 0.84), (("test accuracy", -3.0),)),
        ((0.90, 0.88), (0.85, 0.85), ()),  # exactly 2 points down is not more than 2
        ((0.90, 0.95), (0.90, 0.85), (("macro F1", -5.0),)),
    ],
)
def test_regressions_name_what_fell_past_the_alert(
    accuracy: tuple[float, float], macro_f1: tuple[float, float], expected: object
) -> None:
    """Only metrics that fell by more than the alert's points are named, with the loss."""
    comparison = Comparison(
        accuracy_before=accuracy[0],
        accuracy_after=accuracy[1],
        macro_f1_before=macro_f1[0],
        macro_f1_after=macro_f1[1],
    )
    assert regressions(comparison, 2.0) == expected


def test_no_regression_without_a_before() -> None:
    """A first training has nothing to fall from."""
    assert regressions(Comparison(accuracy_after=0.1, macro_f1_after=0.1), 2.0) == ()
