"""`dialogbot export`: the consultation's results as JSON or CSV, pseudonymous only."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from bot.app.config import Settings
from bot.app.services import Services
from bot.domain.pseudonym import keyed_hash
from bot.domain.standings import Standings
from storage.db import Database
from storage.exports import ImpulseRow, impulses, votes


async def snapshot(settings: Settings, database: Database, now: datetime) -> dict[str, Any]:
    standings = await Services.build(settings, database).participation.standings()
    return {
        "consultation": settings.consultation.title,
        "generated_at": now.isoformat(),
        "participants": standings.participants,
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


def to_csv(data: dict[str, Any], table: str) -> str:
    rows: list[dict[str, Any]] = data["topics"] if table == "topics" else data["impulses"]
    out = io.StringIO()
    fields = (
        ["rank", "id", "title", "votes", "share"]
        if table == "topics"
        else ["id", "topic", "status", "created_at", "source", "text"]
    )
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(_cells(rows))
    return out.getvalue()


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
    out = io.StringIO()
    fields = ["pseudonym", "topic", "voted_at", "counted"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_cells(data["votes"]))
    return out.getvalue()
