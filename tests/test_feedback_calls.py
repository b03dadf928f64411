"""The client's dataset, examples and feedback calls against the simulator on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import pytest
import stamina

from bot.einstein.auth import StaticTokenSource
from bot.einstein.client import EinsteinClient
from bot.einstein.explain import explain
from bot.einstein.models import MetricsData
from bot.errors import EinsteinError, EinsteinNotFound, EinsteinRejected, EinsteinUnavailable
from bot.fakes.einstein.simulator import EinsteinSimulator

LABELS = ("billing", "shipping", "returns")
UNKNOWN_MODEL = "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"
FEEDBACK = "provideFeedback"
EXAMPLES = "getExamples"


@pytest.fixture(autouse=True)
def _no_backoff_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@dataclass
class Setup:
    sim: EinsteinSimulator
    client: EinsteinClient
    model_id: str
    dataset_id: int


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    sim = EinsteinSimulator()
    dataset_id = sim.add_dataset(labels=LABELS, examples=90)
    model_id = sim.add_model(dataset_id=dataset_id)
    base_url = await sim.start()
    async with aiohttp.ClientSession() as session:
        tokens = StaticTokenSource(sim.issue_token())
        client = EinsteinClient(base_url=base_url, tokens=tokens, session=session, timeout=2.0)
        try:
            yield Setup(sim, client, model_id, dataset_id)
        finally:
            await sim.stop()


async def test_the_training_names_its_dataset(setup: Setup) -> None:
    """dataset_id reads the model's dataset from its training's datasetId."""
    assert await setup.client.dataset_id(setup.model_id) == setup.dataset_id


async def test_the_dataset_lists_its_labels(setup: Setup) -> None:
    """The dataset call gives the label names in Einstein's order."""
    dataset = await setup.client.dataset(setup.dataset_id)
    assert (dataset.id, dataset.labels, dataset.total_examples) == (
        setup.dataset_id,
        list(LABELS),
        90,
    )


async def test_an_unknown_dataset_is_not_found(setup: Setup) -> None:
    """A dataset Einstein does not know is EinsteinNotFound."""
    with pytest.raises(EinsteinNotFound):
        await setup.client.dataset(999)


async def test_feedback_is_counted_across_pages(setup: Setup) -> None:
    """Every page of feedback examples is read: 250 examples take three pages of 100."""
    setup.sim.add_feedback(setup.model_id, count=250)
    assert await setup.client.feedback_count(setup.dataset_id) == 250
    offsets = [call.query["offset"] for call in setup.sim.calls(EXAMPLES)]
    assert offsets == ["0", "100", "200"]
    assert {call.query["source"] for call in setup.sim.calls(EXAMPLES)} == {"feedback"}


async def test_a_dataset_without_feedback_counts_zero(setup: Setup) -> None:
    """Uploaded examples are not feedback: a fresh dataset has none."""
    assert await setup.client.feedback_examples(setup.dataset_id) == []


async def test_a_failing_page_is_retried(setup: Setup) -> None:
    """A 503 on a page is retried by the client's retry policy, and the count is right."""
    setup.sim.add_feedback(setup.model_id, count=120)
    setup.sim.fail_next(EXAMPLES, status=503, times=2)
    assert await setup.client.feedback_count(setup.dataset_id) == 120


async def test_adding_feedback_returns_the_example(setup: Setup) -> None:
    """add_feedback stores one example under the expected label and returns it."""
    example = await setup.client.add_feedback(
        setup.model_id, document="where is my parcel?", expected_label="shipping"
    )
    assert example.label is not None
    assert example.label.name == "shipping"
    [sent] = setup.sim.calls(FEEDBACK)
    assert sent.content_type == "multipart/form-data"
    assert sent.form == {
        "modelId": setup.model_id,
        "document": "where is my parcel?",
        "expectedLabel": "shipping",
    }
    assert await setup.client.feedback_count(setup.dataset_id) == 1


async def test_an_unknown_label_is_its_own_kind(setup: Setup) -> None:
    """Einstein's refusal of a label the dataset lacks is EinsteinRejected, kind unknown_label."""
    with pytest.raises(EinsteinRejected) as caught:
        await setup.client.add_feedback(setup.model_id, document="hi", expected_label="refunds")
    assert caught.value.kind == "unknown_label"
    assert caught.value.einstein_message is not None
    assert "refunds" in caught.value.einstein_message
    assert "no such label" in explain(caught.value, model_id=setup.model_id)


async def test_an_unknown_model_is_not_found(setup: Setup) -> None:
    """Feedback for a model Einstein does not know is EinsteinNotFound."""
    with pytest.raises(EinsteinNotFound):
        await setup.client.add_feedback(UNKNOWN_MODEL, document="hi", expected_label="billing")


@pytest.mark.parametrize(
    ("document", "label", "name"),
    [("  ", "billing", None), ("hi", "", None), ("hi", "billing", "x" * 181)],
)
async def test_an_empty_feedback_is_refused_before_sending(
    setup: Setup, document: str, label: str, name: str | None
) -> None:
    """An empty document or label, or a name over 180 characters, never reaches Einstein."""
    with pytest.raises(EinsteinRejected) as caught:
        await setup.client.add_feedback(
            setup.model_id, document=document, expected_label=label, name=name
        )
    assert caught.value.kind == "invalid_parameter"
    assert setup.sim.calls(FEEDBACK) == []


async def test_feedback_is_not_resent_after_a_5xx(setup: Setup) -> None:
    """A 500 may hide a stored example, so the feedback is not sent again."""
    setup.sim.fail_next(FEEDBACK, status=500)
    with pytest.raises(EinsteinUnavailable):
        await setup.client.add_feedback(setup.model_id, document="hi", expected_label="billing")
    assert len(setup.sim.calls(FEEDBACK)) == 1


async def test_feedback_is_resent_after_a_429(setup: Setup) -> None:
    """A 429 means Einstein took nothing, so the feedback is sent again and stored once."""
    setup.sim.fail_next(FEEDBACK, status=429, retry_after=0)
    await setup.client.add_feedback(setup.model_id, document="hi", expected_label="billing")
    assert len(setup.sim.calls(FEEDBACK)) == 2
    assert setup.sim.feedback_count(setup.dataset_id) == 1


async def test_a_page_without_data_is_malformed(setup: Setup) -> None:
    """An examples answer without a data list is a clear EinsteinError, not a crash."""
    setup.sim.fail_next(EXAMPLES, status=200, body={"object": "list"})
    with pytest.raises(EinsteinError, match="examples answer has no data list"):
        await setup.client.feedback_count(setup.dataset_id)


@pytest.mark.parametrize(
    ("curve", "thresholds"),
    [
        ({"threshold": [0.0, 0.5], "precision": [0.8, 0.9]}, [0.0, 0.5]),
        ({"other": 1}, []),
        ("x", None),
    ],
)
def test_an_odd_precision_recall_curve_never_breaks_metrics(
    curve: object, thresholds: list[float] | None
) -> None:
    """precisionRecallCurve, whose keys are undocumented, is read when it can be, else left out."""
    data = MetricsData.model_validate({"testAccuracy": 0.9, "precisionRecallCurve": curve})
    assert data.test_accuracy == 0.9
    read = data.precision_recall_curve
    assert (read.threshold if read is not None else None) == thresholds
