"""How one Einstein call is sent: the token, a 401's one refresh, the retries, the metrics.

`Transport` is the only code that speaks HTTP to Einstein's language API; `EinsteinClient`
(`bot.einstein.client`) builds each call and reads its answer. Which failures each call retries,
and why that is safe, is the table at the top of `bot.einstein.client`: `transient` is the rule
of the reads, `unprocessed` that of the retrain and the feedback. A failed request comes out as
one of the `EinsteinError` kinds in `bot.errors`, read from Einstein's answer by
`bot.einstein.answers`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel

from bot.einstein.answers import Answer, einstein_message, json_object, read_answer
from bot.einstein.auth import TokenSource
from bot.einstein.reading import page_reader
from bot.einstein.retry import RetryPolicy, call_with_retries
from bot.errors import EinsteinError, EinsteinUnavailable
from bot.metrics import Metrics as BotMetrics

__all__ = ["Transport", "transient", "unprocessed"]

log = logging.getLogger(__name__)

# Bounds a listing against a service that keeps answering full pages (10,000 pages of 100).
_MAX_PAGES = 10_000

T = TypeVar("T")
_Item = TypeVar("_Item", bound=BaseModel)


class Transport:
    """Sends the client's calls: each request bounded by `timeout`, each call by `retry`.

    `problem` says why Einstein refuses the bot's credentials, for the operator.
    """

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenSource,
        session: aiohttp.ClientSession,
        timeout: float,
        retry: RetryPolicy,
        metrics: BotMetrics | None,
    ) -> None:
        self._base = base_url
        self._metrics = metrics
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

    async def every_page(
        self,
        path: str,
        item: type[_Item],
        *,
        page: int,
        params: dict[str, str] | None = None,
        what: str,
    ) -> list[_Item]:
        """The `data` items of every page of a list call, read until a page is not full."""
        read = page_reader(item, what=what)
        items: list[_Item] = []
        for _ in range(_MAX_PAGES):
            data = await self._call(
                "GET",
                path,
                params={**(params or {}), "offset": str(len(items)), "count": str(page)},
                what=f"{what} request",
                read=read,
            )
            items.extend(data)
            if len(data) < page:
                return items
        raise EinsteinError(f"Einstein's {what} answer goes on past {_MAX_PAGES} pages")

    async def call(
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
        return await self._call(
            method, path, params=params, form=form, retry_on=retry_on, what=what, read=json_object
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        retry_on: Callable[[EinsteinError], bool] | None = None,
        what: str,
        read: Callable[[Answer], T],
    ) -> T:
        """One API call with its retries; what `read` makes of Einstein's answer."""
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

        call = what.removesuffix(" request").replace(" ", "_")

        async def attempt() -> T:
            if self._metrics is None:
                return await answered()
            try:
                body = await answered()
            except EinsteinError as exc:
                if exc is not token_failure:
                    self._metrics.einstein_call(call, exc.kind)
                raise
            self._metrics.einstein_call(call, "ok")
            return body

        async def answered() -> T:
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
            return read_answer(answer, read, secrets=(current,))

        def should_retry(exc: EinsteinError) -> bool:
            if exc is token_failure:
                return False
            return (retry_on or transient)(exc)

        return await call_with_retries(
            attempt, policy=self._retry, retry_on=should_retry, what=what
        )

    def _note_refused(self, answer: Answer, *, token: str) -> None:
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
    ) -> Answer:
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
                return Answer(
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


# -- which failures are worth another attempt -----------------------------------------------


def transient(exc: EinsteinError) -> bool:
    """For idempotent calls: anything that may be gone on the next attempt."""
    return isinstance(exc, EinsteinUnavailable)


def unprocessed(exc: EinsteinError) -> bool:
    """For the retrain: only failures that prove Einstein did not process the request."""
    if exc.kind in ("unreachable", "rate_limited"):
        return True  # no connection was made, or Einstein refused to take the request (429)
    # A 503 that names a time to come back is a refusal at the door, not a failed training.
    return (
        isinstance(exc, EinsteinUnavailable) and exc.status == 503 and exc.retry_after is not None
    )
