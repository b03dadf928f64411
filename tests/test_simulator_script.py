"""`python -m bot simulator --script FILE`: the YAML format, its one-line errors, and a scripted
simulator served by the command line and driven by the real client."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import stamina

from bot.core.options import RetrainOptions
from bot.einstein.auth import StaticTokenSource
from bot.einstein.client import EinsteinClient
from bot.errors import ConfigError, EinsteinNotFound
from bot.fakes.einstein.script import apply_script, load_script
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import die_with_parent

ROOT = Path(__file__).resolve().parents[1]
MODEL = "AAAAAAAAAAAAAAAAAAAAAAAAAA"
SCRIPT = f"""\
queue_seconds: 1
run_seconds: 2
models:
  - id: {MODEL}
    labels: [billing, shipping]
    trainings:
      - outcome: FAILED
        failure_msg: scripted failure
      - accuracy: 0.5
        metrics_not_found: 1
    faults:
      - call: status
        status: 503
        times: 2
faults:
  - call: retrain
    status: 429
    retry_after: 0
"""


@pytest.fixture(autouse=True)
def _no_backoff_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "script.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_is_valid() -> None:
    """docs/simulator-script.yml, the README's example, loads and applies."""
    script = load_script(ROOT / "docs" / "simulator-script.yml")
    model_ids = apply_script(EinsteinSimulator(), script)
    assert len(model_ids) == len(script.models) == 2


def test_the_readme_example_is_valid(tmp_path: Path) -> None:
    """The script shown in the README loads."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```yaml\n(queue_seconds:.*?)```", readme, re.DOTALL)
    script = load_script(_write(tmp_path, block))
    assert [len(m.trainings) for m in script.models] == [3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:\n  - trainings:\n      - outcome: FAIL\n",
            r"line 3: models\[0\]\.trainings\[0\]\.outcome: Input should be 'SUCCEEDED'.*"
            r"\(got 'FAIL'\)",
        ),
        (
            "models:\n  - faults:\n      - call: status\n        statuss: 503\n",
            r"line 4: models\[0\]\.faults\[0\]\.statuss: unknown field; expected one of call, "
            r"status,",
        ),
        (
            "models:\n  - trainings:\n      - outcome: KILLED\n        failure_msg: x\n",
            r"line 3: models\[0\]\.trainings\[0\]: failure_msg goes with outcome FAILED only",
        ),
        ("faults:\n  - call: predict\n    status: 503\n", r"line 2: faults\[0\]: call must be"),
        ("models:\n  - id: nope\n", r"line 2: models\[0\]: id must be 26 characters"),
        ("run_seconds: -1\n", r"line 1: run_seconds: Input should be greater than or equal"),
        ("models: [\n", r"line 2: not valid YAML"),
        ("- 1\n", r"line 1: a simulator script is a mapping"),
    ],
)
def test_a_bad_script_is_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    """A bad file names the file, the line, the field and what is expected, on one line."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_script(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line ")
    assert "\n" not in message
    assert re.search(expected, message), message


def test_an_untrained_model_takes_its_first_script(tmp_path: Path) -> None:
    """`trained: false` starts the model's first training now, as its first script says."""
    now = [1_700_000_000.0]
    sim = EinsteinSimulator(clock=lambda: now[0], queue_seconds=10, run_seconds=10)
    text = f"models:\n  - id: {MODEL}\n    trained: false\n    trainings:\n      - stall: true\n"
    apply_script(sim, load_script(_write(tmp_path, text)))
    assert sim.training(MODEL)["status"] == "QUEUED"
    now[0] += 3600
    assert sim.training(MODEL)["status"] == "RUNNING", "stalled, as scripted"


def test_the_cli_refuses_a_bad_script(tmp_path: Path) -> None:
    """The command line stops with exit 2 and one line, no traceback, before serving."""
    path = _write(tmp_path, "models:\n  - examples: many\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "simulator", "--port", "0", "--script", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "line 2: models[0].examples" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """The simulator served by `python -m bot simulator --script`: its URL and token."""
    path = _write(tmp_path, SCRIPT)
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "bot", "simulator", "--port", "0"],
        *["--time-scale", "100", "--script", str(path)],
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    assert process.stdout is not None
    banner = ""
    try:
        async with asyncio.timeout(30):
            while "model:" not in banner:
                line = await process.stdout.readline()
                assert line, f"the simulator stopped: {banner}"
                banner += line.decode()
        url = re.search(r"http://127\.0\.0\.1:\d+/", banner)
        token = re.search(r"access token: (\S+)", banner)
        assert url, banner
        assert token, banner
        assert MODEL in banner
        yield url.group(0), token.group(1)
    finally:
        process.terminate()
        await process.wait()


async def _finished(client: EinsteinClient) -> str:
    async with asyncio.timeout(20):
        while True:
            training = await client.training_status(MODEL)
            if training.is_terminal:
                return training.status if not training.failure_msg else training.failure_msg
            await asyncio.sleep(0.02)


async def test_the_cli_serves_the_scripted_outcomes(served: tuple[str, str]) -> None:
    """Scripted faults are ridden out, the first retrain fails with its message, the second
    succeeds with the scripted accuracy after one metrics 404."""
    url, token = served
    async with aiohttp.ClientSession() as session:
        client = EinsteinClient(base_url=url, tokens=StaticTokenSource(token), session=session)
        options = RetrainOptions()
        await client.retrain(MODEL, options)  # through one 429
        assert await _finished(client) == "scripted failure"  # through two 503s
        await client.retrain(MODEL, options)
        assert await _finished(client) == "SUCCEEDED"
        with pytest.raises(EinsteinNotFound):
            await client.metrics(MODEL)
        metrics = await client.metrics(MODEL)
    accuracy = metrics.metrics_data.test_accuracy
    assert accuracy is not None
    assert abs(accuracy - 0.5) < 0.15
