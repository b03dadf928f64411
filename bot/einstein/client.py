"""The Einstein Language client: the only code that speaks HTTP to Einstein's language API.

Every call is bounded: each request has a timeout, and a call with its retries and waits ends
within `RetryPolicy.budget` seconds. Every failure comes out as one of the `EinsteinError` kinds
in `bot.errors`. What is retried, and why it is safe:

    call                  retried after                              because
    GET status, metrics,  connection errors, timeouts, 5xx, 429      reading twice changes nothing
    learning curve
    POST retrain          no connection made (refused, DNS); 429;    Einstein never processed it
                          503 with Retry-After
    token (auth.py)       connection errors, timeouts, 5xx, 429      a spare token harms nothing
    any call, once        401: sent again with a fresh token         the refused request was not
                                                                     processed

Any other retrain failure (a timeout, a connection broken after sending, a 5xx) may hide a
training Einstein did start, so it is raised at once: the follower looks for that training
before it sends the retrain again. Waits grow exponentially with jitter (stamina), or follow the
server's `Retry-After`; a `Retry-After` beyond the call's budget ends the call with
`EinsteinUnavailable.retry_after` set, so the caller can come back later instead of hanging.

Tests turn every wait off with `stamina.set_testing(True, attempts=N, cap=True)`: no backoff and
no `Retry-After` sleeps, while `cap=True` keeps each call's own attempt limit under test.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import stamina
from pydantic import BaseModel, ValidationError

from bot.core.options import RetrainOptions
from bot.einstein.models import TERMINAL_STATUSES, LearningCurvePoint, Metrics, Training
from bot.errors import (
    EinsteinAuthError,
    EinsteinError,
    EinsteinErrorKind,
    EinsteinNotFound,
    EinsteinRejected,
    EinsteinUnavailable,
)

if TYPE_CHECKING:
    # Only for annotations: auth.py imports this module for the retry policy.
    from bot.einstein.auth import TokenSource

__all__ = [
    "DEFAULT_RETRY",
    "KNOWN_STATUSES",
    "QUOTE_LIMIT",
    "EinsteinClient",
    "RetryPolicy",
    "call_with_retries",
    "einstein_message",
    "parse_retry_after",
    "plain_text",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=BaseModel)
_LC_PAGE = 25  # the API's maximum page size for learning curves
KNOWN_STATUSES = TERMINAL_STATUSES | {"QUEUED", "RUNNING"}
QUOTE_LIMIT = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard one call tries: at most `attempts` requests within `budget` seconds in all.

    Waits start at `wait_initial`, double up to `wait_max` and get up to `wait_jitter` seconds
    added at random, so many bots retrying after one outage do not arrive in step. The defaults
    ride out a blip: four attempts in about half a second. A longer outage is the follower's to
    wait out, with its own slower backoff between polls.
    """

    attempts: int = 4
    budget: float = 30.0
    wait_initial: float = 0.05
    wait_max: float = 1.0
    wait_jitter: float = 0.05


DEFAULT_RETRY = RetryPolicy()


