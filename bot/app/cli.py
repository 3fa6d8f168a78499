"""The `dialogbot` command line. Every failure ends in one line naming the reason."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bot.app import event_loop
from bot.app.config import ConfigError, Settings, check_launch_secret, load_settings
from bot.app.logs import LOG_FORMATS, RedactTokens, configure_logging
from bot.telegram.lean_aiogram import import_aiogram

Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]


class CliError(Exception):
    """A failure to report in one line."""


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from functools import partial

    from bot.app.lifecycle import run_until_signalled
    from bot.app.runtime import Application
    from bot.telegram.outcomes import TokenRevoked

    check_launch_secret(settings.secret)
    serve = None
    if args.webhook:
        # Only in webhook mode: aiohttp's server side is 1.6 MB a polling bot does not need.
        from bot.telegram.webhook import WebhookConfigError, WebhookOptions, serve_webhook

        try:
            options = WebhookOptions.parse(args.webhook, args.listen, settings.webhook_secret)
        except WebhookConfigError as exc:
            raise CliError(str(exc)) from None
    metrics_server = None
    if args.metrics:
        # Only then: prometheus-client and aiohttp's server side.
        from bot.app.observability import MetricsAddressError, MetricsServer, parse_address
        from bot.telegram.metrics import Metrics

        try:
            host, port = parse_address(args.metrics)
        except MetricsAddressError as exc:
            raise CliError(str(exc)) from None
        metrics = Metrics()
        app = Application.build(settings, metrics=metrics)
        metrics_server = MetricsServer(app, metrics, backlog_seconds=args.ready_backlog)
        # Before the database is waited for: /healthz answers while it is away.
        await metrics_server.start(host, port)
    else:
        app = Application.build(settings)
    if args.webhook:
        serve = partial(serve_webhook, app, options)
    web_server = None
    if args.web:
        from bot.app.web_command import WebAddressError, WebServer

        try:
            web_server = WebServer(app, args.web)
        except WebAddressError as exc:
            raise CliError(str(exc)) from None
        await web_server.start()
    # What exists now lives as long as the process: keep it out of every garbage collection
    # (shorter pauses under load; benchmarks/README.md).
    gc.collect()
    gc.freeze()
    try:
        await run_until_signalled(app, serve=serve)
    except TokenRevoked as exc:
        raise CliError(str(exc)) from None
    finally:
        if web_server is not None:
            await web_server.stop()
        if metrics_server is not None:
            await metrics_server.stop()
    return 0


async def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app.doctor import DoctorOptions, render_json, render_text, run_checks

    checks = await run_checks(settings, DoctorOptions(webhook=args.webhook))
    print(render_json(checks) if args.json else render_text(checks))
    return 0 if all(c.ok for c in checks) else 1


def doctor_config_failure(error: ConfigError, args: argparse.Namespace) -> int:
    """`dialogbot doctor` with a config that does not load: that is its one failed check."""
    from bot.app.doctor import config_failure, render_json, render_text

    checks = config_failure(error)
    print(render_json(checks) if args.json else render_text(checks))
    return 1


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.emulator.demo import run_demo

    return await run_demo(
        settings, output_dir=Path(args.output), citizens=args.citizens, web=args.web
    )


async def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    """`dialogbot web [--listen HOST:PORT]`, or `dialogbot web invites N`."""
    from bot.app.web_command import WebAddressError, make_invites, parse_listen, serve_web

    if args.action == "invites":
        if args.count is None or args.count < 1:
            raise CliError("dialogbot web invites N: N must be a positive number")
        for code in await make_invites(settings, args.count):
            print(code)
        return 0
    if args.action is not None:
        raise CliError(f"unknown: dialogbot web {args.action} (only: invites N)")
    from bot.app.lifecycle import STOP_SIGNALS
    from bot.app.runtime import Application

    listen = args.listen or settings.web.listen
    try:
        parse_listen(listen)
    except WebAddressError as exc:
        raise CliError(str(exc)) from None
    check_launch_secret(settings.secret)
    app = Application.build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve_web(app, listen, stop)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        await app.close()
    return 0


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.emulator.chat import run_chat

    return await run_chat(settings, user_id=args.user_id, language=args.lang)


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from bot.domain.clock import system_clock
    from bot.ops.export import snapshot, to_csv, to_json
    from storage.db import Database
    from storage.migrate import upgrade

    database = Database.for_settings(settings)
    try:
        await upgrade(database)
        data = await snapshot(settings, database, system_clock())
    finally:
        await database.dispose()
    text = to_json(data) if args.format == "json" else to_csv(data, args.table)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


async def cmd_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import digest_command as command

    try:
        if args.post:
            print(await command.post(settings))
        else:
            for path in await command.dry_run(settings, Path(args.output)):
                print(path)
    except command.DigestCommandError as exc:
        raise CliError(str(exc)) from exc
    return 0


async def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from storage.db import Database
    from storage.migrate import upgrade

    database = Database(
        settings.database_url,
        connect_timeout=settings.database.connect_timeout,
        command_timeout=None,  # a migration may take longer than any one dialog statement
    )
    try:
        await upgrade(database)
    finally:
        await database.dispose()
    print(f"database is up to date: {_safe_url(settings.database_url)}")
    return 0


async def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.backup import BackupError, backup

    try:
        size = await asyncio.to_thread(backup, settings.database_url, Path(args.path))
    except BackupError as exc:
        raise CliError(str(exc)) from exc
    print(f"backup written: {args.path} ({size} bytes, integrity ok)")
    return 0


async def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import date

    from bot.ops.retention import PurgeRefused, purge, report

    try:
        purged = await purge(settings, today=date.today(), force=args.force)
    except PurgeRefused as exc:
        raise CliError(str(exc)) from exc
    print(report(purged))
    return 0


async def cmd_inbox(settings: Settings, args: argparse.Namespace) -> int:
    from storage.db import Database
    from storage.migrate import upgrade
    from storage.set_aside import SetAside

    database = Database.for_settings(settings)
    try:
        await upgrade(database)
        store = SetAside(database)
        kinds = await store.by_kind()
        latest = await store.latest(args.latest)
    finally:
        await database.dispose()
    print(inbox_report(kinds, latest, settings.privacy.set_aside_days))
    return 0


def inbox_report(kinds: Sequence[Any], latest: Sequence[Any], days: int) -> str:
    """`dialogbot inbox`: the updates set aside as unreadable, by kind, and the latest ones."""
    total = sum(k.count for k in kinds)
    lines = [f"updates set aside as unreadable (kept {days} days): {total}"]
    stamp = "%Y-%m-%d %H:%M UTC"
    for k in kinds:
        lines.append(
            f"  {k.kind:<16} {k.count:>6}   first {k.first:{stamp}}   last {k.last:{stamp}}"
        )
    if latest:
        lines.append("latest:")
        for row in latest:
            at = row.set_aside_at
            lines.append(f"  {at:{stamp}}  update {row.update_id} ({row.kind}): {row.problems}")
    return "\n".join(lines)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialogbot", description="A Telegram participation channel for consultations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--config",
            type=Path,
            help="TOML config (default: config.toml, else config.example.toml)",
        )
        sub.add_argument(
            "--log-format",
            choices=LOG_FORMATS,
            default="text",
            help="text lines, or one JSON object per line for log shippers",
        )
        sub.set_defaults(handler=handler)
        return sub

    run = add("run", cmd_run, "Run the bot: long polling, or a webhook (needs DIALOGBOT_TOKEN).")
    run.add_argument(
        "--webhook",
        metavar="URL",
        help="receive updates at this public https URL instead of polling "
        "(needs DIALOGBOT_WEBHOOK_SECRET)",
    )
    run.add_argument(
        "--listen",
        default="0.0.0.0:8080",
        metavar="HOST:PORT",
        help="where the webhook server listens (default 0.0.0.0:8080)",
    )
    run.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve /healthz, /readyz and /metrics (Prometheus) here, e.g. 127.0.0.1:9108",
    )
    run.add_argument(
        "--ready-backlog",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="/readyz fails when an update waits longer than this (default 300)",
    )
    run.add_argument(
        "--web",
        metavar="HOST:PORT",
        help="serve the web chat here as well, e.g. 127.0.0.1:8081 (bot/web/)",
    )
    doctor = add(
        "doctor",
        cmd_doctor,
        "Check everything a launch depends on; exit status 1 if anything fails.",
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument(
        "--webhook", metavar="URL", help="check webhook mode with the URL `run --webhook` gets"
    )
    demo = add("demo", cmd_demo, "Offline demo: emulator + real bot + simulated citizens.")
    demo.add_argument("--citizens", type=int, default=36, help="how many simulated citizens")
    demo.add_argument("--output", default="demo-output", help="folder for the demo's files")
    demo.add_argument(
        "--web",
        nargs="?",
        const="127.0.0.1:8081",
        metavar="HOST:PORT",
        help="then keep the bot running and serve the web chat (default 127.0.0.1:8081)",
    )
    web_chat = add(
        "web",
        cmd_web,
        "Serve the web chat (the dialog in a browser), or print invite codes: web invites N.",
    )
    web_chat.add_argument("action", nargs="?", metavar="invites", help="print new invite codes")
    web_chat.add_argument("count", nargs="?", type=int, help="how many invite codes")
    web_chat.add_argument(
        "--listen", metavar="HOST:PORT", help="default: [web] listen, e.g. 127.0.0.1:8081"
    )
    chat = add("chat", cmd_chat, "Talk to the bot in this terminal through the emulator.")
    chat.add_argument("--user-id", type=int, default=4242, help="your emulated Telegram id")
    chat.add_argument("--lang", default="de", help="your emulated Telegram client language")
    # The conversation is the output: log lines (the first start's migrations) only with -v.
    chat.set_defaults(quiet=True)
    export = add("export", cmd_export, "Print results and impulses (no Telegram ids).")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument(
        "--table", choices=["topics", "impulses"], default="topics", help="which table as CSV"
    )
    digest = add("digest", cmd_digest, "Write the current digest to files, or post it now.")
    digest_mode = digest.add_mutually_exclusive_group(required=True)
    digest_mode.add_argument("--dry-run", action="store_true", help="write chart and text")
    digest_mode.add_argument("--post", action="store_true", help="post it to the channel now")
    digest.add_argument("--output", default="digest-preview", help="folder for --dry-run")
    backup = add("backup", cmd_backup, "Copy the SQLite database, also while the bot runs.")
    backup.add_argument("path", help="the new file to write")
    purge = add("purge", cmd_purge, "Delete the Telegram ids kept for replies ([privacy]).")
    purge.add_argument("--force", action="store_true", help="also before privacy.ends + days")
    inbox = add("inbox", cmd_inbox, "Show the updates set aside because they could not be read.")
    inbox.add_argument("--latest", type=int, default=20, help="how many of the latest to list")
    db = commands.add_parser("db", help="Database maintenance.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser("upgrade", help="Apply all migrations.")
    upgrade.add_argument("--config", type=Path, help="TOML config")
    upgrade.set_defaults(handler=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from storage.outage import DatabaseUnreachable

    quiet = getattr(args, "quiet", False)
    log_format = getattr(args, "log_format", "text")
    configure_logging(verbose=args.verbose, quiet=quiet, log_format=log_format)
    redact = RedactTokens().redact
    try:
        settings = load_settings(args.config)
        if settings.tuning.lean_aiogram:
            # Before anything imports it (the settings do not): about 100 MB less
            # (bot/telegram/lean_aiogram.py). Off: aiogram builds every model at import.
            import_aiogram()
        redact = RedactTokens(settings.secret_values()).redact
        # Mask the configured token and secrets themselves, not only what looks like a token.
        configure_logging(
            verbose=args.verbose,
            quiet=quiet,
            secrets=settings.secret_values(),
            log_format=log_format,
        )
        return int(event_loop.run(args.handler(settings, args)))
    except ConfigError as exc:
        import_aiogram()  # no settings to say otherwise: the default, lean_aiogram on
        if args.command == "doctor":
            return doctor_config_failure(ConfigError(redact(str(exc))), args)
        print(f"dialogbot: {redact(str(exc))}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"dialogbot: {redact(str(exc))}", file=sys.stderr)
        return 2
    except DatabaseUnreachable as exc:
        print(f"dialogbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        logging.getLogger("dialogbot").debug("failed", exc_info=True)
        print(f"dialogbot: {redact(str(exc.strerror or exc))}", file=sys.stderr)
        return 1
    except Exception as exc:
        # Through the masking log handler, never as a raw traceback: aiohttp's messages can
        # carry the request URL, token included.
        reason, content_free = _reason(exc)
        logging.getLogger("dialogbot").error(
            "stopped: %s", reason, exc_info=args.verbose and content_free
        )
        return 1


def _reason(exc: Exception) -> tuple[object, bool]:
    """What to log about a failure, and whether its traceback may be logged: a decoding or
    validation error's text carries what it failed to read (messages, names)."""
    from bot.telegram.lenient import carries_content, describe

    if carries_content(exc):
        return f"{type(exc).__name__}: {describe(exc)}", False
    return exc, True


if __name__ == "__main__":
    sys.exit(main())
