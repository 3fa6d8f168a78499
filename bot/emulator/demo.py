"""`dialogbot demo`: the real bot against the emulator, with simulated citizens. No token, no
network: everything runs on this machine, on a SQLite file in the output folder."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bot.app.config import Settings
from bot.app.runtime import Application
from bot.domain.clock import system_clock
from bot.domain.impulse import ImpulseStatus
from bot.emulator.digest_demo import post_demo_digest, print_digest
from bot.emulator.server import BotApiEmulator, EmulatedUser
from bot.ops.export import snapshot
from bot.telegram.polling import poll

DEMO_MODERATOR = 90_001
DEMO_TOKEN = "1000001:offline-demo-token"  # noqa: S105 - the emulator accepts it; Telegram would not

# Rough popularity, after the interim result of the original consultation (education 38 %,
# mobility 32 %, teachers 28 %), so the demo's standings look like a real consultation's.
WEIGHTS = {"bildung": 38, "mobilitaet": 32, "lehrkraefte": 28, "gesundheit": 18, "gruen": 16}
SOURCES = ["flyer_essen", "flyer_dortmund", "qr_hbf_bochum", "instagram", None]
IDEAS = [
    ("mobilitaet", "Ein gemeinsamer Tarif für Bus und Bahn im ganzen Ruhrgebiet."),
    ("mobilitaet", "Eine Ringbahn (Circle Line) um die großen Städte des Reviers."),
    ("bildung", "Talentschulen in jedem Stadtteil mit Sozialarbeit und Ganztag."),
    ("lehrkraefte", "Lehrkräften an Schulen in schwierigen Lagen eine Zulage zahlen."),
    ("gesundheit", "Gemeindeschwestern für ältere Menschen in jedem Quartier."),
    ("gruen", "Mehr Bäume & Schatten an Haltestellen <gegen> die Sommerhitze."),
    ("mobilitaet", "Radschnellweg RS1 endlich durchgehend von Duisburg bis Hamm fertig bauen."),
    ("mobilitaet", "Nachtbusse am Wochenende zwischen allen Innenstädten im Stundentakt."),
    ("bildung", "Kostenloses Mittagessen an allen Grundschulen im Revier."),
    ("bildung", "Sprachförderung schon in der Kita, mit mehr Fachkräften pro Gruppe."),
    ("lehrkraefte", "Quereinsteiger schneller qualifizieren und gut begleiten."),
    ("gesundheit", "Mehr Hausarztpraxen in Stadtteilen, in denen heute keine sind."),
    ("gruen", "Die Emscher-Ufer als durchgehenden Park für alle öffnen."),
    ("integration", "Sportvereine fördern, die Jugendliche aller Herkunft zusammenbringen."),
    ("heimat", "Leere Ladenlokale günstig an junge Gründerinnen und Gründer vermieten."),
]


@dataclass
class Transcript:
    """What one citizen saw: their actions and the bot's new or edited messages."""

    user: EmulatedUser
    lines: list[str] = field(default_factory=list)
    _seen: dict[int, str] = field(default_factory=dict)

    def action(self, text: str) -> None:
        self.lines.append(f"\n👤 {text}")

    def capture(self) -> None:
        for message in self.user.messages:
            shown = message.text + "".join(f"\n   [{b.text}]" for b in message.buttons)
            if self._seen.get(message.message_id) != shown:
                edited = " (bearbeitet)" if message.message_id in self._seen else ""
                self.lines.append(f"🤖{edited} " + shown.replace("\n", "\n   "))
                self._seen[message.message_id] = shown
        answers = self.user.callback_answers
        if answers and answers[-1].text and f"ℹ️ {answers[-1].text}" not in self.lines[-1:]:
            self.lines.append(f"ℹ️ {answers[-1].text}")


