"""A citizen's whole dialog driven straight through the emulator, without `Harness.settle`, so
that many of them can run at the same time."""

from __future__ import annotations

from bot.emulator.server import BotApiEmulator, EmulatedUser

TOPICS = ["Mobilität & ÖPNV", "Sport & Events", "Gesundheit & Pflege", "Zukunft der Arbeit"]


async def take_part(emulator: BotApiEmulator, user: EmulatedUser, n: int) -> None:
    """Consent, one topic, idea number `n`, submit; each step waits for its answer."""
    steps = [
        (lambda: user.send_text("/start"), "Datenschutz"),
        (lambda: user.press("Mitmachen"), "Gewählt: 0 von 3"),
        (lambda: user.press(TOPICS[n % len(TOPICS)]), "Gewählt: 1 von 3"),
        (lambda: user.press("Weiter"), "Schritt 2 von 3"),
        (lambda: user.send_text(f"Idee {n}: mehr Trinkbrunnen in der Innenstadt"), "Schritt 3"),
        (lambda: user.press("Absenden"), "Danke!"),
    ]
    for action, expected in steps:
        action()
        await emulator.wait_for(lambda e=expected: e in user.last_text, timeout=60)
