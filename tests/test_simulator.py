"""The Einstein simulator: token flow, training state machine, errors, faults, spec conformance."""

from __future__ import annotations

import asyncio
import copy
import itertools
import random
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from bot.einstein.models import LearningCurvePoint, Metrics, TokenResponse, Training
from bot.fakes.einstein.cli import run_simulator
from bot.fakes.einstein.objects import format_duration, format_time, render_training
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.einstein.training import (
    OUTCOMES,
    Dataset,
    Script,
    TrainingPlan,
    plan_training,
    training_state,
)

ACCOUNT = "tester@example.com"
T0 = 1_700_000_000.0
AUD = "https://api.einstein.ai/v2/oauth2/token"
QUEUE, RUN = 30.0, 120.0
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
DURATION = re.compile(r"\d\d:\d\d:\d\d:\d{3}")
SPEC_PATH = Path(__file__).parent / "spec" / "einstein-openapi-2.0.1.yaml"


class FakeClock:
    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """A thin client for the simulator, answering (status, decoded JSON body)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base
        self.token = token

    def headers(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def get(self, path: str, *, token: str | None = None, **query: Any) -> tuple[int, Any]:
        params = {k: str(v) for k, v in query.items()}
        async with self.session.get(
            self.base + path, params=params, headers=self.headers(token)
        ) as r:
            return r.status, await r.json(content_type=None)

    async def post(
        self, path: str, fields: dict[str, str], *, multipart: bool = True
    ) -> tuple[int, Any]:
        data: Any = fields
        if multipart:
            data = aiohttp.FormData(default_to_multipart=True)
            for name, value in fields.items():
                data.add_field(name, value)
        async with self.session.post(self.base + path, data=data, headers=self.headers(None)) as r:
            return r.status, await r.json(content_type=None)

    async def retrain(self, model_id: str, **fields: str) -> tuple[int, Any]:
        return await self.post("v2/language/retrain", {"modelId": model_id, **fields})

    async def status(self, model_id: str) -> dict[str, Any]:
        status, body = await self.get(f"v2/language/train/{model_id}")
        assert status == 200, body
        return dict(body)

    async def mint(self, assertion: str, **extra: str) -> tuple[int, Any]:
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        async with self.session.post(self.base + "v2/oauth2/token", data={**form, **extra}) as r:
            return r.status, await r.json(content_type=None)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def assertion(
    key: rsa.RSAPrivateKey, *, sub: str = ACCOUNT, aud: str = AUD, exp: float = T0 + 60
) -> str:
    return jwt.encode({"sub": sub, "aud": aud, "exp": int(exp)}, key, algorithm="RS256")


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock, rsa_key: rsa.RSAPrivateKey) -> EinsteinSimulator:
    simulator = EinsteinSimulator(clock=clock, seed=11, queue_seconds=QUEUE, run_seconds=RUN)
    simulator.add_account(ACCOUNT, public_pem(rsa_key))
    return simulator


@pytest.fixture
async def api(sim: EinsteinSimulator) -> AsyncIterator[Api]:
    base = await sim.start()
    async with aiohttp.ClientSession() as session:
        yield Api(session, base, sim.issue_token(ACCOUNT))
    await sim.stop()


# -- the pure state machine ----------------------------------------------------------------------

DATASET = Dataset(
    id=7,
    name="d",
    labels=("a", "b", "c"),
    label_examples=(40, 50, 60),
    words=1800,
    feedback_examples=12,
    model_type="text-intent",
    language="en_US",
    available=True,
    created_at=T0 - 86_400,
)


def make_plan(
    *,
    split_ratio: float = 0.8,
    with_feedback: bool = False,
    requested_epochs: int | None = None,
    **script: Any,
) -> TrainingPlan:
    return plan_training(
        model_id="A" * 26,
        dataset=DATASET,
        name="m",
        algorithm="intent",
        requested_epochs=requested_epochs,
        train_params=None,
        split_ratio=split_ratio,
        with_feedback=with_feedback,
        script=Script(**script),
        queue_seconds=QUEUE,
        run_seconds=RUN,
        created_at=T0,
        version_id=555,
        rng=random.Random(1),
    )


@pytest.mark.parametrize(
    ("offset", "status", "position"),
    [
        (0, "QUEUED", 3),
        (15, "QUEUED", 2),
        (29, "QUEUED", 1),
        (30, "RUNNING", None),
        (149, "RUNNING", None),
        (150, "SUCCEEDED", None),
        (10_000, "SUCCEEDED", None),
    ],
)
def test_state_follows_the_clock(offset: float, status: str, position: int | None) -> None:
    """The status and queue position are a function of the plan and the time alone."""
    state = training_state(make_plan(), T0 + offset)
    assert (state.status, state.queue_position) == (status, position)


def test_running_progress_stays_strictly_between_zero_and_one() -> None:
    """RUNNING reports 0 < progress < 1 from the first to the last instant of the run."""
    plan = make_plan()
    progresses = [training_state(plan, T0 + QUEUE + s).progress for s in (0, 0.1, 60, 119.99)]
    assert all(0 < p < 1 for p in progresses)
    assert progresses == sorted(progresses)


def test_failure_reports_half_progress_and_message() -> None:
    """A FAILED training ends at the failure point with the default failure message."""
    body = render_training(make_plan(outcome="FAILED"), T0 + 1000)
    assert body["status"] == "FAILED"
    assert 0 < body["progress"] < 1
    assert body["failureMsg"].startswith("System error, training failed")
    assert body["trainStats"]["lastEpochDone"] == body["lastEpochDone"]


def test_stalled_training_never_finishes() -> None:
    """A stalled training stays RUNNING with frozen progress."""
    plan = make_plan(stall=True)
    later = [training_state(plan, T0 + QUEUE + s) for s in (100, 1000, 100_000)]
    assert {s.status for s in later} == {"RUNNING"}
    assert len({s.progress for s in later}) == 1


def test_split_follows_ratio_and_feedback() -> None:
    """testSplitSize + trainSplitSize == examples, the split follows the ratio, feedback adds."""
    plain = render_training(make_plan(split_ratio=0.7), T0 + 1000)["trainStats"]
    fed = render_training(make_plan(with_feedback=True), T0 + 1000)["trainStats"]
    assert plain["examples"] == 150
    assert plain["testSplitSize"] + plain["trainSplitSize"] == 150
    assert abs(plain["trainSplitSize"] / 150 - 0.7) < 0.03
    assert fed["examples"] == 150 + DATASET.feedback_examples
    assert fed["testSplitSize"] + fed["trainSplitSize"] == fed["examples"]


def test_requested_epochs_stop_early_once_the_model_stops_improving() -> None:
    """More requested epochs than the model needs end early: earlyStopping, fewer epochs done."""
    body = render_training(make_plan(requested_epochs=500), T0 + 1000)
    assert body["epochs"] == 500
    assert 30 <= body["lastEpochDone"] < 500
    assert body["earlyStopping"] is body["trainStats"]["earlyStopping"] is True
    assert body["trainStats"]["lastEpochDone"] == body["lastEpochDone"]


def test_few_requested_epochs_run_in_full() -> None:
    """Fewer requested epochs than the model needs all run, without early stopping."""
    body = render_training(make_plan(requested_epochs=20), T0 + 1000)
    assert (body["epochs"], body["lastEpochDone"], body["earlyStopping"]) == (20, 20, False)


def test_scripted_early_stop() -> None:
    """A scripted early stop ends the training at that epoch."""
    body = render_training(make_plan(requested_epochs=40, early_stop_at=25), T0 + 1000)
    assert (body["epochs"], body["lastEpochDone"], body["earlyStopping"]) == (40, 25, True)


@given(
    outcome=st.sampled_from(OUTCOMES),
    stall=st.booleans(),
    times=st.lists(st.floats(min_value=-10, max_value=500), min_size=2, max_size=8),
)
def test_state_machine_only_moves_forward(outcome: str, stall: bool, times: list[float]) -> None:
    """Status rank, progress and epochs done never go backwards as time passes."""
    plan = make_plan(outcome=outcome, stall=stall)
    rank = {"QUEUED": 0, "RUNNING": 1}
    states = [training_state(plan, T0 + t) for t in sorted(times)]
    keys = [(rank.get(s.status, 2), s.progress, s.epochs_done) for s in states]
    for before, after in itertools.pairwise(keys):
        assert all(b <= a for b, a in zip(before, after, strict=True))


def test_time_formats() -> None:
    """Timestamps look like 2017-08-18T21:39:53.000+0000, durations like 00:02:28:577."""
    assert format_time(1503092393.9) == "2017-08-18T21:39:53.000+0000"
    assert format_duration(148.577) == "00:02:28:577"


# -- tokens and authentication -------------------------------------------------------------------


async def test_valid_jwt_mints_a_token(api: Api, rsa_key: rsa.RSAPrivateKey) -> None:
    """A JWT signed with the account's key yields an opaque bearer token for valid_for seconds."""
    status, body = await api.mint(assertion(rsa_key), valid_for="120")
    assert status == 200
    token = TokenResponse.model_validate(body)
    assert (token.token_type, token.expires_in) == ("Bearer", 120)
    assert re.fullmatch(r"[A-Z2-7]{100,}", token.access_token)
    status, _ = await api.get("v2/language/datasets/1/models", token=token.access_token)
    assert status == 404  # authenticated: the dataset is unknown, not the token


