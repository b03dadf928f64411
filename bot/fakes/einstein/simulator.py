"""A local Einstein Language v2 service for the demo, local development and tests.

    sim = EinsteinSimulator(clock=fake_clock, seed=7)
    sim.add_account("me@example.com", public_key_pem)
    model_id = sim.add_model()
    base_url = await sim.start()          # "http://127.0.0.1:54321/"
    ...
    await sim.stop()

It serves the calls the bot makes, with the documented shapes: token, train, retrain, training
status, metrics, learning curve, models of a dataset, dataset, its examples, feedback, and the
account's API usage.
Trainings follow a time-driven state machine (`training`), their outcome can be scripted, and
faults can be injected (`faults`). Every request received is kept in `requests`.

Choices where the live service is undocumented (all errors are JSON `{"message": ...}`):
- 400: an invalid parameter, a dataset already training, more than 3 million words, a dataset
  not available yet, a train/retrain/feedback body that is not multipart/form-data, a feedback
  label the model's dataset does not have;
- 404: an unknown or forgotten model or dataset; metrics or learning curve of a model with no
  successful training yet (the status is configurable: `untrained_status`);
- 401 and the token endpoint: see `auth`.

Clocks: `queue_seconds` and `run_seconds` are simulated seconds, and `time_scale` simulated
seconds pass per second of `clock`. Token lifetimes and fault delays are in clock seconds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from bot.fakes.einstein.auth import TokenIssuer
from bot.fakes.einstein.faults import (
    Fault,
    FaultPlan,
    RecordedRequest,
    fault_response,
    record_request,
)
from bot.fakes.einstein.objects import TrainParamsAs, render_api_usage
from bot.fakes.einstein.requests import ApiError
from bot.fakes.einstein.routes import TOKEN_PATH, error_response, language_routes, read_form
from bot.fakes.einstein.service import LanguageService

__all__ = ["DEFAULT_ACCOUNT", "EinsteinSimulator", "Fault", "RecordedRequest"]

DEFAULT_ACCOUNT = "simulator@example.com"
_ISSUED_TOKEN_SECONDS = 24 * 3600


class EinsteinSimulator(LanguageService):
    """The Einstein Language API on a local port: configure it, start it, point a client at it.

    Datasets, models and scripted trainings are set up with the `LanguageService` calls
    (`add_dataset`, `add_model`, `script`, `forget`); this class adds accounts and tokens,
    faults, the request log and the HTTP server.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        time_scale: float = 1.0,
        token_ttl: float | None = None,
        queue_seconds: float = 30.0,
        run_seconds: float = 150.0,
        seed: int = 0,
        train_params_as: TrainParamsAs = "string",
        train_stats_as: TrainParamsAs = "object",
        untrained_status: int = 404,
        strict_multipart: bool = True,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._clock = clock or time.time
        self._origin = self._clock()
        self._time_scale = time_scale
        super().__init__(
            now=self._simulated_now,
            queue_seconds=queue_seconds,
            run_seconds=run_seconds,
            seed=seed,
            train_params_as=train_params_as,
            train_stats_as=train_stats_as,
            untrained_status=untrained_status,
        )
        self._strict_multipart = strict_multipart
        self._auth = TokenIssuer(
            clock=self._clock, token_ttl=token_ttl, rng=random.Random(f"{seed}:tokens")
        )
        self._faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self._app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    def _simulated_now(self) -> float:
        # Simulated time starts at the clock's time and runs `time_scale` times as fast.
        return self._origin + (self._clock() - self._origin) * self._time_scale

    # -- accounts and tokens ------------------------------------------------------------------

    def add_account(self, account_id: str, public_key_pem: str | bytes) -> None:
        """Register the RSA public key that signs `account_id`'s JWT assertions."""
        self._auth.add_account(account_id, public_key_pem)

    def issue_token(
        self, account_id: str | None = None, *, valid_for: int = _ISSUED_TOKEN_SECONDS
    ) -> str:
        """A ready access token, without the JWT round trip (`token_ttl` still caps it)."""
        token, _ = self._auth.issue(account_id or DEFAULT_ACCOUNT, valid_for=valid_for)
        return token

    def revoke_tokens(self) -> None:
        """Every token issued so far answers 401 from now on, whatever its advertised lifetime."""
        self._auth.revoke_all()

    # -- faults and the request log -----------------------------------------------------------

    def fail_next(
        self,
        target: str = "*",
        *,
        status: int | None = 503,
        times: int | None = 1,
        body: Any = None,
        retry_after: float | str | None = None,
        delay: float | None = None,
        model_id: str | None = None,
    ) -> Fault:
        """Answer the next `times` matching calls (None: all) with `status` (None: only delay).

        `target` is an operation id of the spec (`retrain`, `getTrainStatusAndProgress`,
        `getTrainedModelMetrics`, `generateTokenV2`, ...), a path glob starting with `/`, or
        `*`; `model_id` narrows it to calls about one model. `body` is JSON unless a string;
        `delay` is in clock seconds.
        """
        fault = Fault(
            target=target,
            status=status,
            times=times,
            body=body,
            retry_after=retry_after,
            delay=delay,
            model_id=model_id,
        )
        return self._faults.add(fault)

    def fault_rate(
        self,
        rate: float,
        *,
        statuses: Sequence[int] = (500, 502, 503),
        seed: int = 0,
        target: str = "*",
        model_id: str | None = None,
    ) -> None:
        """Fail a random share `rate` of matching calls, reproducibly for a given `seed`."""
        self._faults.set_rate(rate, statuses=statuses, seed=seed, target=target, model_id=model_id)

    def clear_faults(self) -> None:
        self._faults.clear()

    def calls(self, operation: str) -> list[RecordedRequest]:
        """The recorded requests of one operation id, oldest first."""
        return [r for r in self.requests if r.operation == operation]

    # -- serving ------------------------------------------------------------------------------

    @property
    def app(self) -> web.Application:
        if self._app is None:
            self._app = self._build_app()
        return self._app

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator is not started")
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0: a free port); returns the base URL, with a trailing slash."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already started")
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{url_host}:{bound_port}/"
        return self._base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._base_url = None

    def _build_app(self) -> web.Application:
        @web.middleware
        async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._observe(request, handler)

        async def token(request: web.Request) -> web.Response:
            return web.json_response(self._auth.exchange(await read_form(request)))

        async def usage(_request: web.Request) -> web.Response:
            return web.json_response(render_api_usage(self._clock()))

        app = web.Application(middlewares=[observe])
        app.add_routes(
            language_routes(self, token=token, usage=usage, strict_multipart=self._strict_multipart)
        )
        return app

    async def _observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = await record_request(request, time=self._clock())
        self.requests.append(record)
        response = await self._answer(request, handler, record)
        record.status = response.status
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, record: RecordedRequest
    ) -> web.StreamResponse:
        # Faults come before authentication, as from a gateway in front of the service.
        fault = self._faults.pick(record)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return fault_response(fault, fault.status)
        try:
            if request.path != TOKEN_PATH:
                self._auth.authenticate(request.headers.get(hdrs.AUTHORIZATION))
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.message)
        except web.HTTPException as exc:  # unknown path, wrong method: JSON like the rest
            return error_response(exc.status, exc.reason)
