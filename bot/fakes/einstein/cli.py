"""`python -m bot simulator`: the simulator served standalone, plain or from a script."""

from __future__ import annotations

import asyncio

from bot.fakes.einstein.script import ModelScript, SimulatorScript, apply_script
from bot.fakes.einstein.simulator import DEFAULT_ACCOUNT, EinsteinSimulator

__all__ = ["describe_model", "run_simulator"]


async def run_simulator(
    *,
    host: str,
    port: int,
    time_scale: float,
    public_key_pem: str | None,
    account_id: str | None,
    script: SimulatorScript | None = None,
) -> None:
    """Serve a simulator until cancelled: the `script`'s models, or one trained demo model.

    With `public_key_pem`, `account_id` (or the default account) can mint tokens with its JWT;
    either way a ready access token is printed.
    """
    if script is None:
        simulator = EinsteinSimulator(time_scale=time_scale)
    else:
        simulator = EinsteinSimulator(
            time_scale=time_scale,
            queue_seconds=script.queue_seconds,
            run_seconds=script.run_seconds,
        )
    account = account_id or DEFAULT_ACCOUNT
    if public_key_pem:
        simulator.add_account(account, public_key_pem)
    if script is not None and script.models:
        model_ids = apply_script(simulator, script)
        models = [
            f"  model:        {describe_model(i, m)}"
            for i, m in zip(model_ids, script.models, strict=True)
        ]
    else:
        if script is not None:
            apply_script(simulator, script)
        model_id = simulator.add_model(name="Support routing model")
        models = [f"  demo model:   {model_id}"]
    base_url = await simulator.start(host, port)
    try:
        token = simulator.issue_token(account)
        key_note = "key registered" if public_key_pem else "no key registered: use the token"
        print(f"Einstein simulator at {base_url} (time x{time_scale:g})", flush=True)
        print(f"  account:      {account} ({key_note})", flush=True)
        print(f"  access token: {token} (valid 24 h)", flush=True)
        for line in models:
            print(line, flush=True)
        if script is not None and script.faults:
            print(f"  faults:       {len(script.faults)} scripted for any call", flush=True)
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def describe_model(model_id: str, model: ModelScript) -> str:
    """One line saying what the model's script holds in store, for the simulator's banner."""
    plans = []
    for training in model.trainings:
        plan: str = training.outcome
        if training.accuracy is not None:
            plan += f" (accuracy {training.accuracy:g})"
        if training.metrics_not_found:
            plan += f" (metrics 404 x{training.metrics_not_found})"
        plans.append(plan)
    then = "next trainings " + ", ".join(plans) + ", then successes" if plans else "succeeds"
    faults = f"; {len(model.faults)} fault(s)" if model.faults else ""
    return f"{model_id} ({then}{faults})"