@pytest.mark.parametrize(
    ("claims", "signer", "status", "message"),
    [
        ({}, "other", 401, "signature does not match"),
        ({"aud": "https://api.einstein.ai/v1/other"}, "own", 401, "aud must be"),
        ({"exp": T0 - 1}, "own", 401, "has expired"),
        ({"sub": "nobody@example.com"}, "own", 401, "not a registered account"),
    ],
)
async def test_refused_assertions(
    api: Api,
    rsa_key: rsa.RSAPrivateKey,
    other_key: rsa.RSAPrivateKey,
    claims: dict[str, Any],
    signer: str,
    status: int,
    message: str,
) -> None:
    """Bad signature, wrong aud, expired exp and unknown account are refused with a message."""
    key = rsa_key if signer == "own" else other_key
    answer_status, body = await api.mint(assertion(key, **claims))
    assert answer_status == status
    assert message in body["message"]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"grant_type": "password", "assertion": "x"}, "Unsupported grant_type"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion is required"),
        (
            {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x.y"},
            "not a readable JWT",
        ),
    ],
)
async def test_malformed_token_requests(api: Api, form: dict[str, str], message: str) -> None:
    """A token request the endpoint cannot read is a 400 naming the problem."""
    async with api.session.post(api.base + "v2/oauth2/token", data=form) as r:
        assert r.status == 400
        assert message in (await r.json())["message"]


