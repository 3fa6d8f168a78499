"""What the bot keeps about a person, where it shows up, and what erasure reaches."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError

from bot.domain.pseudonym import pseudonym_for
from bot.emulator.server import BotApiEmulator
from storage.db import Database
from storage.fsm import SqlStorage
from storage.models import Base, Participant
from tests.harness import Harness, RunningBot, make_settings
from tests.test_moderation import exported_files

MODERATOR = 900_777


def card_for(moderator: Any, impulse_id: int) -> Any:
    """The moderator's copy of the card of this impulse, as it reads now."""
    return next(
        m for m in reversed(moderator.user.messages) if f"Impuls #{impulse_id}</b>" in m.raw_text
    )


# Distinctive values, so that finding any of them in a log line is no coincidence.
TELEGRAM_ID = 777000123
FIRST_NAME, USERNAME = "Annegret", "annegret_ruhr"
IDEA = "Zauberwort-Nachtbus zwischen Bochum und Essen an jedem Wochenende."


def fail_next(database: Database, statement: str) -> list[str]:
    """The next statement holding `statement` fails with the driver's own error class,
    as a full disk or a broken connection would."""
    failures: list[str] = []
    dbapi: Any = database.write_engine.dialect.dbapi

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if statement in sql and not failures:  # PostgreSQL: the inbox write is one statement
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
        logging.getLogger("bot.telegram.polling").error("inbox write failed: %s", raised.value)
    text = logged(caplog)
    assert "disk I/O error" in text  # the error itself is there ...
    for personal in (str(TELEGRAM_ID), FIRST_NAME, USERNAME, "Zauberwort"):
        assert personal not in text  # ... but nothing of the person


PERSON = 777000555
SOURCE = "flyer_annegret"
PUBLISHED = "Mehr Trinkbrunnen in allen Innenstädten des Ruhrgebiets aufstellen."
REJECTED = "Mein Nachbar Herr Kuckelkorn parkt immer auf dem Radweg in Wattenscheid."
ANSWER = "Danke, Frau Annegret Kuckelkorn, wir geben das an das Forum weiter."


async def all_rows(harness: Harness) -> dict[str, list[dict[str, Any]]]:
    assert harness.bot.app is not None
    tables: dict[str, list[dict[str, Any]]] = {}
    async with harness.bot.app.database.reading() as session:
        for table in Base.metadata.sorted_tables:
            result = await session.execute(select(table))
            tables[table.name] = [dict(row._mapping) for row in result]
    return tables


async def test_erasure_reaches_every_table_every_card_and_the_export(
    emulator: BotApiEmulator, database_url: str
) -> None:
    emulator.user(MODERATOR, first_name="Moderation")
    settings = make_settings(emulator.base_url, database_url, moderators=frozenset({MODERATOR}))
    harness = Harness(emulator, RunningBot(settings))
    await harness.bot.start()
    try:
        assert harness.bot.app is not None
        moderator = harness.citizen(MODERATOR)
        person = harness.citizen(PERSON, first_name=FIRST_NAME, username=USERNAME)
        await person.take_part(["Grüne Infrastruktur"], impulse=PUBLISHED, source=SOURCE)
        card = moderator.user.last_message
        await moderator.press("Freigeben", message_id=card.message_id)
        await moderator.press("Antworten", message_id=card.message_id)
        await moderator.press("An das Themenforum weitergeleitet")
        await moderator.send(ANSWER)
        await moderator.press("Senden")
        await person.send("/meinvotum")
        await person.press("Wahl ändern")
        await person.press("Weiter")
        await person.send(REJECTED)
        await person.press("Absenden")
        rejected_card = moderator.user.last_message
        assert "Kuckelkorn" in rejected_card.text
        await moderator.press("Ablehnen", message_id=rejected_card.message_id)
        await moderator.press("enthält persönliche Daten", message_id=rejected_card.message_id)
        await moderator.press("Ja, ablehnen", message_id=rejected_card.message_id)
        # Someone else's published idea the person rates.
        other = harness.citizen(PERSON + 1)
        await other.take_part(["Sport & Events"], impulse="Bolzplätze abends länger beleuchten.")
        await moderator.press("Freigeben", message_id=moderator.user.last_message.message_id)
        await person.send("/stoebern")
        assert "Idee #3" in person.last_text
        await person.press("Stimme zu")

        await person.send("/meinedaten")
        mine = json.loads(person.user.last_message.document or b"{}")
        by_text = {i["Text"]: i for i in mine["Ihre Ideen"]}
        assert by_text[PUBLISHED]["Antwort der Moderation"] == ANSWER
        assert by_text[PUBLISHED]["Stand der Antwort"] == "An das Themenforum weitergeleitet"
        assert by_text[PUBLISHED]["Entschieden am"] and by_text[PUBLISHED]["Beantwortet am"]
        assert by_text[REJECTED]["Grund"] == "enthält persönliche Daten"
        assert by_text[REJECTED]["Entschieden am"]
        assert pseudonym_for(PERSON, settings.secret) not in json.dumps(mine)

        database = harness.bot.app.database
        async with database.reading() as session:
            participant_id = await session.scalar(
                select(Participant.id).where(
                    Participant.pseudonym == pseudonym_for(PERSON, settings.secret)
                )
            )
        storage = harness.bot.app.dispatcher.fsm.storage
        assert isinstance(storage, SqlStorage)
        conversation_keys = {
            storage._key(StorageKey(4242, PERSON, PERSON, destiny=destiny))
            for destiny in ("default", "locale")
        }
        await person.send("/meinvotum")
        await person.press("Wahl ändern")  # mid-dialog: a conversation state is stored
        before = await all_rows(harness)
        assert conversation_keys & {row["key"] for row in before["conversation_states"]}
        assert any(row["participant_id"] == participant_id for row in before["ratings"])
        assert any(ANSWER in (row["detail"] or "") for row in before["audit_log"])
        await person.send("/loeschen")
        await person.press("Ja, alles löschen")
        assert "gelöscht" in person.last_text

        forbidden = [
            str(PERSON),
            pseudonym_for(PERSON, settings.secret),
            FIRST_NAME,
            USERNAME,
            SOURCE,
            "Kuckelkorn",  # in the rejected idea and in the answer
            *conversation_keys,
        ]
        for table, rows in (await all_rows(harness)).items():
            for row in rows:
                text = json.dumps(row, default=str)
                for value in forbidden:
                    assert value not in text, (table, row)
                for column, value in row.items():
                    if column == "participant_id":
                        assert value != participant_id, (table, row)
        # The published idea stays, without anyone behind it.
        impulses = (await all_rows(harness))["impulses"]
        kept = next(i for i in impulses if i["text"] == PUBLISHED)
        assert kept["participant_id"] is None and kept["source"] is None
        assert kept["answer_text"] is None and kept["answer_status"] == "forwarded"
        # Every copy of the cards in the moderators' chat.
        assert "Kuckelkorn" not in card_for(moderator, 2).text
        assert "gelöscht" in card_for(moderator, 2).text
        published_card = card_for(moderator, 1).text
        assert SOURCE not in published_card and "Kuckelkorn" not in published_card
        assert PUBLISHED in published_card
        # And what a moderator can export.
        await moderator.send("/export")
        exported = b"".join(exported_files(moderator).values())
        assert b"Kuckelkorn" not in exported and SOURCE.encode() not in exported
    finally:
        await harness.bot.stop()


