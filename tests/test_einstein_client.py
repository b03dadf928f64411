"""The Einstein client against the simulator: retries, Retry-After, tokens, odd answers, secrets.

Retries run in stamina's test mode (see the autouse fixture): no backoff or Retry-After waits,
while `cap=True` keeps the client's own attempt limit, so attempt counts are checked as they
would be in production. The one test that measures a Retry-After wait turns test mode off.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
import stamina
import stamina.instrumentation
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.core.options import RetrainOptions
from bot.einstein.auth import JwtTokenSource, StaticTokenSource
from bot.einstein.client import EinsteinClient
from bot.einstein.explain import explain
from bot.einstein.models import Training
from bot.einstein.retry import RetryPolicy, parse_retry_after
from bot.errors import (
    EinsteinAuthError,
    EinsteinError,
    EinsteinNotFound,
    EinsteinRejected,
    EinsteinUnavailable,
)
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.keys import generate_key_pair as rsa_key_pair

ACCOUNT = "client-tests@example.com"
UNKNOWN_MODEL = "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"
STATUS = "getTrainStatusAndProgress"
TOKEN = "generateTokenV2"


@pytest.fixture(autouse=True)
def _no_backoff_waits() -> Iterator[None]:
    """stamina's test mode: waits are zero, each call keeps its own attempt limit (cap=True)."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@dataclass
class Einstein:
    """The simulator, a client minting tokens against it, and every error the test saw."""

    sim: EinsteinSimulator
    session: aiohttp.ClientSession
    private_pem: str
    public_pem: str
    tokens: JwtTokenSource
    client: EinsteinClient
    model_id: str
    errors: list[EinsteinError] = field(default_factory=list)

    def make_client(self, **options: Any) -> EinsteinClient:
        tokens = options.pop("tokens", self.tokens)
        base_url = options.pop("base_url", self.sim.base_url)
        return EinsteinClient(base_url=base_url, tokens=tokens, session=self.session, **options)

    async def fails(self, call: Awaitable[Any]) -> EinsteinError:
        """The EinsteinError `call` raises, kept for the secrets check at teardown."""
        with pytest.raises(EinsteinError) as caught:
            await call
        self.errors.append(caught.value)
        return caught.value

    def count(self, operation: str) -> int:
        return len(self.sim.calls(operation))

    def secrets(self) -> list[str]:
        """Every token and assertion that crossed the wire, and the private key's lines."""
        found = [line for line in self.private_pem.splitlines() if "-----" not in line]
        for request in self.sim.requests:
            _, _, token = request.headers.get("Authorization", "").partition(" ")
            if token:
                found.append(token)
            if request.form and request.form.get("assertion"):
                found.append(request.form["assertion"])
        return found


@pytest.fixture
async def einstein(
    key_pair: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Einstein]:
    caplog.set_level(logging.DEBUG)
    private_pem, public_pem = key_pair
    sim = EinsteinSimulator()
    sim.add_account(ACCOUNT, public_pem)
    model_id = sim.add_model()
    base_url = await sim.start()
    async with aiohttp.ClientSession() as session:
        tokens = JwtTokenSource(
            base_url=base_url, account_id=ACCOUNT, private_key_pem=private_pem, session=session
        )
        client = EinsteinClient(base_url=base_url, tokens=tokens, session=session, timeout=2.0)
        harness = Einstein(sim, session, private_pem, public_pem, tokens, client, model_id)
        try:
            yield harness
        finally:
            await sim.stop()
    # No secret in any error's text or repr, in any problem report or in any log line.
    shown = [text for e in harness.errors for text in (str(e), repr(e), e.message)]
    shown += [caplog.text, harness.tokens.problem or "", repr(harness.tokens)]
    for secret in harness.secrets():
        assert all(secret not in text for text in shown), "a secret leaked"


