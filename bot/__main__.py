"""Command line: serve (the default), `demo` (offline demo), `simulator` (Einstein simulator),
`audit` (export the audit trail), `doctor` (check the configuration and every connection)
and `migrate` (upgrade the database schema).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.errors import BotError, ConfigError
from bot.eventloop import run
from bot.logs import configure_logging
from bot.settings import Settings, load_settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Retrain Bot: retrain Einstein Language models from Slack.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve Slack (the default): HTTP on $PORT, or Socket Mode")
    demo = sub.add_parser("demo", help="the whole flow offline, on the embedded simulator")
    demo.add_argument(
        "text",
        nargs="?",
        default=None,
        help='command text, e.g. "7JXCXTRXTMNLJCEF2DR5CJ46QU split=0.7 feedback=true"',
    )
    demo.add_argument(
        "--outcome",
        choices=["SUCCEEDED", "FAILED"],
        default="SUCCEEDED",
        help="how the simulated training ends",
    )
    audit = sub.add_parser("audit", help="export the audit trail (from DATABASE_URL)")
    audit.add_argument(
        "--since",
        type=_since,
        default=None,
        help="only events at or after this date (YYYY-MM-DD) or time (ISO 8601)",
    )
    audit.add_argument("--model", default=None, help="only events about this model ID")
    audit.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    sub.add_parser(
        "doctor",
        help="check the settings, Slack, Einstein, the database and the policy file; "
        "exit 0 when all pass",
    )
    sub.add_parser(
        "migrate", help="upgrade the database schema (DATABASE_URL) to the latest revision"
    )
    sim = sub.add_parser("simulator", help="serve the Einstein simulator standalone")
    sim.add_argument("--port", type=int, default=8788)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (e.g. 30 for fast trainings)",
    )
    sim.add_argument(
        "--public-key",
        default=None,
        help="PEM file of the account's public key, to accept its JWTs",
    )
    sim.add_argument("--account-id", default=None, help="account ID the public key belongs to")
    sim.add_argument(
        "--script",
        default=None,
        metavar="FILE",
        help="YAML file scripting each model's trainings and failing calls (see the README)",
    )
    return parser


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _export_audit(*, since: datetime | None, model: str | None, fmt: str) -> int:
    from bot.store.audit import AuditLog, export_events
    from bot.store.jobs import SqlJobStore

    store = SqlJobStore(load_settings().database_url)
    await store.open()
    try:
        events = await AuditLog(store).events(since=since, model_id=model)
    finally:
        await store.close()
    for line in export_events(events, fmt=fmt):
        sys.stdout.write(line)
    return 0


def _doctor() -> int:
    from bot.doctor import all_passed, render, run_doctor

    # The report is the output; the clients' own log lines would only repeat its failures.
    logging.getLogger("bot").setLevel(logging.CRITICAL)
    checks = run(run_doctor())
    for check in checks:
        print(render(check), flush=True)
    return 0 if all_passed(checks) else 1


async def _migrate() -> int:
    from bot.store.migrate import upgrade_schema

    before, after = await upgrade_schema(load_settings().database_url)
    if before == after:
        print(f"database schema already at revision {after}, the latest; nothing to upgrade")
    else:
        print(f"database schema upgraded from revision {before or '(none)'} to {after}")
    return 0


def _database_password(url: str) -> str | None:
    try:
        return urlsplit(url.strip()).password
    except ValueError:
        return None


def _configure_logging(settings: Settings | None = None) -> None:
    secrets: list[str | None] = []
    if settings is not None:
        secrets = [
            s.get_secret_value() if s else None
            for s in (
                settings.slack_bot_token,
                settings.slack_signing_secret,
                settings.slack_app_token,
                settings.slack_client_secret,
                settings.slack_state_secret,
                settings.einstein_access_token,
                settings.einstein_private_key,
            )
        ]
        secrets.append(_database_password(settings.database_url))
    configure_logging(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        fmt=settings.log_format if settings else os.environ.get("LOG_FORMAT", "text"),
        secrets=secrets,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging()
    try:
        if args.command == "demo":
            from bot.demo import run_demo

            return int(run(run_demo(text=args.text, outcome=args.outcome)))
        if args.command == "doctor":
            return _doctor()
        if args.command == "audit":
            return run(_export_audit(since=args.since, model=args.model, fmt=args.format))
        if args.command == "migrate":
            return run(_migrate())
        if args.command == "simulator":
            from bot.fakes.einstein.cli import run_simulator
            from bot.fakes.einstein.script import load_script

            script = load_script(args.script) if args.script else None
            public_key = None
            if args.public_key:
                with open(args.public_key, encoding="utf-8") as handle:
                    public_key = handle.read()
            run(
                run_simulator(
                    host=args.host,
                    port=args.port,
                    time_scale=args.time_scale,
                    public_key_pem=public_key,
                    account_id=args.account_id,
                    script=script,
                )
            )
            return 0
        settings = load_settings()
        _configure_logging(settings)
        if args.command is None and not settings.has_accounts:
            # Nothing configured at all: show what the bot does instead of an error.
            print(
                "retrain-bot: no Slack or Einstein account is configured, so this is the "
                "offline demo (`python -m bot serve` insists on serving).",
                file=sys.stderr,
            )
            from bot.demo import run_demo

            return int(run(run_demo()))
        settings.require_serving()
        from bot.server import serve  # after the checks: a config error answers at once

        run(serve(settings))
        return 0
    except ConfigError as exc:
        print(f"retrain-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"retrain-bot: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"retrain-bot: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a last guard: people see one line, the log keeps the details
        logging.getLogger("bot").debug("unexpected error", exc_info=True)
        print(f"retrain-bot: unexpected error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
