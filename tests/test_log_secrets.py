"""The real `dialogbot run` process, with a token shaped like a real one, against a network that
fails in the ways that put the token into error messages: neither the token nor the secret
ever reaches its log output, the mask does. No code path logs the secret: that a line or a
traceback carrying it would be masked is shown on the logging set up as `dialogbot` sets it up."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import string
import sys
from pathlib import Path

import pytest

from bot.app.logs import configure_logging
from bot.domain.redaction import MASK
from bot.emulator.server import BotApiEmulator
from tests.harness import ROOT


def real_looking_token() -> str:
    """Digits, a colon, 35 characters: made up for this run, never stored anywhere."""
    alphabet = string.ascii_letters + string.digits + "_-"
    tail = "".join(secrets.choice(alphabet) for _ in range(35))
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{tail}"


class BrokenFront:
    """In front of the emulator: its first connections answer something that is not HTTP (a
    misrouted port, a captive portal); aiohttp then reports the request URL, token and all."""

    def __init__(self, upstream: str, broken: int) -> None:
        self._host, port = upstream.removeprefix("http://").split(":")
        self._port = int(port)
        self._broken = broken
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self._broken > 0:
                self._broken -= 1
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
                return
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    finally:
        sink.close()


@pytest.mark.slow
async def test_token_and_secret_never_reach_the_logs(database_url: str, tmp_path: Path) -> None:
    token, secret = real_looking_token(), secrets.token_urlsafe(32)
    async with BotApiEmulator(token=token) as emulator:
        front = BrokenFront(emulator.base_url, broken=2)
        stderr = tmp_path / "stderr.log"
        env = {
            **os.environ,
            "DIALOGBOT_TOKEN": token,
            "DIALOGBOT_SECRET": secret,
            "DIALOGBOT_API_BASE": await front.start(),
            "DIALOGBOT_DATABASE_URL": database_url,
        }
        with stderr.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "bot.app.cli", "run"),
                *("--config", str(ROOT / "config.example.toml")),
                env=env,
                cwd=ROOT,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=sink,
            )
            try:
                await talk_through_polling_failures(emulator)
                process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(process.wait(), 20) == 0
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                front.close()

    log = stderr.read_text()
    assert "polling failed" in log and "failed (" in log  # the failures were logged
    assert token not in log and token.split(":")[1] not in log
    assert secret not in log
    assert MASK in log


async def talk_through_polling_failures(emulator: BotApiEmulator) -> None:
    user = emulator.user(7501)
    user.send_text("/start")
    await emulator.wait_for(lambda: "Datenschutz" in user.last_text, timeout=30)
    emulator.inject_disconnect("getUpdates")
    emulator.inject_fault("getUpdates", status=502)
    user.press("Mitmachen")  # ends the long poll under way; the next two polls fail
    await emulator.wait_for(lambda: "Gewählt: 0 von 3" in user.last_text, timeout=30)
    failed = lambda: [c for c in emulator.calls_to("getUpdates") if c.status != 200]  # noqa: E731
    await emulator.wait_for(lambda: len(failed()) == 2, timeout=30)
    user.press("Mobilität & ÖPNV")  # only a poll that resumed by itself gets this
    await emulator.wait_for(lambda: "Gewählt: 1 von 3" in user.last_text, timeout=30)


def test_a_line_or_traceback_carrying_the_token_or_secret_is_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token, secret = real_looking_token(), secrets.token_urlsafe(24)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(secrets=(token, secret))  # as bot/app/cli.py's main does
        log = logging.getLogger("dialogbot.test")
        log.warning("request to https://api.telegram.org/bot%s/getMe failed", token)
        log.warning("pseudonyms keyed with %s", secret)
        try:
            raise ConnectionError(f"Cannot connect to host for /bot{token}/getUpdates {secret}")
        except ConnectionError:
            log.exception("polling failed")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    output = capsys.readouterr().err
    assert "getMe failed" in output and "polling failed" in output and "ConnectionError" in output
    assert token not in output and token.split(":")[1] not in output and secret not in output
    assert output.count(MASK) == 4, output