async def call_with_retries(
    attempt: Callable[[], Awaitable[_T]],
    *,
    policy: RetryPolicy,
    retry_on: Callable[[EinsteinError], bool],
    what: str,
) -> _T:
    """Await `attempt()` until it succeeds, `retry_on` refuses its error or `policy` runs out.

    A `Retry-After` is honoured when it fits in what is left of the budget; otherwise the
    error is raised with its `retry_after`, for the caller to come back later.
    """
    deadline = time.monotonic() + policy.budget
    made = 0
    in_flight = False
    last: EinsteinError | None = None

    def wait(exc: Exception) -> bool | float:
        nonlocal last
        if not isinstance(exc, EinsteinError):
            return False
        last = exc
        # stamina stops at `attempts` too; checking here keeps "trying again" out of the log.
        if made >= policy.attempts or not retry_on(exc):
            return False
        retry_after = exc.retry_after if isinstance(exc, EinsteinUnavailable) else None
        if retry_after is None:
            log.info("Einstein %s failed (%s); trying again", what, exc.message)
            return True  # stamina's exponential backoff with jitter
        if retry_after > deadline - time.monotonic():
            return False
        log.info("Einstein %s failed (%s); trying again in %g s", what, exc.message, retry_after)
        return retry_after

    async def timed() -> _T:
        nonlocal in_flight, made
        made += 1
        in_flight = True
        try:
            return await attempt()
        except EinsteinError:
            in_flight = False  # answered or failed; a cut-off attempt leaves it set
            raise

    try:
        # stamina stops retrying after `budget`, but only between attempts; asyncio.timeout
        # also bounds an attempt or a wait in progress, so no call outlives its budget.
        async with asyncio.timeout(policy.budget):
            # Nearly every call succeeds at once: the first attempt runs without the retry
            # machinery, which would cost a status poll a tenth of its CPU. A failure is
            # handed to stamina as its first attempt's, so the policy applies as usual.
            try:
                return await timed()
            except EinsteinError as exc:
                failed: EinsteinError | None = exc
            async for retry in stamina.retry_context(
                on=wait,
                attempts=policy.attempts,
                timeout=policy.budget,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with retry:
                    if failed is not None:
                        first, failed = failed, None
                        raise first
                    return await timed()
    except TimeoutError:
        if last is not None and not in_flight:
            raise last from None
        raise EinsteinUnavailable(
            f"Einstein did not answer the {what} within {policy.budget:g} s", kind="timeout"
        ) from None
    raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover


class EinsteinClient:
    """Typed access to the language endpoints the bot uses.

    `timeout` bounds each request, `retry` each call (see the module docstring for what is
    retried). `problem` says why Einstein refuses the bot's credentials, for the operator.
    """

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        session: aiohttp.ClientSession,
        timeout: float = 20.0,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._base = base_url
        self._tokens = tokens
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retry = retry
        self._refused: str | None = None

    @property
    def problem(self) -> str | None:
        """An operator message while Einstein refuses the credentials, else None."""
        # Token sources that predate `problem` simply have none to report.
        minting = getattr(self._tokens, "problem", None)
        return minting if isinstance(minting, str) else self._refused

    async def retrain(self, model_id: str, options: RetrainOptions) -> Training:
        """`POST v2/language/retrain`: start a new training that keeps `model_id`."""
        model_id = _safe(model_id)

        def form() -> aiohttp.FormData:
            # Built per attempt: aiohttp consumes a FormData when it is sent.
            data = aiohttp.FormData(default_to_multipart=True)
            data.add_field("modelId", model_id)
            for name, value in options.form_fields().items():
                data.add_field(name, value)
            params = options.train_params()
            if params:
                data.add_field("trainParams", json.dumps(params, separators=(",", ":")))
            return data

        body = await self._call(
            "POST", "v2/language/retrain", form=form, retry_on=_unprocessed, what="retrain"
        )
        return _training(body, what="retrain answer")

    async def training_status(self, model_id: str) -> Training:
        """`GET v2/language/train/{modelId}`."""
        body = await self._call(
            "GET", f"v2/language/train/{_safe(model_id)}", what="status request"
        )
        return _training(body, what="training status")

    async def metrics(self, model_id: str) -> Metrics:
        """`GET v2/language/models/{modelId}`: metrics of the model's last training."""
        body = await self._call(
            "GET", f"v2/language/models/{_safe(model_id)}", what="metrics request"
        )
        return _parse(Metrics, body, what="model metrics")

    async def learning_curve(self, model_id: str) -> list[LearningCurvePoint]:
        """`GET v2/language/models/{modelId}/lc`, every page."""
        points: list[LearningCurvePoint] = []
        offset = 0
        while True:
            body = await self._call(
                "GET",
                f"v2/language/models/{_safe(model_id)}/lc",
                params={"offset": str(offset), "count": str(_LC_PAGE)},
                what="learning curve request",
            )
            data = body.get("data")
            if not isinstance(data, list):
                raise EinsteinError("Einstein's learning curve answer has no data list")
            try:
                points.extend(LearningCurvePoint.model_validate(item) for item in data)
            except ValidationError as exc:
                raise EinsteinError(
                    f"Einstein's learning curve answer is malformed ({_fields(exc)})"
                ) from None
            if len(data) < _LC_PAGE:
                return points
            offset += len(data)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        retry_on: Callable[[EinsteinError], bool] | None = None,
        what: str,
    ) -> dict[str, Any]:
        """One API call with its retries; the JSON object Einstein answered."""
        refreshed = False
        token_failure: EinsteinError | None = None

        async def token(stale: str | None = None) -> str:
            nonlocal token_failure
            try:
                return await self._tokens.token(stale=stale)
            except EinsteinError as exc:
                # The token source has retried already; retrying here would multiply attempts.
                token_failure = exc
                raise

        async def attempt() -> dict[str, Any]:
            nonlocal refreshed
            current = await token()
            answer = await self._send(method, path, token=current, params=params, form=form)
            if answer.status == 401 and self._tokens.can_refresh and not refreshed:
                # Einstein refused the token before doing anything, so sending again is safe,
                # the retrain included. Once per call: a second 401 is not an expired token.
                refreshed = True
                current = await token(stale=current)
                answer = await self._send(method, path, token=current, params=params, form=form)
            if answer.status == 401:
                self._note_refused(answer, token=current)
            elif 200 <= answer.status < 300 and self._refused is not None:
                log.warning("Einstein accepts the bot's credentials again")
                self._refused = None
            return _check(answer, secrets=(current,))

        def should_retry(exc: EinsteinError) -> bool:
            if exc is token_failure:
                return False
            return (retry_on or _transient)(exc)

        return await call_with_retries(
            attempt, policy=self._retry, retry_on=should_retry, what=what
        )

    def _note_refused(self, answer: _Answer, *, token: str) -> None:
        said = einstein_message(answer.body, secrets=(token,))
        detail = f"HTTP 401: {said}" if said else "HTTP 401"
        if self._tokens.can_refresh:
            problem = (
                f"Einstein refused a freshly minted access token ({detail}); check that the "
                "EINSTEIN_ACCOUNT_ID account may use the Language API"
            )
        else:
            problem = (
                f"Einstein refused EINSTEIN_ACCESS_TOKEN ({detail}); replace it, or set "
                "EINSTEIN_ACCOUNT_ID and EINSTEIN_PRIVATE_KEY so the bot mints its own tokens"
            )
        if problem != self._refused:
            log.error("%s", problem)  # once per change, not on every poll
        self._refused = problem

    async def _send(
        self,
        method: str,
        path: str,
        *,
        token: str,
        params: dict[str, str] | None,
        form: Callable[[], aiohttp.FormData] | None,
    ) -> _Answer:
        headers = {"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}
        try:
            async with self._session.request(
                method,
                self._base + path,
                headers=headers,
                params=params,
                data=form() if form is not None else None,
                timeout=self._timeout,
            ) as response:
                return _Answer(
                    status=response.status,
                    body=await response.read(),
                    retry_after=response.headers.get("Retry-After"),
                )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # No connection was made, so the request cannot have reached Einstein.
            raise EinsteinUnavailable(
                f"could not connect to Einstein ({exc.__class__.__name__})", kind="unreachable"
            ) from None
        except TimeoutError:
            raise EinsteinUnavailable(
                f"Einstein did not answer within {self._timeout.total:g} s", kind="timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise EinsteinUnavailable(
                f"the connection to Einstein failed ({exc.__class__.__name__})"
            ) from None


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    retry_after: str | None


# -- which failures are worth another attempt -----------------------------------------------


def _transient(exc: EinsteinError) -> bool:
    """For idempotent calls: anything that may be gone on the next attempt."""
    return isinstance(exc, EinsteinUnavailable)


def _unprocessed(exc: EinsteinError) -> bool:
    """For the retrain: only failures that prove Einstein did not process the request."""
    if exc.kind in ("unreachable", "rate_limited"):
        return True  # no connection was made, or Einstein refused to take the request (429)
    # A 503 that names a time to come back is a refusal at the door, not a failed training.
    return (
        isinstance(exc, EinsteinUnavailable) and exc.status == 503 and exc.retry_after is not None
    )


# -- reading answers ----------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` in seconds from now: delay-seconds or an HTTP date; None if unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        # The spec says whole seconds; a fraction is read too rather than thrown away.
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None  # HTTP dates are GMT; one without a zone is not an HTTP date
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")
_WHITESPACE = re.compile(r"\s+")
_SECRETISH = re.compile(
    r"-----BEGIN[^-]*-----.*?(?:-----END[^-]*-----|$)"  # a PEM block, even a cut one
    r"|\bbearer\s+\S+"  # an Authorization header echoed back
    r"|\beyJ[\w-]*\.[\w-]+\.[\w-]*",  # a JWT (an assertion)
    re.IGNORECASE | re.DOTALL,
)


def plain_text(text: str, *, secrets: Iterable[str] = (), limit: int = QUOTE_LIMIT) -> str:
    """Outside text made fit to log or quote: one line, no control characters, no secrets,
    at most `limit` characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _SECRETISH.sub("[redacted]", text)
    text = _WHITESPACE.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _decode(body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object in `body`, or None and what the body is instead."""
    stripped = body.strip()
    if not stripped:
        return None, "an empty body"
    if stripped[:1] == b"<":
        return None, "an HTML page instead of JSON"
    try:
        decoded = json.loads(stripped)
    except ValueError:  # UnicodeDecodeError included
        return None, "malformed JSON"
    if not isinstance(decoded, dict):
        return None, "JSON that is not an object"
    return decoded, None


def einstein_message(body: bytes, *, secrets: Iterable[str] = ()) -> str | None:
    """The message in an error answer (`{"message": ...}`, or OAuth's `error_description`),
    made fit to quote with `plain_text`; None when there is none."""
    decoded, _ = _decode(body)
    if decoded is None:
        return None
    for key in ("message", "error_description", "error"):
        value = decoded.get(key)
        if isinstance(value, str) and value.strip():
            return plain_text(value, secrets=secrets)
    return None


def _check(answer: _Answer, *, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON object of a successful answer, or the right error for any other."""
    status = answer.status
    decoded, unlike_json = _decode(answer.body)
    if 200 <= status < 300:
        if decoded is None:
            raise EinsteinError(
                f"Einstein answered with {unlike_json} (HTTP {status})", status=status
            )
        return decoded
    said = einstein_message(answer.body, secrets=secrets)
    detail = f"HTTP {status}: {said}" if said else f"HTTP {status}"
    if unlike_json is not None and not said:
        detail += f"; it answered with {unlike_json}"
    if status >= 500:
        # Only a 503 promises that a Retry-After means "not processed, come back then".
        retry_after = parse_retry_after(answer.retry_after) if status == 503 else None
        raise EinsteinUnavailable(
            f"Einstein is unavailable ({detail})",
            status=status,
            retry_after=retry_after,
            einstein_message=said,
        )
    if status == 429:
        raise EinsteinUnavailable(
            f"Einstein asked the bot to slow down ({detail})",
            status=status,
            retry_after=parse_retry_after(answer.retry_after),
            kind="rate_limited",
            einstein_message=said,
        )
    if status == 401:
        raise EinsteinAuthError(
            f"Einstein refused the bot's credentials ({detail})",
            status=status,
            einstein_message=said,
        )
    if 400 <= status < 500:
        kind = _rejection_kind(status, said)
        error = EinsteinNotFound if kind == "not_found" else EinsteinRejected
        # `message` stays Einstein's own words where it gave some: callers show it as is.
        raise error(
            said or f"Einstein refused the request ({detail})",
            status=status,
            kind=kind,
            einstein_message=said,
        )
    raise EinsteinError(f"Einstein answered with an unexpected HTTP {status}", status=status)


# The live service's wording is undocumented: match loosely, and fall back to quoting it.
_TOO_MANY_WORDS = re.compile(
    r"\bwords?\b.*(3[ ,.]?000[ ,.]?000|3\s*million|too many|at most|exceed|limit|maximum)"
    r"|(3[ ,.]?000[ ,.]?000|3\s*million|too many|exceed\w*|limit|maximum).*\bwords?\b",
    re.IGNORECASE,
)
_NOT_READY = re.compile(r"\bnot\s+(yet\s+)?(available|ready)\b", re.IGNORECASE)
_BUSY = re.compile(
    r"\b(being|currently|already)\s+(being\s+)?train"
    r"|\btrain\w*\b.*\b(in progress|already|queued or running|at a time)\b"
    r"|\bone training per dataset\b",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"\bnot\s+found\b|\bdoes\s+not\s+exist\b|\bno such\b|\bunknown\s+(model|dataset)\b",
    re.IGNORECASE,
)
_INVALID = re.compile(
    r"\b(invalid|must|required|expected|unsupported|not valid|out of range|between|"
    r"unknown|not allowed|cannot be)\b",
    re.IGNORECASE,
)


# In this order: "not yet available for training" is about readiness, not a busy dataset.
_KINDS_BY_WORDING: tuple[tuple[re.Pattern[str], EinsteinErrorKind], ...] = (
    (_TOO_MANY_WORDS, "too_many_words"),
    (_NOT_READY, "dataset_not_ready"),
    (_BUSY, "dataset_busy"),
    (_NOT_FOUND, "not_found"),
)


def _rejection_kind(status: int, said: str | None) -> EinsteinErrorKind:
    if status == 404:
        return "not_found"
    text = said or ""
    for pattern, kind in _KINDS_BY_WORDING:
        if pattern.search(text):
            return kind
    if status == 400 and _INVALID.search(text):
        return "invalid_parameter"
    return "rejected"


def _fields(exc: ValidationError) -> str:
    """The names of the fields that failed, never their values."""
    names = sorted(
        {".".join(str(part) for part in error["loc"]) or "body" for error in exc.errors()}
    )
    shown = ", ".join(names[:5])
    return shown + (", …" if len(names) > 5 else "")


def _parse(model: type[_Model], body: dict[str, Any], *, what: str) -> _Model:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise EinsteinError(f"Einstein's {what} is malformed ({_fields(exc)})") from None


_MODEL_ID = re.compile(r"[A-Za-z0-9]{1,64}")


def _safe(model_id: str) -> str:
    """The model ID, checked again here: it goes into URL paths and form parts, so nothing but
    letters and digits may pass, whatever the caller checked before."""
    if not _MODEL_ID.fullmatch(model_id):
        raise EinsteinRejected(
            "the model ID must be 1 to 64 letters and digits",
            kind="invalid_parameter",
        )
    return model_id


def _training(body: dict[str, Any], *, what: str) -> Training:
    # A status the bot does not know is passed on, not refused: the follower treats it as
    # still running (never as success) and says so in the log.
    return _parse(Training, body, what=what)