async def test_token_ttl_caps_lifetime_and_expires(
    clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    """token_ttl caps expires_in; once past it, the token answers 401 Invalid access token."""
    sim = EinsteinSimulator(clock=clock, token_ttl=5)
    sim.add_account(ACCOUNT, public_pem(rsa_key))
    base = await sim.start()
    async with aiohttp.ClientSession() as session:
        api = Api(session, base, "")
        _, body = await api.mint(assertion(rsa_key), valid_for="3600")
        assert body["expires_in"] == 5
        dataset = sim.add_dataset()
        assert (await api.get(f"v2/language/datasets/{dataset}", token=body["access_token"]))[
            0
        ] == 200
        clock.advance(5)
        status, error = await api.get(f"v2/language/datasets/{dataset}", token=body["access_token"])
    await sim.stop()
    assert (status, error) == (401, {"message": "Invalid access token"})


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Invalid authentication scheme"),
        ("Basic dXNlcjpwYXNz", "Invalid authentication scheme"),
        ("Bearer", "Invalid authentication scheme"),
        ("Bearer NOTATOKEN", "Invalid access token"),
    ],
)
async def test_bearer_check(
    api: Api, sim: EinsteinSimulator, header: str | None, message: str
) -> None:
    """Missing or malformed Authorization and unknown tokens get the documented 401 texts."""
    model_id = sim.add_model()
    headers = {} if header is None else {"Authorization": header}
    async with api.session.get(api.base + f"v2/language/train/{model_id}", headers=headers) as r:
        assert (r.status, await r.json()) == (401, {"message": message})


async def test_revoked_tokens_are_refused(api: Api, sim: EinsteinSimulator) -> None:
    """revoke_tokens() turns every issued token into 401 Invalid access token."""
    model_id = sim.add_model()
    sim.revoke_tokens()
    status, body = await api.get(f"v2/language/train/{model_id}")
    assert (status, body["message"]) == (401, "Invalid access token")


# -- training through HTTP -------------------------------------------------------------------------