# -- retries of the reads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        (STATUS, "training_status"),
        ("getTrainedModelMetrics", "metrics"),
        ("getTrainedModelLearningCurve", "learning_curve"),
    ],
)
async def test_reads_are_retried_after_5xx(einstein: Einstein, operation: str, path: str) -> None:
    """Two 5xx answers, then success: the caller gets the result, the request went thrice."""
    einstein.sim.fail_next(operation, status=503, times=1)
    einstein.sim.fail_next(operation, status=502, times=1)
    result = await getattr(einstein.client, path)(einstein.model_id)
    assert result
    statuses = [r.status for r in einstein.sim.calls(operation)]
    assert statuses[:3] == [503, 502, 200]
    assert 503 not in statuses[3:]  # later learning curve pages


async def test_persistent_5xx_gives_up_after_the_attempt_limit(einstein: Einstein) -> None:
    """An outage ends the call after four attempts as EinsteinUnavailable with the status."""
    einstein.sim.fail_next(STATUS, status=500, times=None)
    error = await einstein.fails(einstein.client.training_status(einstein.model_id))
    assert isinstance(error, EinsteinUnavailable)
    assert (error.kind, error.status) == ("unavailable", 500)
    assert "HTTP 500" in error.message
    assert einstein.count(STATUS) == 4


async def test_429_waits_as_long_as_retry_after_says(einstein: Einstein) -> None:
    """A 429's Retry-After sets the wait (not the exponential backoff, 1 s here)."""
    waits: list[float] = []
    client = einstein.make_client(retry=RetryPolicy(wait_initial=1.0, wait_jitter=0.0))
    einstein.sim.fail_next(STATUS, status=429, retry_after=0.05)
    stamina.instrumentation.set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    try:
        with stamina.set_testing(False):
            await client.training_status(einstein.model_id)
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)
    first, second = einstein.sim.calls(STATUS)
    assert waits == [pytest.approx(0.05)]
    assert 0.05 <= second.time - first.time < 1.0


async def test_retry_after_beyond_the_budget_ends_the_call(einstein: Einstein) -> None:
    """Asked to come back in two minutes, the call stops at once and says when to return."""
    einstein.sim.fail_next(STATUS, status=429, retry_after=120)
    error = await einstein.fails(einstein.client.training_status(einstein.model_id))
    assert isinstance(error, EinsteinUnavailable)
    assert (error.kind, error.retry_after) == ("rate_limited", 120)
    assert einstein.count(STATUS) == 1


