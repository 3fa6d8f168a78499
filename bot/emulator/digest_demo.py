"""The end of `dialogbot demo`: the moderator previews the digest with /digest and posts it to
the emulated channel with the button, the way moderators do it in Telegram."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.emulator.server import BotApiEmulator

CHART_FILE = "digest-chart.png"


@dataclass(frozen=True)
class DemoDigest:
    channel: str
    text: str  # as readers see it (after Telegram's HTML parsing)
    chart: Path | None


async def post_demo_digest(
    emulator: BotApiEmulator,
    channel: str | None,
    moderator_id: int,
    settle: Callable[[], Awaitable[None]],
    output_dir: Path,
) -> DemoDigest | None:
    if not channel:
        return None
    emulator.add_channel(channel)
    moderator = emulator.user(moderator_id)
    moderator.send_text("/digest")
    await settle()
    moderator.press("Jetzt im Kanal veröffentlichen")
    await settle()
    posts = emulator.chat_messages(channel)
    chart = None
    photo = next((p.photo for p in posts if p.photo is not None), None)
    if photo is not None:
        chart = output_dir / CHART_FILE
        chart.write_bytes(photo)
    return DemoDigest(channel, "\n\n".join(p.text for p in posts), chart)


def print_digest(digest: DemoDigest | None) -> None:
    if digest is None:
        print("\nKein Kanal eingerichtet ([channel] chat): kein Digest.")
        return
    print("\n" + "═" * 60 + f"\nDigest im Kanal {digest.channel}:\n" + "═" * 60)
    print(digest.text)
    if digest.chart is not None:
        print(f"\n📊 Diagramm des Digests: {digest.chart}")
