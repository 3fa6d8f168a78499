"""Who a web request comes from, without an account.

* A participant is a random identifier in a cookie (HttpOnly, Secure, SameSite=Lax: Strict would
  drop it for everyone arriving from a link in the channel or on a city's website). The database
  sees only its keyed hash (bot.domain.pseudonym.web_pseudonym_for), as with Telegram ids.
* Every form carries a CSRF token: a keyed hash of that identifier, so a page of another site,
  which cannot read the cookie, cannot forge it.
* The client address counts for rate limits as a keyed hash only, and `X-Forwarded-For` is
  believed only from the configured reverse proxies.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.domain.pseudonym import keyed_hash, web_pseudonym_for

COOKIE = "dialogbot_id"
# A year: the consultation outlives a session; erasure drops it at once.
COOKIE_MAX_AGE = 365 * 24 * 3600
_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
# Invite codes: no 0/O, 1/I/L, so a code read off paper is typed right.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_participant_id() -> str:
    return secrets.token_urlsafe(32)


def valid_participant_id(value: str | None) -> bool:
    return value is not None and bool(_ID.match(value))


@dataclass(frozen=True)
class Visitor:
    """One browser: its cookie identifier, its pseudonym, and the keyed hash of its address."""

    participant_id: str
    pseudonym: str
    address_hash: str
    new: bool  # the cookie is set by this response

    def csrf_token(self, secret: str) -> str:
        return keyed_hash(f"web-csrf:{self.participant_id}", secret)

    def csrf_ok(self, token: str | None, secret: str) -> bool:
        return (
            not self.new
            and token is not None
            and hmac.compare_digest(token.encode(), self.csrf_token(secret).encode())
        )


def visitor(
    cookies: Mapping[str, str],
    peer: str | None,
    forwarded_for: str | None,
    *,
    secret: str,
    trusted_proxies: Iterable[str],
) -> Visitor:
    cookie = cookies.get(COOKIE)
    new = not valid_participant_id(cookie)
    participant_id = new_participant_id() if new or cookie is None else cookie
    address = client_address(peer, forwarded_for, trusted_proxies)
    return Visitor(
        participant_id=participant_id,
        pseudonym=web_pseudonym_for(participant_id, secret),
        address_hash=keyed_hash(f"web-client:{address}", secret),
        new=new,
    )


def client_address(peer: str | None, forwarded_for: str | None, trusted: Iterable[str]) -> str:
    """The connection's address; behind a trusted proxy, the nearest address in
    X-Forwarded-For that is not itself a trusted proxy (what a client writes there is ignored)."""
    networks = [ipaddress.ip_network(t, strict=False) for t in trusted]
    address = peer or "unknown"
    if not forwarded_for or not _within(address, networks):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _within(hop, networks):
            return hop if _is_address(hop) else address
    return address


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def limiter_key(hashed: str) -> int:
    """A keyed hash as the integer key the rate limiters take (bot.telegram.throttling)."""
    return int(hashed[:15], 16)


def new_invite_code() -> str:
    """Eight characters in two groups, e.g. "K7QF-2MZX" (40 bits)."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def invite_hash(code: str, secret: str) -> str:
    """What is stored of a code: its keyed hash, of the code as typed without spaces or dashes,
    in capitals."""
    normal = re.sub(r"[\s-]", "", code).upper()
    return keyed_hash(f"web-invite:{normal}", secret)
