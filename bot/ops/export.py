"""`dialogbot export`: the consultation's results as JSON or CSV, pseudonymous only."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.pseudonym import keyed_hash
from bot.domain.settings import Settings
from bot.domain.standings import Standings, rank_standings
from storage.db import Database
from storage.exports import ImpulseRow, impulses, participants_by_channel, votes
from storage.repository import SqlParticipationRepository


async def snapshot(settings: Settings, database: Database, now: datetime) -> dict[str, Any]:
    participants, counts = await SqlParticipationRepository(database).vote_counts()
    standings = rank_standings(settings.consultation.topic_ids, counts, participants)
    return {
        "consultation": settings.consultation.title,
        "generated_at": now.isoformat(),
        "participants": standings.participants,
        # The same people counted once per channel they voted in (Telegram, the web chat).
        "participants_by_channel": await participants_by_channel(database),
        "topics": _topics(settings, standings),
        "impulses": [_impulse(row) for row in await impulses(database)],
    }


def _topics(settings: Settings, standings: Standings) -> list[dict[str, Any]]:
    consultation = settings.consultation
    return [
        {
            "id": s.topic_id,
            "title": consultation.title_of(s.topic_id),
            "votes": s.votes,
            "share": round(s.share, 6),
            "rank": s.rank,
        }
        for s in standings.topics
    ]


def _impulse(row: ImpulseRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "topic": row.topic_id,
        "text": row.text,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "source": row.source,
        "channel": row.channel,
    }


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`, `@SUM(...)`); full-width forms count in some.
_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: a leading apostrophe before anything that
    would start a formula (also after leading spaces). Numbers stay numbers."""
    if isinstance(value, str) and value and value.lstrip(" ")[:1] in _FORMULA_START:
        return "'" + value
    return value


def _cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: cell(value) for key, value in row.items()} for row in rows]


def moderator_alias(moderator_id: int, secret: str) -> str:
    """How an export names a moderator: stable across exports, but no Telegram id."""
    return "mod-" + keyed_hash(f"moderator:{moderator_id}", secret)[:8]


# German Excel opens a CSV file right with a double click when it starts with a UTF-8 byte
# order mark (else umlauts break), separates by semicolons and writes decimals with a comma.
BOM = "\ufeff"
DELIMITER = ";"


def _decimal(value: Any) -> Any:
    return str(value).replace(".", ",") if isinstance(value, float) else value


def _excel_csv(rows: list[dict[str, Any]], fields: list[str]) -> str:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.DictWriter(
        out, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n", delimiter=DELIMITER
    )
    writer.writeheader()
    writer.writerows({key: _decimal(value) for key, value in row.items()} for row in _cells(rows))
    return out.getvalue()


def read_csv(text: str) -> list[dict[str, str]]:
    """The rows of a CSV file written here (for checks and scripts)."""
    return list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=DELIMITER))


def to_csv(data: dict[str, Any], table: str) -> str:
    rows: list[dict[str, Any]] = data["topics"] if table == "topics" else data["impulses"]
    fields = (
        ["rank", "id", "title", "votes", "share"]
        if table == "topics"
        else ["id", "topic", "status", "created_at", "source", "channel", "text"]
    )
    return _excel_csv(rows, fields)


async def full_export(
    settings: Settings, database: Database, now: datetime, audit: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything moderators may take away: results, votes, impulses, the audit log.
    Pseudonyms only; no Telegram ids."""
    data = await snapshot(settings, database, now)
    data["votes"] = [
        {
            "pseudonym": v.pseudonym,
            "topic": v.topic_id,
            "voted_at": v.voted_at.isoformat() if v.voted_at else None,
            "counted": v.counted,
            "channel": v.channel,
        }
        for v in await votes(database)
    ]
    data["audit"] = [
        {
            **{key: value for key, value in entry.items() if key != "moderator_id"},
            "moderator": moderator_alias(entry["moderator_id"], settings.secret),
        }
        for entry in audit
    ]
    return data


def votes_csv(data: dict[str, Any]) -> str:
    return _excel_csv(data["votes"], ["pseudonym", "topic", "voted_at", "counted", "channel"])


def export_stamp(now: datetime, timezone: str) -> str:
    """The moment in file names: the consultation's local time, 2026-12-03_11-36."""
    return now.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d_%H-%M")


def export_zip(data: dict[str, Any], stamp: str) -> tuple[str, bytes]:
    """Everything in one file for one message: the JSON and the three CSV tables."""
    files = {
        f"dialogbot-{stamp}.json": to_json(data),
        f"stimmen-{stamp}.csv": votes_csv(data),
        f"impulse-{stamp}.csv": to_csv(data, "impulses"),
        f"themen-{stamp}.csv": to_csv(data, "topics"),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content.encode())
    return f"dialogbot-export-{stamp}.zip", out.getvalue()
