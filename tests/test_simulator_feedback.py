"""The simulator's examples and feedback calls, and what it learned from Salesforce's examples:
parts with a file name, trainStats as a string, precisionRecallCurve. Answers follow the spec."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import stamina

from bot.einstein.auth import StaticTokenSource
from bot.einstein.client import EinsteinClient
from bot.fakes.einstein.simulator import EinsteinSimulator
from tests.test_simulator import (  # the spec fixture and the helpers of the simulator tests
    QUEUE,
    RUN,
    Api,
    FakeClock,
    assert_conforms,
    spec,
)

__all__ = ["spec"]  # a fixture used here by name

LABELS = ("billing", "shipping", "returns")


@pytest.fixture(autouse=True)
def _no_backoff_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> EinsteinSimulator:
    return EinsteinSimulator(clock=clock, seed=5, queue_seconds=QUEUE, run_seconds=RUN)


@pytest.fixture
async def api(sim: EinsteinSimulator) -> AsyncIterator[Api]:
    base = await sim.start()
    async with aiohttp.ClientSession() as session:
        yield Api(session, base, sim.issue_token())
    await sim.stop()


async def test_feedback_adds_an_example(api: Api, sim: EinsteinSimulator) -> None:
    """POST feedback answers the example object and the dataset counts it under its label."""
    dataset = sim.add_dataset(labels=LABELS, examples=30)
    model_id = sim.add_model(dataset_id=dataset)
    status, body = await api.post(
        "v2/language/feedback",
        {"modelId": model_id, "document": "refund please", "expectedLabel": "returns"},
    )
    assert status == 200, body
    assert (body["object"], body["name"], body["label"]["name"]) == (
        "example",
        "feedback-1",
        "returns",
    )
    _, data = await api.get(f"v2/language/datasets/{dataset}")
    assert data["totalExamples"] == 31
    assert sim.feedback_count(dataset) == 1


async def test_feedback_refuses_an_unknown_label(api: Api, sim: EinsteinSimulator) -> None:
    """A label the model's dataset does not have is a 400 naming the valid labels."""
    model_id = sim.add_model(labels=LABELS)
    status, body = await api.post(
        "v2/language/feedback", {"modelId": model_id, "document": "hi", "expectedLabel": "x"}
    )
    assert status == 400
    assert "Valid labels are: billing, shipping, returns" in body["message"]


async def test_feedback_refuses_an_unknown_model(api: Api) -> None:
    """Feedback for a model the simulator does not know is a 404."""
    status, body = await api.post(
        "v2/language/feedback",
        {"modelId": "Z" * 26, "document": "hi", "expectedLabel": "billing"},
    )
    assert (status, body["message"]) == (404, f"Model not found: {'Z' * 26}")


async def test_feedback_must_be_multipart(api: Api, sim: EinsteinSimulator) -> None:
    """A urlencoded feedback body is refused, as for train and retrain."""
    model_id = sim.add_model()
    status, _ = await api.post(
        "v2/language/feedback",
        {"modelId": model_id, "document": "hi", "expectedLabel": "billing"},
        multipart=False,
    )
    assert status == 400


async def test_examples_page_by_source(api: Api, sim: EinsteinSimulator) -> None:
    """Examples page through uploads then feedback; source=feedback shows only feedback."""
    dataset = sim.add_dataset(labels=LABELS, examples=30, feedback_examples=7)
    path = f"v2/language/datasets/{dataset}/examples"
    _, everything = await api.get(path, offset=25, count=100)
    _, feedback = await api.get(path, source="feedback", offset=5, count=100)
    _, uploads = await api.get(path, source="upload", count=100)
    assert len(everything["data"]) == 12
    assert [e["name"] for e in feedback["data"]] == ["feedback-6", "feedback-7"]
    assert len(uploads["data"]) == 30
    status, body = await api.get(path, source="mine")
    assert status == 400, body