async def test_retry_after_as_an_http_date(einstein: Einstein) -> None:
    """A 503's Retry-After given as an HTTP date becomes seconds from now."""
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    einstein.sim.fail_next(STATUS, status=503, retry_after=later)
    error = await einstein.fails(einstein.client.training_status(einstein.model_id))
    assert isinstance(error, EinsteinUnavailable)
    assert error.retry_after == pytest.approx(3600, abs=5)
    assert einstein.count(STATUS) == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no wait
        ("Wed, 21 Oct 2015 07:30:00 GMT", 120.0),
    ],
)
def test_parse_retry_after(header: str, seconds: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP date; anything else is ignored."""
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now=now) == seconds


async def test_a_slow_read_is_retried(einstein: Einstein) -> None:
    """A status request that times out is sent again: reading twice changes nothing."""
    client = einstein.make_client(timeout=0.05)
    einstein.sim.fail_next(STATUS, status=None, delay=0.2)
    training = await client.training_status(einstein.model_id)
    assert training.model_id == einstein.model_id
    assert einstein.count(STATUS) == 2


async def test_the_budget_bounds_a_call(einstein: Einstein) -> None:
    """However long Einstein takes, a call ends when its budget is spent."""
    client = einstein.make_client(timeout=5.0, retry=RetryPolicy(budget=0.05))
    await einstein.client.training_status(einstein.model_id)  # mint outside the budget
    einstein.sim.fail_next(STATUS, status=None, delay=0.3)
    started = time.monotonic()
    error = await einstein.fails(client.training_status(einstein.model_id))
    assert time.monotonic() - started < 0.25
    assert error.kind == "timeout"


async def test_nobody_listening_is_unreachable(einstein: Einstein) -> None:
    """A port nobody listens on ends as an `unreachable` EinsteinUnavailable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = einstein.make_client(
        base_url=f"http://127.0.0.1:{port}/", tokens=StaticTokenSource("static-test-token")
    )
    error = await einstein.fails(client.training_status(einstein.model_id))
    assert isinstance(error, EinsteinUnavailable)
    assert error.kind == "unreachable"


# -- 4xx: answered for good -------------------------------------------------------------------


async def test_400_is_not_retried(einstein: Einstein) -> None:
    """A refused parameter is final: one request, Einstein's words kept, kind invalid_parameter."""
    said = "epochs must be an integer between 1 and 1000, got '0'"
    einstein.sim.fail_next("retrain", status=400, body={"message": said})
    error = await einstein.fails(einstein.client.retrain(einstein.model_id, RetrainOptions()))
    assert isinstance(error, EinsteinRejected)
    assert (error.kind, error.einstein_message, error.message) == ("invalid_parameter", said, said)
    assert einstein.count("retrain") == 1


async def test_404_is_not_retried(einstein: Einstein) -> None:
    """An unknown model is EinsteinNotFound after exactly one request."""
    error = await einstein.fails(einstein.client.training_status(UNKNOWN_MODEL))
    assert isinstance(error, EinsteinNotFound)
    assert error.kind == "not_found"
    assert einstein.count(STATUS) == 1


async def test_a_busy_dataset_is_named(einstein: Einstein) -> None:
    """A retrain while the dataset trains is `dataset_busy`, explained as such."""
    await einstein.client.retrain(einstein.model_id, RetrainOptions())
    error = await einstein.fails(einstein.client.retrain(einstein.model_id, RetrainOptions()))
    assert error.kind == "dataset_busy"
    assert "one model per dataset" in explain(error, model_id=einstein.model_id)
    assert einstein.count("retrain") == 2


async def test_too_many_words_is_named(einstein: Einstein) -> None:
    """A dataset over 3 million words is `too_many_words`."""
    model_id = einstein.sim.add_model(words=3_500_000)
    error = await einstein.fails(einstein.client.retrain(model_id, RetrainOptions()))
    assert error.kind == "too_many_words"
    assert "3 million words" in explain(error, model_id=model_id)


@pytest.mark.parametrize(
    ("said", "kind"),
    [
        ("The dataset is currently being trained (model X). Only one training …", "dataset_busy"),
        ("Dataset training already in progress", "dataset_busy"),
        ("A training is already queued or running for this dataset", "dataset_busy"),
        ("The dataset has 3,200,000 words; training accepts at most 3,000,000 …", "too_many_words"),
        ("Number of words exceeds the limit of 3 million", "too_many_words"),
        ("The dataset is not yet available for training, try again …", "dataset_not_ready"),
        ("Model not found: ABC", "not_found"),
        ("The model does not exist", "not_found"),
        ("Invalid trainSplitRatio: expected a number between 0 and 1", "invalid_parameter"),
        ("algorithm is unsupported", "invalid_parameter"),
        ("Something else entirely", "rejected"),
    ],
)  # fmt: skip
async def test_wordings_are_classified_loosely(einstein: Einstein, said: str, kind: str) -> None:
    """Einstein's 400 messages map to a kind whatever their exact wording."""
    einstein.sim.fail_next("retrain", status=400, body={"message": said})
    error = await einstein.fails(einstein.client.retrain(einstein.model_id, RetrainOptions()))
    assert isinstance(error, EinsteinRejected)
    assert error.kind == kind
    assert isinstance(error, EinsteinNotFound) == (kind == "not_found")


# -- the retrain is not idempotent ------------------------------------------------------------


async def test_retrain_is_not_resent_after_a_503(einstein: Einstein) -> None:
    """A 503 without Retry-After may hide a started training: raised after one request."""
    einstein.sim.fail_next("retrain", status=503)
    error = await einstein.fails(einstein.client.retrain(einstein.model_id, RetrainOptions()))
    assert isinstance(error, EinsteinUnavailable)
    assert error.retry_after is None
    assert einstein.count("retrain") == 1


async def test_retrain_is_not_resent_after_a_timeout(einstein: Einstein) -> None:
    """A retrain that times out may have reached Einstein: raised as `timeout` at once."""
    client = einstein.make_client(timeout=0.05)
    einstein.sim.fail_next("retrain", status=None, delay=0.2)
    error = await einstein.fails(client.retrain(einstein.model_id, RetrainOptions()))
    assert error.kind == "timeout"
    assert einstein.count("retrain") == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_retrain_is_resent_after_retry_after(einstein: Einstein, status: int) -> None:
    """429 or 503 with Retry-After: Einstein did not take the request, so it is sent again."""
    einstein.sim.fail_next("retrain", status=status, retry_after=0)
    training = await einstein.client.retrain(einstein.model_id, RetrainOptions())
    assert training.status == "QUEUED"
    assert einstein.count("retrain") == 2


class FlakyResolver(AbstractResolver):
    """Fails the first lookup, as a DNS hiccup would, then resolves every name to loopback."""

    def __init__(self) -> None:
        self.lookups = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups += 1
        if self.lookups == 1:
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        return None


async def test_retrain_is_resent_when_it_never_left(einstein: Einstein) -> None:
    """A failed name lookup means no request was sent, so the retrain is safely sent again."""
    resolver = FlakyResolver()
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    port = einstein.sim.base_url.rsplit(":", 1)[1]
    async with aiohttp.ClientSession(connector=connector) as session:
        client = EinsteinClient(
            base_url=f"http://einstein.test:{port}",
            tokens=StaticTokenSource(einstein.sim.issue_token(ACCOUNT)),
            session=session,
        )
        training = await client.retrain(einstein.model_id, RetrainOptions())
    assert isinstance(training, Training)
    assert resolver.lookups == 2
    assert einstein.count("retrain") == 1


# -- tokens -----------------------------------------------------------------------------------


async def test_a_401_remints_once_and_succeeds(einstein: Einstein) -> None:
    """A revoked token costs one new token and one resent request, nothing more."""
    await einstein.client.training_status(einstein.model_id)
    einstein.sim.revoke_tokens()
    await einstein.client.training_status(einstein.model_id)
    assert einstein.count(TOKEN) == 2
    assert [r.status for r in einstein.sim.calls(STATUS)] == [200, 401, 200]


async def test_two_401s_are_an_auth_error(einstein: Einstein) -> None:
    """A fresh token refused too is EinsteinAuthError, reported as the client's problem."""
    einstein.sim.fail_next(STATUS, status=401, times=2, body={"message": "Invalid access token"})
    error = await einstein.fails(einstein.client.training_status(einstein.model_id))
    assert isinstance(error, EinsteinAuthError)
    assert einstein.count(STATUS) == 2
    assert einstein.count(TOKEN) == 2
    assert einstein.client.problem is not None
    assert "Invalid access token" in einstein.client.problem
    await einstein.client.training_status(einstein.model_id)
    assert einstein.client.problem is None


async def test_concurrent_401s_share_one_token_request(einstein: Einstein) -> None:
    """Twenty calls refused at once with a revoked token cause exactly one token request."""
    await einstein.client.training_status(einstein.model_id)
    einstein.sim.revoke_tokens()
    results = await asyncio.gather(
        *(einstein.client.training_status(einstein.model_id) for _ in range(20))
    )
    assert len(results) == 20
    assert einstein.count(TOKEN) == 2


async def test_tokens_are_minted_before_they_expire(einstein: Einstein) -> None:
    """Close to its expiry the token is replaced before use, so no call meets a 401."""
    now = [time.time()]
    tokens = JwtTokenSource(
        base_url=einstein.sim.base_url,
        account_id=ACCOUNT,
        private_key_pem=einstein.private_pem,
        session=einstein.session,
        clock=lambda: now[0],
    )
    client = einstein.make_client(tokens=tokens)
    await client.training_status(einstein.model_id)
    now[0] += 3600 - 10
    await client.training_status(einstein.model_id)
    assert einstein.count(TOKEN) == 2
    assert 401 not in [r.status for r in einstein.sim.calls(STATUS)]


async def test_token_endpoint_outage_is_retried(einstein: Einstein) -> None:
    """A token request is only a mint, so 5xx answers from it are retried."""
    einstein.sim.fail_next(TOKEN, status=503, times=2)
    await einstein.client.training_status(einstein.model_id)
    assert einstein.count(TOKEN) == 3
    assert einstein.tokens.problem is None


async def test_a_wrong_key_is_one_clear_problem_until_a_mint_works(einstein: Einstein) -> None:
    """A refused key: one token request, a plain operator message; a good mint clears it."""
    other_private, other_public = rsa_key_pair()
    tokens = JwtTokenSource(
        base_url=einstein.sim.base_url,
        account_id=ACCOUNT,
        private_key_pem=other_private,
        session=einstein.session,
    )
    client = einstein.make_client(tokens=tokens)
    error = await einstein.fails(client.training_status(einstein.model_id))
    assert isinstance(error, EinsteinAuthError)
    assert einstein.count(TOKEN) == 1
    assert einstein.count(STATUS) == 0
    assert tokens.problem == client.problem
    assert tokens.problem is not None
    assert tokens.problem.startswith(f"Einstein refused the JWT for account {ACCOUNT} (HTTP 401")
    assert "check EINSTEIN_PRIVATE_KEY" in tokens.problem
    assert "credentials were refused" in explain(error, model_id=einstein.model_id)
    for line in other_private.splitlines()[1:-1]:
        assert line not in tokens.problem
        assert line not in str(error)
    einstein.sim.add_account(ACCOUNT, other_public)
    await client.training_status(einstein.model_id)
    assert tokens.problem is None


async def test_an_unknown_account_points_at_the_account(einstein: Einstein) -> None:
    """An account Einstein does not know is named as the thing to check."""
    tokens = JwtTokenSource(
        base_url=einstein.sim.base_url,
        account_id="nobody@example.com",
        private_key_pem=einstein.private_pem,
        session=einstein.session,
    )
    await einstein.fails(einstein.make_client(tokens=tokens).training_status(einstein.model_id))
    assert tokens.problem is not None
    assert "check EINSTEIN_ACCOUNT_ID" in tokens.problem


async def test_a_refused_static_token_is_a_problem(einstein: Einstein) -> None:
    """EINSTEIN_ACCESS_TOKEN refused: one request, no refresh, an operator message."""
    client = einstein.make_client(tokens=StaticTokenSource("not-a-valid-token"))
    error = await einstein.fails(client.training_status(einstein.model_id))
    assert isinstance(error, EinsteinAuthError)
    assert einstein.count(STATUS) == 1
    assert client.problem is not None
    assert "EINSTEIN_ACCESS_TOKEN" in client.problem
    assert "not-a-valid-token" not in client.problem


async def test_minting_is_logged_without_the_token(
    einstein: Einstein, caplog: pytest.LogCaptureFixture
) -> None:
    """Each mint leaves a DEBUG line that names the account but not the token."""
    await einstein.client.training_status(einstein.model_id)
    [minted] = [r for r in caplog.records if "minted an Einstein access token" in r.getMessage()]
    assert minted.levelno == logging.DEBUG
    assert ACCOUNT in minted.getMessage()
    assert einstein.secrets()  # the teardown check compares the log against these


async def test_secrets_echoed_by_einstein_are_redacted(einstein: Einstein) -> None:
    """A token or key Einstein quotes back never reaches the error text."""
    await einstein.client.training_status(einstein.model_id)
    token = einstein.secrets()[-1]
    said = f"Bad header 'Authorization: Bearer {token}'"
    einstein.sim.fail_next(STATUS, status=400, body={"message": said})
    error = await einstein.fails(einstein.client.training_status(einstein.model_id))
    assert token not in str(error)
    assert "[redacted]" in str(error)
    einstein.sim.fail_next(STATUS, status=400, body={"message": f"echo {einstein.private_pem}"})
    error = await einstein.fails(einstein.client.training_status(einstein.model_id))
    assert "PRIVATE KEY" not in str(error)


# -- answers the client cannot read -----------------------------------------------------------


async def test_unknown_status_is_passed_on(einstein: Einstein) -> None:
    """A training status Einstein never documented reaches the follower as it is."""
    einstein.sim.fail_next(STATUS, status=200, body={"modelId": "X", "status": "ODD"})
    training = await einstein.client.training_status(einstein.model_id)
    assert training.status == "ODD"


HTML = "<!DOCTYPE html><html><head><title>Gateway page</title></head><body>oops</body></html>"


@pytest.mark.parametrize(
    ("status", "body", "kind", "says"),
    [
        (502, HTML, "unavailable", "HTTP 502; it answered with an HTML page instead of JSON"),
        (500, "", "unavailable", "HTTP 500; it answered with an empty body"),
        (200, HTML, "malformed", "Einstein answered with an HTML page instead of JSON (HTTP 200)"),
        (200, "", "malformed", "Einstein answered with an empty body (HTTP 200)"),
        (200, '{"modelId": "X", "status', "malformed", "Einstein answered with malformed JSON"),
        (200, [1, 2, 3], "malformed", "Einstein answered with JSON that is not an object"),
        (200, {"hello": "world"}, "malformed", "training status is malformed (modelId, status)"),
        (302, "", "malformed", "unexpected HTTP 302"),
    ],
)  # fmt: skip
async def test_unreadable_answers_become_clear_errors(
    einstein: Einstein, status: int, body: Any, kind: str, says: str
) -> None:
    """HTML pages, empty bodies, broken JSON and odd objects give short, clear errors."""
    einstein.sim.fail_next(STATUS, status=status, body=body, times=None)
    error = await einstein.fails(einstein.client.training_status(einstein.model_id))
    assert error.kind == kind
    assert says in error.message
    assert "Gateway page" not in error.message
    assert isinstance(error, EinsteinUnavailable) == (status >= 500)
    # Garbage in a 200 is an answer, not an outage: it is not asked again.
    assert einstein.count(STATUS) == (4 if status >= 500 else 1)


LEARNING_CURVE = "getTrainedModelLearningCurve"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (HTML, "Einstein answered with an HTML page instead of JSON (HTTP 200)"),
        ("", "Einstein answered with an empty body (HTTP 200)"),
        ('{"data": [{"epoch"', "Einstein answered with malformed JSON"),
        ([1, 2, 3], "Einstein answered with JSON that is not an object"),
        ({"object": "list"}, "Einstein's learning curve answer has no data list"),
        ({"data": {"epoch": 1}}, "Einstein's learning curve answer has no data list"),
        ({"data": [{"epoch": 1}, {"metricsData": {}}]}, "curve answer is malformed (epoch)"),
        (
            {"data": [{"epoch": 1, "metricsData": {"testAccuracy": "high"}}]},
            "learning curve answer is malformed (metricsData.testAccuracy)",
        ),
    ],
)  # fmt: skip
async def test_unreadable_pages_become_clear_errors(
    einstein: Einstein, body: Any, says: str
) -> None:
    """A list's page is read straight into its models; what cannot be read is named, as for
    any other answer, and not asked again."""
    einstein.sim.fail_next(LEARNING_CURVE, status=200, body=body, times=None)
    error = await einstein.fails(einstein.client.learning_curve(einstein.model_id))
    assert error.kind == "malformed"
    assert says in error.message
    assert "Gateway page" not in error.message
    assert einstein.count(LEARNING_CURVE) == 1
