"""What the bot keeps about a person, where it shows up, and what erasure reaches."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from storage.db import Database
from tests.harness import Harness

# Distinctive values, so that finding any of them in a log line is no coincidence.
TELEGRAM_ID = 777000123
FIRST_NAME, USERNAME = "Annegret", "annegret_ruhr"
IDEA = "Zauberwort-Nachtbus zwischen Bochum und Essen an jedem Wochenende."


def fail_next(database: Database, statement: str) -> list[str]:
    """The next statement starting with `statement` fails with the driver's own error class,
    as a full disk or a broken connection would."""
    failures: list[str] = []
    dbapi: Any = database.write_engine.dialect.dbapi

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().startswith(statement) and not failures:
            failures.append(statement)
            raise dbapi.OperationalError("disk I/O error")

    event.listen(database.write_engine.sync_engine, "before_cursor_execute", before)
    return failures


def logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(lines)


async def test_a_database_error_logs_no_telegram_id_name_or_message(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    assert harness.bot.app is not None
    database = harness.bot.app.database
    person = harness.citizen(TELEGRAM_ID, first_name=FIRST_NAME, username=USERNAME)
    with caplog.at_level(logging.DEBUG):
        await person.send("/start")
        await person.press("Mitmachen")
        await person.press("Mobilität & ÖPNV")
        await person.press("Weiter")
        await person.send(IDEA)
        failures = fail_next(database, "INSERT INTO impulses")
        await person.press("Absenden")
        assert failures == ["INSERT INTO impulses"]
        assert "schiefgegangen" in person.last_text or "Fehler" in person.last_text
        # The inbox write carries the whole update: name, username, text.
        failures = fail_next(database, "INSERT INTO inbox_payloads")
        update = (
            f'{{"update_id": 99, "message": {{"from": {{"id": {TELEGRAM_ID}, "first_name": '
            f'"{FIRST_NAME}", "username": "{USERNAME}"}}, "text": "{IDEA}"}}}}'
        )
        with pytest.raises(DBAPIError) as raised:
            await harness.bot.app.pipeline._inbox.record([(99, update)], {99: TELEGRAM_ID})
        assert failures == ["INSERT INTO inbox_payloads"]
        logging.getLogger("bot.polling").error("inbox write failed: %s", raised.value)
    text = logged(caplog)
    assert "disk I/O error" in text  # the error itself is there ...
    for personal in (str(TELEGRAM_ID), FIRST_NAME, USERNAME, "Zauberwort"):
        assert personal not in text  # ... but nothing of the person
