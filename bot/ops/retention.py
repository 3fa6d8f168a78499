"""`dialogbot purge`: drop the raw Telegram ids once `[privacy]` says they are no longer needed."""

from __future__ import annotations

from datetime import date, timedelta

from bot.domain.settings import PrivacyPolicy, Settings
from storage.db import Database
from storage.migrate import upgrade
from storage.retention import Purged, purge_telegram_ids


class PurgeRefused(Exception):
    """Too early (or no end date configured) and not forced; the message says why."""


def check_due(policy: PrivacyPolicy, today: date) -> None:
    due = policy.purge_from
    if due is None:
        raise PurgeRefused(
            "privacy.ends is not set, so the reply addresses may still be needed; "
            "set it, or use --force to purge now"
        )
    if today < due:
        raise PurgeRefused(
            f"reply addresses are kept until {due - timedelta(days=1)} (privacy.ends "
            f"{policy.ends} + {policy.retention_days} days); use --force to purge now"
        )


async def purge(settings: Settings, *, today: date, force: bool) -> Purged:
    if not force:
        check_due(settings.privacy, today)
    database = Database.for_settings(settings)
    try:
        await upgrade(database)
        return await purge_telegram_ids(database)
    finally:
        await database.dispose()


def report(purged: Purged) -> str:
    return (
        f"purged {purged.reply_addresses} reply addresses and "
        f"{purged.inbox_updates} handled updates; answers stay under their pseudonyms"
    )