async def test_retrain_walks_queued_running_succeeded(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """Retrain answers QUEUED with queuePosition, RUNNING with rising progress, SUCCEEDED."""
    model_id = sim.add_model()
    status, queued = await api.retrain(model_id, trainParams='{"trainSplitRatio":0.75}')
    assert status == 200
    assert (queued["modelId"], queued["status"], queued["progress"]) == (model_id, "QUEUED", 0)
    assert queued["queuePosition"] >= 2
    assert (queued["datasetVersionId"], queued["trainStats"]) == (0, None)
    clock.advance(QUEUE - 1)
    assert (await api.status(model_id))["queuePosition"] == 1
    clock.advance(11)
    first = await api.status(model_id)
    clock.advance(60)
    second = await api.status(model_id)
    for running in (first, second):
        assert running["status"] == "RUNNING"
        assert "queuePosition" not in running
        assert running["datasetVersionId"] > 0
        assert running["epochs"] == 1000
    assert 0 < first["progress"] < second["progress"] < 1
    clock.advance(RUN)
    done = Training.model_validate(await api.status(model_id))
    assert (done.status, done.progress, done.model_id) == ("SUCCEEDED", 1.0, model_id)
    assert done.train_params is not None
    assert done.train_params.train_split_ratio == 0.75
    stats = done.train_stats
    assert stats is not None
    assert stats.test_split_size is not None
    assert stats.train_split_size is not None
    assert stats.test_split_size + stats.train_split_size == stats.examples == 150
    assert stats.labels == 4
    assert stats.early_stopping is True
    assert done.epochs_done == stats.last_epoch_done
    assert all(
        DURATION.fullmatch(t or "")
        for t in (
            stats.total_time,
            stats.training_time,
            stats.dataset_load_time,
            stats.model_save_time,
        )
    )


async def test_with_feedback_adds_feedback_examples(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """withFeedback trains on the dataset's feedback examples too."""
    dataset = sim.add_dataset(examples=100, feedback_examples=20)
    model_id = sim.add_model(dataset_id=dataset)
    await api.retrain(model_id, trainParams='{"withFeedback":true}')
    clock.advance(QUEUE + RUN)
    assert (await api.status(model_id))["trainStats"]["examples"] == 120


async def test_scripted_failure_carries_its_message(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """A scripted FAILED training ends with the scripted failureMsg."""
    model_id = sim.add_model()
    sim.script(model_id, outcome="FAILED", failure_msg="needs 100 examples per label")
    await api.retrain(model_id)
    clock.advance(QUEUE + RUN)
    body = await api.status(model_id)
    assert (body["status"], body["failureMsg"]) == ("FAILED", "needs 100 examples per label")
    assert Training.model_validate(body).is_failed


@pytest.mark.parametrize("outcome", ["KILLED", "FAILED_WITH_RETRIES"])
async def test_other_failures_carry_no_failure_msg(
    api: Api, sim: EinsteinSimulator, clock: FakeClock, outcome: str
) -> None:
    """KILLED and FAILED_WITH_RETRIES end without failureMsg, which the spec gives FAILED only."""
    model_id = sim.add_model()
    sim.script(model_id, outcome=outcome, run_seconds=10)
    await api.retrain(model_id)
    clock.advance(QUEUE + 10)
    body = await api.status(model_id)
    assert body["status"] == outcome
    assert "failureMsg" not in body
    assert Training.model_validate(body).is_failed


def test_a_failure_message_needs_the_failed_outcome(sim: EinsteinSimulator) -> None:
    """Scripting a failureMsg for another outcome is refused, as Einstein would never send it."""
    with pytest.raises(ValueError, match="FAILED only"):
        sim.script(None, outcome="FAILED_WITH_RETRIES", failure_msg="no")


async def test_scripts_apply_in_order(api: Api, sim: EinsteinSimulator, clock: FakeClock) -> None:
    """Two scripts for a model shape its next two trainings, then the default applies."""
    model_id = sim.add_model()
    sim.script(model_id, outcome="FAILED")
    sim.script(model_id, epochs=12, early_stop_at=9)
    outcomes = []
    for _ in range(3):
        await api.retrain(model_id)
        clock.advance(QUEUE + RUN)
        body = await api.status(model_id)
        outcomes.append((body["status"], body["epochs"], body["lastEpochDone"]))
    assert outcomes[0][0] == "FAILED"
    assert outcomes[1] == ("SUCCEEDED", 12, 9)
    assert outcomes[2][:2] == ("SUCCEEDED", 1000)


async def test_train_creates_a_new_model(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """Train mints a new 26-character model id whose training then runs."""
    dataset = sim.add_dataset()
    status, body = await api.post(
        "v2/language/train", {"datasetId": str(dataset), "name": "Fresh", "epochs": "30"}
    )
    assert status == 200
    assert re.fullmatch(r"[A-Z2-7]{26}", body["modelId"])
    assert (body["status"], body["name"], body["epochs"]) == ("QUEUED", "Fresh", 30)
    clock.advance(QUEUE + RUN)
    assert (await api.status(body["modelId"]))["lastEpochDone"] == 30


async def test_one_training_per_dataset(api: Api, sim: EinsteinSimulator, clock: FakeClock) -> None:
    """While a model of the dataset is QUEUED or RUNNING, train and retrain on it answer 400."""
    dataset = sim.add_dataset()
    first, second = sim.add_model(dataset_id=dataset), sim.add_model(dataset_id=dataset)
    assert (await api.retrain(first))[0] == 200
    for when in (0, QUEUE + 1):
        clock.advance(when)
        for status, body in (
            await api.retrain(first),
            await api.retrain(second),
            await api.post("v2/language/train", {"datasetId": str(dataset), "name": "x"}),
        ):
            assert status == 400
            assert body["message"].startswith("The dataset is currently being trained")
    clock.advance(RUN)
    assert (await api.retrain(second))[0] == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"modelId": ""}, "modelId is required"),
        ({"modelId": "not-a-model"}, "Invalid modelId 'not-a-model'"),
        ({"epochs": "0"}, "epochs must be an integer between 1 and 1000"),
        ({"epochs": "1001"}, "epochs must be an integer between 1 and 1000"),
        ({"epochs": "ten"}, "epochs must be an integer between 1 and 1000"),
        ({"learningRate": "fast"}, "learningRate must be a non-negative number"),
        ({"algorithm": "fancy"}, "Invalid algorithm 'fancy'"),
        ({"trainParams": "{oops"}, "trainParams is not valid JSON"),
        ({"trainParams": "[0.8]"}, "trainParams must be a JSON object"),
        ({"trainParams": '{"trainSplitRatio":1}'}, "trainSplitRatio must be a number greater"),
        ({"trainParams": '{"trainSplitRatio":0}'}, "trainSplitRatio must be a number greater"),
        ({"trainParams": '{"withFeedback":"maybe"}'}, "withFeedback must be true or false"),
        ({"trainParams": '{"splitRatio":0.7}'}, "Unknown trainParams key 'splitRatio'"),
    ],
)
async def test_invalid_retrain_parameters(
    api: Api, sim: EinsteinSimulator, fields: dict[str, str], message: str
) -> None:
    """Each invalid parameter is a 400 whose message names it."""
    model_id = sim.add_model()
    status, body = await api.post("v2/language/retrain", {"modelId": model_id, **fields})
    assert status == 400
    assert body["message"].startswith(message)