async def test_the_card_copies_change_before_the_erasure_so_a_failure_in_between_is_retried(
    emulator: BotApiEmulator, database_url: str
) -> None:
    emulator.user(MODERATOR, first_name="Moderation")
    settings = make_settings(emulator.base_url, database_url, moderators=frozenset({MODERATOR}))
    harness = Harness(emulator, RunningBot(settings))
    await harness.bot.start()
    try:
        assert harness.bot.app is not None
        moderator = harness.citizen(MODERATOR)
        person = harness.citizen(PERSON)
        await person.take_part(["Grüne Infrastruktur"], impulse=REJECTED)  # pending
        assert "Kuckelkorn" in card_for(moderator, 1).text
        failures = fail_next(harness.bot.app.database, "DELETE FROM participants")
        await person.send("/loeschen")
        await person.press("Ja, alles löschen")
        assert failures and "gelöscht" not in person.last_text  # the erasure failed ...
        assert "Kuckelkorn" not in card_for(moderator, 1).text  # ... the card changed first
        assert len((await all_rows(harness))["impulses"]) == 1  # still there: nothing is lost
        await person.send("/loeschen")
        await person.press("Ja, alles löschen")  # the person tries again
        assert "gelöscht" in person.last_text
        assert (await all_rows(harness))["impulses"] == []
    finally:
        await harness.bot.stop()


async def test_a_changed_privacy_notice_is_put_to_everyone_again(harness: Harness) -> None:
    person = harness.citizen(PERSON)
    await person.take_part(["Grüne Infrastruktur"])
    version = harness.settings.privacy.notice_version

    async def agreed_to() -> list[str | None]:
        return [row["notice_version"] for row in (await all_rows(harness))["participants"]]

    assert await agreed_to() == [version]
    await person.send("/meinvotum")
    assert person.last_text.startswith("Ihre Wahl\n")  # the same notice: nothing to ask
    harness.bot.settings = harness.settings.with_overrides(
        privacy=replace(harness.settings.privacy, notice_version="2027-01-15")
    )
    await harness.bot.restart()
    for command in ("/meinvotum", "/stoebern", "/start"):
        await person.send(command)
        assert "haben sich geändert" in person.user.messages[-2].text, command
        assert "Mitmachen" in " ".join(person.buttons())
    assert await agreed_to() == [version]  # not yet agreed
    await person.press("Mitmachen")
    assert await agreed_to() == ["2027-01-15"]
    await person.send("/meinvotum")
    assert person.last_text.startswith("Ihre Wahl\n")  # on as before
    await person.send("/meinedaten")
    mine = json.loads(person.user.last_message.document or b"{}")["Ihre Teilnahme"]
    assert mine["Version der Datenschutzhinweise"] == "2027-01-15"
