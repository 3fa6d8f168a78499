"""compose.yaml and the Dockerfile, without Docker (these machines have no daemon): the
commands compose.yaml names (migrate, doctor, run) are run the way compose would run them,
with the service's environment interpolated from a .env, the service host names resolved to
the test servers, the mounted config.toml in the working directory, against the emulator."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientError, ClientSession
from sqlalchemy.engine import make_url

from bot.emulator.server import BotApiEmulator
from tests import postgres
from tests.harness import ROOT, TOKEN
from tests.postgres import PostgresServer

pytestmark = pytest.mark.slow

MODERATOR = 7_200_001
DOTENV = {
    "DIALOGBOT_TOKEN": TOKEN,
    "DIALOGBOT_SECRET": "compose-test-secret-with-256-bits-0123456789ab",
    "DIALOGBOT_MODERATORS": str(MODERATOR),
    "POSTGRES_PASSWORD": "compose-test-password",
}


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def interpolate(value: str, dotenv: Mapping[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: dotenv[m.group(1)], value)


@pytest.fixture
async def test_database(postgres_server: PostgresServer | str) -> AsyncIterator[str]:
    if not isinstance(postgres_server, PostgresServer):
        postgres.unavailable(postgres_server)
    assert isinstance(postgres_server, PostgresServer)
    name = await postgres_server.create()
    try:
        yield postgres.sqlalchemy_url(name)
    finally:
        await postgres_server.drop(name)


def resolve(env: dict[str, str], database_url: str, redis_url: str) -> dict[str, str]:
    """The service host names as compose's network resolves them, here: the postgres service
    (its user, password and database from its own environment) is the test server's database,
    the redis service the test Redis."""
    services = compose()["services"]
    declared = services["postgres"]["environment"].items()
    pg_env = {k: interpolate(str(v), DOTENV) for k, v in declared}
    url = make_url(env["DIALOGBOT_DATABASE_URL"])
    assert (url.host, url.username, url.password, url.database) == (
        "postgres",
        pg_env["POSTGRES_USER"],
        pg_env["POSTGRES_PASSWORD"],
        pg_env["POSTGRES_DB"],
    )
    assert env["DIALOGBOT_REDIS_URL"].startswith("redis://redis:6379/")
    return {**env, "DIALOGBOT_DATABASE_URL": database_url, "DIALOGBOT_REDIS_URL": redis_url}


def service(name: str) -> tuple[list[str], dict[str, str], str]:
    """The command, the interpolated environment and the working directory of a service."""
    spec = compose()["services"][name]
    env = {k: interpolate(str(v), DOTENV) for k, v in spec["environment"].items()}
    mounts = [v.split(":") for v in spec["volumes"]]
    assert ["./config.toml", f"{spec['working_dir']}/config.toml", "ro"] in mounts
    return [str(part) for part in spec["command"]], env, spec["working_dir"]


async def dialogbot(
    command: list[str], env: Mapping[str, str], cwd: Path, **kwargs: Any
) -> asyncio.subprocess.Process:
    """The image's ENTRYPOINT ["dialogbot"] with the service's command."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    entrypoint = [line for line in lines if "ENTRYPOINT" in line]
    assert entrypoint == ['ENTRYPOINT ["dialogbot"]']
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.app.cli", *command, env={**os.environ, **env}, cwd=cwd, **kwargs
    )


def test_the_dockerfile_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert re.search(r"^USER dialogbot$", text, re.M)
    health = text[text.index("HEALTHCHECK") :].split("\n\n")[0]
    assert "http://127.0.0.1:9108/healthz" in health
    bot = compose()["services"]["bot"]
    assert "0.0.0.0:9108" in bot["command"] and "127.0.0.1:9108:9108" in bot["ports"]


async def test_migrate_doctor_and_run_as_compose_runs_them(
    emulator: BotApiEmulator, tmp_path: Path, test_database: str, redis_url: str
) -> None:
    emulator.add_channel("@ruhr_dialog")
    user = emulator.user(MODERATOR)
    workdir = tmp_path / "var-lib-dialogbot"
    workdir.mkdir()
    (workdir / "config.toml").write_text((ROOT / "config.example.toml").read_text())
    # The bot would talk to Telegram; here to the emulator (as an override file would say).
    api = {"DIALOGBOT_API_BASE": emulator.base_url}

    command, env, _ = service("migrate")
    process = await dialogbot(command, {**resolve(env, test_database, redis_url), **api}, workdir)
    assert await process.wait() == 0

    command, env, _ = service("doctor")
    doctor = await dialogbot(
        [*command, "--json"],
        {**resolve(env, test_database, redis_url), **api},
        workdir,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await doctor.communicate()
    report = json.loads(out)
    assert doctor.returncode == 0, [c for c in report["checks"] if not c["ok"]]

    command, env, _ = service("bot")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Each container has a network of its own; here the metrics port must be a free one.
    command = [part.replace("0.0.0.0:9108", f"127.0.0.1:{port}") for part in command]
    log = (tmp_path / "bot.log").open("wb")
    bot = await dialogbot(
        command, {**resolve(env, test_database, redis_url), **api}, workdir, stderr=log
    )
    try:
        await wait_ready(port)
        user.send_text("/start")
        await emulator.wait_for(lambda: "Datenschutz" in user.last_text, timeout=30)
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), 60) == 0
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
        log.close()


async def wait_ready(port: int) -> None:
    async with ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
                    if answer.status == 200:
                        return
            except ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("never ready")


def test_systemd_does_not_restart_what_only_an_operator_can_cure(tmp_path: Path) -> None:
    """A wrong configuration ends `dialogbot run` with status 2, which the unit does not
    restart; other failures (status 1) it restarts."""
    import subprocess

    bad = tmp_path / "config.toml"
    bad.write_text('[digest]\nschedule = "not cron"\n')
    env = {**os.environ, **DOTENV, "DIALOGBOT_API_BASE": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.app.cli", "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2 and "digest.schedule" in done.stderr, done.stderr
    unit = (ROOT / "deploy" / "dialogbot.service").read_text().splitlines()
    assert "Restart=on-failure" in unit and "RestartPreventExitStatus=2" in unit


def test_the_image_build_leaves_out_secrets_and_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "config.toml", "*.sqlite3", "tests"} <= ignored
    text = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in text and "requirements.lock" in text  # the locked versions
