"""The command line: configuration errors are one readable line, without secrets."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.eventloop import loop_factory, run
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), **env},
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_SIGNING_SECRET": "s3cr3t-value"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-s3cr3t-value", "SLACK_SIGNING_SECRET": "x"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-s3cr3t-value"}, "SLACK_SIGNING_SECRET"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-s3cr3t-value", "SLACK_SIGNING_SECRET": "s3cr3t-value"},
            "EINSTEIN_ACCOUNT_ID",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-s3cr3t-value",
                "SLACK_SIGNING_SECRET": "x",
                "EINSTEIN_ACCOUNT_ID": "a",
                "EINSTEIN_PRIVATE_KEY": "s3cr3t-value",
            },
            "EINSTEIN_PRIVATE_KEY",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-s3cr3t-value",
                "SLACK_SIGNING_SECRET": "x",
                "EINSTEIN_ACCESS_TOKEN": "s3cr3t-value",
                "RETRAIN_POLL_INTERVAL": "soon",
            },
            "RETRAIN_POLL_INTERVAL",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-s3cr3t-value",
                "SLACK_SIGNING_SECRET": "x",
                "EINSTEIN_ACCESS_TOKEN": "s3cr3t-value",
                "PORT": "99999",
            },
            "PORT",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-s3cr3t-value",
                "SLACK_SIGNING_SECRET": "x",
                "EINSTEIN_ACCESS_TOKEN": "s3cr3t-value",
                "RETRAIN_CHANNEL": "#general",
            },
            "RETRAIN_CHANNEL",
        ),
        (
            {"SLACK_CLIENT_ID": "123.456", "SLACK_SIGNING_SECRET": "x"},
            "SLACK_CLIENT_SECRET and SLACK_STATE_SECRET",
        ),
        (
            {
                "SLACK_CLIENT_ID": "123.456",
                "SLACK_CLIENT_SECRET": "s3cr3t-value",
                "SLACK_STATE_SECRET": "s3cr3t-value-long-enough",
                "SLACK_BOT_TOKEN": "xoxb-s3cr3t-value",
                "SLACK_SIGNING_SECRET": "x",
            },
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set",
        ),
        (
            {
                "SLACK_CLIENT_ID": "123.456",
                "SLACK_CLIENT_SECRET": "s3cr3t-value",
                "SLACK_STATE_SECRET": "s3cr3t",
                "SLACK_SIGNING_SECRET": "x",
            },
            "SLACK_STATE_SECRET must be at least 16 characters",
        ),
    ],
)
def test_bad_configuration_is_one_line(env: dict[str, str], names: str, tmp_path: Path) -> None:
    """Start-up stops with exit 2 and one line naming the variable, never its value."""
    result = _run({**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}, "serve")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "s3cr3t" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_heroku_addon_names_are_read() -> None:
    """The Einstein add-on's EINSTEIN_VISION_* variables configure the client too."""
    os.environ.update(
        {
            "EINSTEIN_VISION_URL": "https://vision.example/",
            "EINSTEIN_VISION_ACCOUNT_ID": "acct@example.com",
        }
    )
    try:
        settings = load_settings(_env_file=None)
    finally:
        del os.environ["EINSTEIN_VISION_URL"], os.environ["EINSTEIN_VISION_ACCOUNT_ID"]
    assert settings.einstein_api_url == "https://vision.example/"
    assert settings.einstein_account_id == "acct@example.com"


def test_private_key_with_escaped_newlines() -> None:
    """A PEM stored with literal \\n (as some config UIs do) is read back as a PEM."""
    settings = load_settings(
        einstein_private_key="-----BEGIN KEY-----\\nabc\\n-----END KEY-----", _env_file=None
    )
    assert settings.private_key_pem() == "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"


def test_invalid_url_names_variable() -> None:
    """A malformed URL is refused naming the variable."""
    with pytest.raises(ConfigError, match="SLACK_API_URL"):
        load_settings(slack_api_url="slack.com/api", _env_file=None)


def test_nothing_configured_runs_the_offline_demo(tmp_path: Path) -> None:
    """`python -m bot` with no Slack or Einstein account runs the demo to its end (exit 0)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "offline demo" in result.stderr
    assert "the training succeeded" in result.stdout
    assert (tmp_path / "demo-output").is_dir(), "the pictures are saved where it ran"


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_commands_run_on_uvloop() -> None:
    assert run(_loop_module()).startswith("uvloop")


def test_without_uvloop_commands_run_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` fails, as on Windows
    assert loop_factory() is None
    assert run(_loop_module()).startswith("asyncio")