async def test_string_split_ratio_is_tolerated(api: Api, sim: EinsteinSimulator) -> None:
    """trainSplitRatio sent as a string, as Salesforce's own test does, is accepted."""
    status, body = await api.retrain(sim.add_model(), trainParams='{"trainSplitRatio":"0.7"}')
    assert (status, body["trainParams"]) == (200, '{"trainSplitRatio":"0.7"}')


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"name": "x"}, 400, "datasetId is required"),
        ({"datasetId": "12", "name": "x"}, 404, "Dataset not found: 12"),
        ({"datasetId": "{dataset}"}, 400, "name is required"),
        ({"datasetId": "{dataset}", "name": "n" * 181}, 400, "name must be at most 180"),
    ],
)
async def test_invalid_train_requests(
    api: Api, sim: EinsteinSimulator, fields: dict[str, str], status: int, message: str
) -> None:
    """Train refuses a missing or unknown dataset and a missing or too long name."""
    dataset = sim.add_dataset()
    form = {k: v.format(dataset=dataset) for k, v in fields.items()}
    answer_status, body = await api.post("v2/language/train", form)
    assert answer_status == status
    assert body["message"].startswith(message)


async def test_dataset_rules(api: Api, sim: EinsteinSimulator) -> None:
    """Over 3 million words, or a dataset not yet available, refuses training with 400."""
    wordy = sim.add_model(dataset_id=sim.add_dataset(words=3_000_001))
    status, body = await api.retrain(wordy)
    assert (status, "3,000,000 words" in body["message"]) == (400, True)
    pending = sim.add_dataset(available=False)
    status, body = await api.post("v2/language/train", {"datasetId": str(pending), "name": "x"})
    assert (status, body["message"].startswith("The dataset is not yet available")) == (400, True)


async def test_unknown_and_forgotten_models_are_404(api: Api, sim: EinsteinSimulator) -> None:
    """An unknown or forgotten model id answers 404 on every model call."""
    model_id = sim.add_model()
    sim.forget(model_id)
    answers = [
        await api.retrain(model_id),
        await api.get(f"v2/language/train/{model_id}"),
        await api.get(f"v2/language/models/{model_id}"),
        await api.get(f"v2/language/models/{model_id}/lc"),
        await api.get("v2/language/train/" + "B" * 26),
    ]
    assert [status for status, _ in answers] == [404] * 5
    assert answers[0][1] == {"message": f"Model not found: {model_id}"}