async def test_retrain_with_feedback_trains_on_added_examples(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """Feedback added through the test API is trained on by a retrain withFeedback."""
    model_id = sim.add_model(labels=LABELS, examples=60)
    sim.add_feedback(model_id, "billing", count=9)
    await api.retrain(model_id, trainParams='{"withFeedback":true}')
    clock.advance(QUEUE + RUN)
    assert (await api.status(model_id))["trainStats"]["examples"] == 69


async def test_retrain_without_feedback_leaves_it_out(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """A retrain without withFeedback trains on the uploaded examples only."""
    model_id = sim.add_model(labels=LABELS, examples=60)
    sim.add_feedback(model_id, count=9)
    await api.retrain(model_id)
    clock.advance(QUEUE + RUN)
    assert (await api.status(model_id))["trainStats"]["examples"] == 60


async def test_answers_conform_to_the_spec(
    api: Api, sim: EinsteinSimulator, spec: dict[str, Any]
) -> None:
    """Feedback, examples and dataset answers validate against the spec's schemas."""
    model_id = sim.add_model(labels=LABELS)
    _, example = await api.post(
        "v2/language/feedback",
        {"modelId": model_id, "document": "hi", "expectedLabel": "billing", "name": "n"},
    )
    assert_conforms(spec, "/v2/language/feedback", "post", example)
    dataset = (await api.status(model_id))["datasetId"]
    for source in ("all", "feedback", "upload"):
        _, page = await api.get(f"v2/language/datasets/{dataset}/examples", source=source)
        assert_conforms(spec, "/v2/language/datasets/{datasetId}/examples", "get", page)
    _, body = await api.get(f"v2/language/datasets/{dataset}")
    assert_conforms(spec, "/v2/language/datasets/{datasetId}", "get", body)


async def test_parts_with_a_file_name_are_read_as_values(api: Api, sim: EinsteinSimulator) -> None:
    """A part sent with a file name (as `requests` sends `files=`) is read as the field's value."""
    model_id = sim.add_model()
    form = aiohttp.FormData()
    form.add_field("modelId", model_id.encode(), filename="modelId")
    form.add_field("trainParams", b'{"trainSplitRatio":"0.7"}', filename="trainParams")
    async with api.session.post(
        api.base + "v2/language/retrain", data=form, headers=api.headers(None)
    ) as answer:
        body = await answer.json()
    assert answer.status == 200, body
    assert (body["modelId"], body["trainParams"]) == (model_id, '{"trainSplitRatio":"0.7"}')
    [call] = sim.calls("retrain")
    assert call.form is not None
    assert call.form["modelId"] == model_id


async def test_the_client_reads_train_stats_sent_as_a_string(clock: FakeClock) -> None:
    """A status whose trainStats is a JSON string (the spec's type) is read like an object."""
    sim = EinsteinSimulator(clock=clock, train_stats_as="string")
    model_id = sim.add_model()
    base = await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            tokens = StaticTokenSource(sim.issue_token())
            client = EinsteinClient(base_url=base, tokens=tokens, session=session)
            async with session.get(
                f"{base}v2/language/train/{model_id}",
                headers={"Authorization": f"Bearer {sim.issue_token()}"},
            ) as raw:
                assert isinstance((await raw.json())["trainStats"], str)
            training = await client.training_status(model_id)
    finally:
        await sim.stop()
    assert training.train_stats is not None
    assert training.train_stats.examples == 150
    assert training.epochs_done is not None


async def test_metrics_carry_a_precision_recall_curve(api: Api, sim: EinsteinSimulator) -> None:
    """Metrics have a precisionRecallCurve that the client model reads."""
    model_id = sim.add_model()
    base = api.base
    client = EinsteinClient(base_url=base, tokens=StaticTokenSource(api.token), session=api.session)
    curve = (await client.metrics(model_id)).metrics_data.precision_recall_curve
    assert curve is not None
    assert len(curve.threshold) == len(curve.precision) == len(curve.recall) == len(curve.f1)
    assert curve.precision == sorted(curve.precision)
    assert curve.recall == sorted(curve.recall, reverse=True)
