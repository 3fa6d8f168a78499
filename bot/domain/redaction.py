"""Masking bot tokens and configured secrets in any text before it is logged or stored.

aiohttp puts the request URL (which contains the token) into some network errors; those texts
reach the logs (bot/app/logs.py) and the digest outbox's error column (storage/digests.py).
"""

from __future__ import annotations

import re

TOKEN_PATTERN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
MASK = "<redacted-token>"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with each of `secrets` and anything shaped like a bot token replaced by MASK."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return TOKEN_PATTERN.sub(MASK, text)
