"""Pseudonymous participant ids: a keyed hash of the Telegram user id.

Without the secret the pseudonym cannot be linked back to a Telegram account; with it, the same
person always gets the same pseudonym, so a changed vote replaces the old one.
"""

from __future__ import annotations

import hashlib
import hmac


def pseudonym_for(user_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"telegram-user:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def keyed_hash(value: str, secret: str) -> str:
    """The same keyed hash for other identifiers (e.g. conversation-state keys)."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:40]


def web_pseudonym_for(participant_id: str, secret: str) -> str:
    """The pseudonym of a web chat participant: the same keyed hash, of the random identifier in
    their cookie (bot/web/identity.py) instead of a Telegram user id."""
    digest = hmac.new(secret.encode(), f"web-participant:{participant_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