async def test_retrain_must_be_multipart(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """A urlencoded retrain is refused unless strict_multipart is off."""
    status, body = await api.post(
        "v2/language/retrain", {"modelId": sim.add_model()}, multipart=False
    )
    assert status == 400
    assert body["message"].startswith("Content-Type must be multipart/form-data")
    lenient = EinsteinSimulator(clock=clock, strict_multipart=False)
    lenient_api = Api(api.session, await lenient.start(), lenient.issue_token())
    status, _ = await lenient_api.post(
        "v2/language/retrain", {"modelId": lenient.add_model()}, multipart=False
    )
    await lenient.stop()
    assert status == 200


async def test_train_params_can_be_an_object(clock: FakeClock) -> None:
    """train_params_as="object" returns trainParams as JSON instead of a JSON string."""
    sim = EinsteinSimulator(clock=clock, train_params_as="object")
    base = await sim.start()
    async with aiohttp.ClientSession() as session:
        status, body = await Api(session, base, sim.issue_token()).retrain(
            sim.add_model(), trainParams='{"withFeedback":true}'
        )
    await sim.stop()
    assert (status, body["trainParams"]) == (200, {"withFeedback": True})


# -- metrics, learning curve, dataset ------------------------------------------------------------


async def test_metrics_are_consistent(api: Api, sim: EinsteinSimulator) -> None:
    """Metrics come from a confusion matrix whose rows add up to the test split."""
    model_id = sim.add_model()
    status, body = await api.get(f"v2/language/models/{model_id}")
    assert status == 200
    data = Metrics.model_validate(body).metrics_data
    matrix = data.confusion_matrix
    test_size = (await api.status(model_id))["trainStats"]["testSplitSize"]
    assert sum(map(sum, matrix)) == test_size
    assert data.test_accuracy == round(sum(matrix[i][i] for i in range(len(matrix))) / test_size, 4)
    assert data.macro_f1 == pytest.approx(sum(data.f1) / len(data.f1), abs=1e-4)
    assert len(data.labels) == len(data.f1) == len(data.precision) == len(data.recall) == 4
    assert TIMESTAMP.fullmatch(body["createdAt"])


async def test_metrics_404_before_first_success(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """A model whose first training has not succeeded has no metrics: 404 until it does."""
    model_id = sim.add_model(trained=False)
    status, body = await api.get(f"v2/language/models/{model_id}")
    assert (status, "has no metrics yet" in body["message"]) == (404, True)
    clock.advance(QUEUE + RUN)
    assert (await api.get(f"v2/language/models/{model_id}"))[0] == 200


async def test_untrained_status_is_configurable(clock: FakeClock) -> None:
    """untrained_status picks the status of metrics calls before any success."""
    sim = EinsteinSimulator(clock=clock, untrained_status=400)
    base = await sim.start()
    async with aiohttp.ClientSession() as session:
        status, _ = await Api(session, base, sim.issue_token()).get(
            f"v2/language/models/{sim.add_model(trained=False)}"
        )
    await sim.stop()
    assert status == 400


async def test_metrics_change_after_retrain(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """A successful retrain changes the metrics; a running one still shows the previous ones."""
    model_id = sim.add_model()
    _, before = await api.get(f"v2/language/models/{model_id}")
    await api.retrain(model_id)
    clock.advance(QUEUE + 10)
    assert (await api.get(f"v2/language/models/{model_id}"))[1] == before
    clock.advance(RUN)
    _, after = await api.get(f"v2/language/models/{model_id}")
    assert after["metricsData"] != before["metricsData"]
    assert after["createdAt"] > before["createdAt"]


async def test_metrics_can_be_scripted_missing_after_training(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """metrics_not_found=N answers 404 to the first N metrics calls after the success."""
    model_id = sim.add_model()
    sim.script(model_id, metrics_not_found=2)
    await api.retrain(model_id)
    clock.advance(QUEUE + RUN)
    statuses = [(await api.get(f"v2/language/models/{model_id}"))[0] for _ in range(3)]
    assert statuses == [404, 404, 200]


def test_metrics_are_deterministic() -> None:
    """Same seed, same clock and same calls give the same ids, metrics and training objects."""
    answers = []
    for _ in range(2):
        sim = EinsteinSimulator(clock=FakeClock(), seed=5)
        model_id = sim.add_model()
        answers.append((model_id, sim.metrics(model_id), sim.training(model_id)))
    assert answers[0] == answers[1]


async def test_learning_curve_pages(api: Api, sim: EinsteinSimulator) -> None:
    """The curve has one point per epoch done, 25 per page at most; the last matches metrics."""
    model_id = sim.add_model()
    last = (await api.status(model_id))["lastEpochDone"]
    points: list[Any] = []
    while True:
        status, page = await api.get(
            f"v2/language/models/{model_id}/lc", offset=len(points), count=25
        )
        assert status == 200
        points += page["data"]
        if len(page["data"]) < 25:
            break
    assert [p["epoch"] for p in points] == list(range(1, last + 1))
    parsed = [LearningCurvePoint.model_validate(p) for p in points]
    _, metrics = await api.get(f"v2/language/models/{model_id}")
    assert points[-1]["metricsData"] == metrics["metricsData"]
    assert parsed[0].metrics_data.test_accuracy is not None
    status, body = await api.get(f"v2/language/models/{model_id}/lc", count=26)
    assert (status, body["message"]) == (400, "count must be an integer between 1 and 25")


async def test_learning_curve_grows_while_running(
    api: Api, sim: EinsteinSimulator, clock: FakeClock
) -> None:
    """While a retrain runs, the learning curve shows the epochs done so far."""
    model_id = sim.add_model()
    sim.script(model_id, epochs=100)
    await api.retrain(model_id)
    clock.advance(QUEUE + RUN / 2)
    _, page = await api.get(f"v2/language/models/{model_id}/lc", count=25, offset=40)
    assert [p["epoch"] for p in page["data"]] == list(range(41, 51))


async def test_models_of_a_dataset(api: Api, sim: EinsteinSimulator, clock: FakeClock) -> None:
    """The models list shows each model of the dataset as its latest training left it."""
    dataset = sim.add_dataset()
    trained = sim.add_model(dataset_id=dataset)
    sim.script(None, outcome="FAILED", failure_msg="boom")
    failing = sim.add_model(dataset_id=dataset, trained=False)
    sim.add_model()  # another dataset's
    clock.advance(QUEUE + RUN)
    status, body = await api.get(f"v2/language/datasets/{dataset}/models")
    assert status == 200
    assert [(m["modelId"], m["status"], m["object"]) for m in body["data"]] == [
        (trained, "SUCCEEDED", "model"),
        (failing, "FAILED", "model"),
    ]
    assert body["data"][1]["failureMsg"] == "boom"
    _, page = await api.get(f"v2/language/datasets/{dataset}/models", offset=1, count=1)
    assert [m["modelId"] for m in page["data"]] == [failing]
    assert (await api.get(f"v2/language/datasets/{dataset}/models", count=101))[0] == 400


async def test_dataset_object(api: Api, sim: EinsteinSimulator) -> None:
    """The dataset object's totals agree with its label summary."""
    dataset = sim.add_dataset(labels=("yes", "no"), examples=90)
    status, body = await api.get(f"v2/language/datasets/{dataset}")
    assert status == 200
    labels = body["labelSummary"]["labels"]
    assert [label["name"] for label in labels] == ["yes", "no"]
    assert sum(label["numExamples"] for label in labels) == body["totalExamples"] == 90
    assert (body["totalLabels"], body["available"], body["object"]) == (2, True, "dataset")
    assert (await api.get("v2/language/datasets/abc"))[0] == 400


# -- faults and the request log ----------------------------------------------------------------


async def test_fail_next_by_operation(api: Api, sim: EinsteinSimulator) -> None:
    """fail_next answers the next matching call with the status, Retry-After and a JSON message."""
    model_id = sim.add_model()
    fault = sim.fail_next("retrain", status=503, retry_after=2)
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("modelId", model_id)
    async with api.session.post(
        api.base + "v2/language/retrain", data=form, headers=api.headers(None)
    ) as r:
        assert (r.status, r.headers["Retry-After"]) == (503, "2")
        assert await r.json() == {"message": "Service Unavailable"}
    assert (await api.retrain(model_id))[0] == 200
    assert fault.hits == 1
    assert [c.status for c in sim.calls("retrain")] == [503, 200]


async def test_fail_next_by_path_and_model(api: Api, sim: EinsteinSimulator) -> None:
    """A path glob narrowed to one model fails only that model's calls, as often as asked."""
    failing, healthy = sim.add_model(), sim.add_model()
    sim.fail_next(
        "/v2/language/train/*", status=500, times=None, model_id=failing, body="<html>oops"
    )
    for _ in range(2):
        async with api.session.get(
            api.base + f"v2/language/train/{failing}", headers=api.headers(None)
        ) as r:
            assert (r.status, await r.text()) == (500, "<html>oops")
    assert (await api.get(f"v2/language/train/{healthy}"))[0] == 200
    sim.clear_faults()
    assert (await api.get(f"v2/language/train/{failing}"))[0] == 200


async def test_faults_come_before_authentication(api: Api, sim: EinsteinSimulator) -> None:
    """A faulted call fails with the fault's status even without a token, like a gateway error."""
    sim.fail_next("*", status=502)
    async with api.session.get(api.base + "v2/language/datasets/1") as r:
        assert r.status == 502


async def test_delay_only_fault(api: Api, sim: EinsteinSimulator) -> None:
    """status=None delays the call, which is then answered normally."""
    dataset = sim.add_dataset()
    sim.fail_next("getDataset", status=None, delay=0.02)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _ = await api.get(f"v2/language/datasets/{dataset}")
    assert status == 200
    assert loop.time() - started >= 0.02


async def test_fault_rate_is_reproducible(clock: FakeClock) -> None:
    """fault_rate fails a seeded random share of calls, the same ones for the same seed."""
    patterns = []
    for _ in range(2):
        sim = EinsteinSimulator(clock=clock)
        dataset = sim.add_dataset()
        sim.fault_rate(0.5, statuses=(500, 502), seed=3)
        base = await sim.start()
        async with aiohttp.ClientSession() as session:
            api = Api(session, base, sim.issue_token())
            patterns.append(
                [(await api.get(f"v2/language/datasets/{dataset}"))[0] for _ in range(12)]
            )
        await sim.stop()
    assert patterns[0] == patterns[1]
    assert set(patterns[0]) == {200, 500, 502}


async def test_requests_are_recorded(api: Api, sim: EinsteinSimulator) -> None:
    """Each request is recorded with its operation, headers, form fields, time and status."""
    model_id = sim.add_model()
    await api.retrain(model_id, epochs="20", trainParams='{"trainSplitRatio":0.8}')
    (call,) = sim.calls("retrain")
    assert (call.method, call.path, call.content_type) == (
        "POST",
        "/v2/language/retrain",
        "multipart/form-data",
    )
    assert call.form == {
        "modelId": model_id,
        "epochs": "20",
        "trainParams": '{"trainSplitRatio":0.8}',
    }
    assert call.headers["authorization"] == f"Bearer {api.token}"
    assert (call.model_id, call.status, call.time) == (model_id, 200, T0)


# -- the published spec ------------------------------------------------------------------------

# Where the published spec disagrees with what the live service is documented or observed to
# send, the simulator follows the service. Each patch names the disagreement:
SPEC_DEVIATIONS: dict[tuple[str, str], dict[str, Any]] = {
    # Spec: string. Observed: null when no trainParams were passed.
    ("TrainResponse", "trainParams"): {"type": "string", "nullable": True},
    # Spec: string. Observed and documented: an object, null until the training ends.
    ("TrainResponse", "trainStats"): {"type": "object", "nullable": True},
    # Spec: object, with the example 1. Documented: the epoch number.
    ("LearningCurve", "epoch"): {"type": "integer"},
    # Spec: string (example "120"). Documented: an integer number of seconds.
    ("GenerateAccessTokenResponse", "expires_in"): {"type": "integer"},
}
# The live service writes `2017-08-18T21:39:53.000+0000`, which is not RFC 3339 (no colon in
# the offset), so date-time fields are checked against that observed shape instead.
EINSTEIN_DATE_TIME = {"type": "string", "pattern": f"^{TIMESTAMP.pattern}$"}
# Fields the language docs list beyond the spec's TrainResponse.
DOCUMENTED_EXTRAS = {"TrainResponse": {"earlyStopping", "lastEpochDone"}}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    # Salesforce publishes the file in Windows-1252 (a copyright sign and dashes).
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_bytes().decode("cp1252"))
    return loaded


def response_schema(spec: dict[str, Any], path: str, method: str) -> tuple[str, dict[str, Any]]:
    """The 200 schema of an operation, $refs inlined and the deviations above applied."""
    schemas = copy.deepcopy(spec["components"]["schemas"])
    for (name, field), replacement in SPEC_DEVIATIONS.items():
        schemas[name]["properties"][field] = replacement
    ref = spec["paths"][path][method]["responses"][200]["content"]["application/json"]["schema"]
    name = ref["$ref"].rsplit("/", 1)[-1]
    return name, _inline(schemas[name], schemas)


def _inline(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(schemas[node["$ref"].rsplit("/", 1)[-1]], schemas)
        if node.get("format") == "date-time":
            return EINSTEIN_DATE_TIME
        return {k: _inline(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, schemas) for v in node]
    return node


def assert_conforms(spec: dict[str, Any], path: str, method: str, body: Any) -> None:
    name, schema = response_schema(spec, path, method)
    OAS30Validator(schema, format_checker=oas30_format_checker).validate(body)
    declared = set(schema.get("properties", {})) | DOCUMENTED_EXTRAS.get(name, set())
    assert set(body) <= declared, f"{path}: undeclared fields {set(body) - declared}"


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_responses_conform_to_the_spec(
    api: Api,
    sim: EinsteinSimulator,
    clock: FakeClock,
    rsa_key: rsa.RSAPrivateKey,
    spec: dict[str, Any],
    outcome: str,
) -> None:
    """Every response body validates against its schema in Salesforce's OpenAPI spec."""
    _, token = await api.mint(assertion(rsa_key))
    assert_conforms(spec, "/v2/oauth2/token", "post", token)
    dataset = sim.add_dataset()
    sim.script(None, outcome=outcome)
    _, trained = await api.post("v2/language/train", {"datasetId": str(dataset), "name": "n"})
    assert_conforms(spec, "/v2/language/train", "post", trained)
    model_id = trained["modelId"]
    for step in (0, QUEUE + 1, RUN):
        clock.advance(step)
        assert_conforms(spec, "/v2/language/train/{modelId}", "get", await api.status(model_id))
        _, models = await api.get(f"v2/language/datasets/{dataset}/models")
        assert_conforms(spec, "/v2/language/datasets/{datasetId}/models", "get", models)
    _, retrained = await api.retrain(sim.add_model(), trainParams='{"trainSplitRatio":0.7}')
    assert_conforms(spec, "/v2/language/retrain", "post", retrained)
    trained_model = sim.add_model()
    _, metrics = await api.get(f"v2/language/models/{trained_model}")
    assert_conforms(spec, "/v2/language/models/{modelId}", "get", metrics)
    _, curve = await api.get(f"v2/language/models/{trained_model}/lc")
    assert_conforms(spec, "/v2/language/models/{modelId}/lc", "get", curve)
    _, dataset_body = await api.get(f"v2/language/datasets/{dataset}")
    assert_conforms(spec, "/v2/language/datasets/{datasetId}", "get", dataset_body)
    _, usage = await api.get("v2/apiusage")
    assert_conforms(spec, "/v2/apiusage", "get", usage)


def test_spec_copy_is_the_published_file() -> None:
    """The spec kept in tests/spec is Salesforce's v2.0.1 file."""
    text = SPEC_PATH.read_bytes().decode("cp1252")
    assert 'version: "2.0.1"' in text
    assert "/v2/language/retrain:" in text


# -- serving -------------------------------------------------------------------------------------


async def test_start_returns_base_url_with_trailing_slash(sim: EinsteinSimulator) -> None:
    """start() binds a free port and returns the base URL ending in a slash."""
    base = await sim.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", base)
        assert sim.base_url == base
    finally:
        await sim.stop()


async def test_unknown_paths_answer_json(api: Api) -> None:
    """Routes the simulator does not serve answer 404 with a JSON message."""
    assert await api.get("v2/language/nothing") == (404, {"message": "Not Found"})


async def test_run_simulator_prints_what_a_client_needs(
    capsys: pytest.CaptureFixture[str], rsa_key: rsa.RSAPrivateKey
) -> None:
    """run_simulator serves until cancelled and prints the URL, a token and a demo model."""
    task = asyncio.create_task(
        run_simulator(
            host="127.0.0.1",
            port=0,
            time_scale=60,
            public_key_pem=public_pem(rsa_key),
            account_id=ACCOUNT,
        )
    )
    out = ""
    for _ in range(400):
        await asyncio.sleep(0.005)
        out += capsys.readouterr().out
        if "demo model" in out:
            break
    base = re.search(r"http://127\.0\.0\.1:\d+/", out)
    token = re.search(r"access token: ([A-Z2-7]+)", out)
    model = re.search(r"demo model: +([A-Z2-7]{26})", out)
    assert base, out
    assert token, out
    assert model, out
    async with aiohttp.ClientSession() as session:
        api = Api(session, base.group(0), token.group(1))
        assert (await api.status(model.group(1)))["status"] == "SUCCEEDED"
        minted, _ = await api.mint(assertion(rsa_key, exp=time.time() + 60))
        assert minted == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