class DemoDriver:
    def __init__(self, emulator: BotApiEmulator, app: Application) -> None:
        self.emulator = emulator
        self.app = app
        self.unused_ideas = list(IDEAS)  # each idea is written once, by one person

    async def settle(self) -> None:
        await self.emulator.wait_fetched(timeout=10)
        await self.app.pipeline.wait_idle()

    async def step(
        self, act: Callable[[], object], transcript: Transcript | None, label: str
    ) -> None:
        if transcript:
            transcript.action(label)
        act()
        await self.settle()
        if transcript:
            transcript.capture()

    async def citizen(self, index: int, rng: random.Random, transcript: Transcript | None) -> None:
        user = transcript.user if transcript else self.emulator.user(100_000 + index)
        source = rng.choice(SOURCES)
        start = f"/start {source}" if source else "/start"
        await self.step(lambda: user.send_text(start), transcript, start)
        await self.step(lambda: user.press("Mitmachen"), transcript, "tippt „Mitmachen“")
        topics = self._choose(rng)
        for topic_id in topics:
            title = self.app.settings.consultation.title_of(topic_id)
            await self.step(partial(user.press, title), transcript, f"tippt „{title}“")
        await self.step(lambda: user.press("Weiter"), transcript, "tippt „Weiter“")
        ideas = [(t, text) for t, text in self.unused_ideas if t in topics]
        if ideas and rng.random() < 0.7:
            topic_id, idea = rng.choice(ideas)
            self.unused_ideas.remove((topic_id, idea))
            await self.step(lambda: user.send_text(idea), transcript, idea)
            if len(topics) > 1:
                title = self.app.settings.consultation.title_of(topic_id)
                await self.step(lambda: user.press(title), transcript, f"tippt „{title}“")
        else:
            await self.step(lambda: user.press("Überspringen"), transcript, "tippt „Überspringen“")
        await self.step(lambda: user.press("Absenden"), transcript, "tippt „Absenden“")

    def _choose(self, rng: random.Random) -> list[str]:
        ids = list(self.app.settings.consultation.topic_ids)
        weights = [WEIGHTS.get(t, 6) for t in ids]
        chosen: list[str] = []
        while len(chosen) < rng.randint(1, self.app.settings.consultation.max_topics):
            pick = rng.choices(ids, weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        return chosen


async def run_demo(
    settings: Settings, *, output_dir: Path, citizens: int, web: str | None = None
) -> int:
    """`web`: afterwards the bot keeps running and the web chat is served there (HOST:PORT)
    until Ctrl-C, on the demo's database, next to the simulated citizens' answers."""
    database = _fresh_database(output_dir)
    async with BotApiEmulator(token=DEMO_TOKEN) as emulator:
        demo_settings = settings.with_overrides(
            token=DEMO_TOKEN,
            api_base=emulator.base_url,
            database_url=f"sqlite+aiosqlite:///{database}",
            moderators=frozenset({DEMO_MODERATOR}),
            moderators_chat=None,
        )
        emulator.user(DEMO_MODERATOR, first_name="Moderation")  # has opened the bot once
        app = Application.build(demo_settings)
        await app.start()
        stop = asyncio.Event()
        polling = asyncio.create_task(poll(app.bot, app.pipeline, stop, poll_seconds=1))
        try:
            driver = DemoDriver(emulator, app)
            await _walk(driver, citizens)
            await _moderate(driver, approvals=6)
            data = await snapshot(demo_settings, app.database, system_clock())
            digest = await post_demo_digest(
                emulator, demo_settings.channel_chat, DEMO_MODERATOR, driver.settle, output_dir
            )
            if web is not None:
                _print_standings(data)
                print_digest(digest)
                await _serve_web(app, web)
        finally:
            stop.set()
            await polling
            await app.close()
    if web is None:
        _print_standings(data)
        print_digest(digest)
    print(f"\nDatenbank der Demo: {database}")
    return 0


async def _serve_web(app: Application, listen: str) -> None:
    """The web chat on the demo's bot until Ctrl-C (SIGINT) or SIGTERM."""
    from bot.app.lifecycle import STOP_SIGNALS
    from bot.app.web_command import WebServer

    server = WebServer(app, listen)
    await server.start()
    print(
        f"\nWeb-Chat der Demo: http://{server.host}:{server.port}/ "
        f"(Ergebnisse: http://{server.host}:{server.port}/ergebnisse). Beenden mit Strg+C.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        await server.stop()


def _fresh_database(output_dir: Path) -> Path:
    """Each demo starts from an empty database."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for leftover in output_dir.glob("demo.sqlite3*"):
        leftover.unlink()
    return output_dir / "demo.sqlite3"


async def _walk(driver: DemoDriver, citizens: int) -> None:
    # A simulation, not security: a fixed seed (the original's year) gives a repeatable demo.
    rng = random.Random(2018)  # noqa: S311
    shown = Transcript(driver.emulator.user(99_000, first_name="Anna"))
    await driver.citizen(0, rng, shown)
    print("═" * 60 + "\nSo sah es für eine Bürgerin aus (Auszug):\n" + "═" * 60)
    print("\n".join(shown.lines))
    # The others in parallel batches, as a flyer campaign would bring them.
    batch: list[Awaitable[None]] = []
    for index in range(1, citizens):
        batch.append(driver.citizen(index, random.Random(rng.random()), None))  # noqa: S311
        if len(batch) == 12:
            await asyncio.gather(*batch)
            batch = []
    await asyncio.gather(*batch)


async def _moderate(driver: DemoDriver, approvals: int) -> None:
    """A moderator works through the review cards and approves the first few."""
    moderator = driver.emulator.user(DEMO_MODERATOR)
    cards = [m for m in moderator.messages if "✅ Freigeben" in m.button_texts]
    print("\n" + "═" * 60 + "\nModeration (Auszug):\n" + "═" * 60)
    for card in cards[:approvals]:
        idea = _idea_of(card.text)
        press = partial(moderator.press, "Freigeben", message_id=card.message_id)
        await driver.step(press, None, "")
        print(f"✅ freigegeben: {idea}")
    await driver.step(lambda: moderator.send_text("/stats"), None, "")
    print("\n" + moderator.last_text)


def _idea_of(card_text: str) -> str:
    """The idea on a review card: the quoted line after title, topic and source."""
    return card_text.splitlines()[3][:70]


def _print_standings(data: dict[str, object]) -> None:
    print("\n" + "═" * 60 + f"\nZwischenstand: {data['participants']} Teilnehmende\n" + "═" * 60)
    topics = data["topics"]
    assert isinstance(topics, list)
    for topic in topics:
        if topic["votes"]:
            bar = "█" * round(topic["share"] * 40)
            print(f"{topic['rank']:>2}. {topic['title']:<28} {topic['share']:>5.0%}  {bar}")
    impulses = data["impulses"]
    assert isinstance(impulses, list)
    published = sum(1 for i in impulses if i["status"] == ImpulseStatus.APPROVED)
    print(f"\nEingegangene Impulse: {len(impulses)}, davon veröffentlicht: {published}")
    print("Anteil = Teilnehmende, die das Thema gewählt haben; zusammen mehr als 100 %.")
