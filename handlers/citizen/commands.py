"""The citizens' commands, with one name per language: a menu and /hilfe in the reader's
language, and every name answered in any language (a German link works for everyone).

Telegram commands are Latin letters, digits and underscores only (sonuç → sonuclar). Leichte
Sprache uses the German names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiogram.utils.i18n import gettext as _

from bot.telegram.language import PLAIN_GERMAN


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: each is one command
class CitizenCommand:
    german: str
    # The name in other languages; a language not listed uses the German name.
    names: dict[str, str] = field(default_factory=dict)
    # Further names that work too but are not shown (e.g. an older spelling).
    extra: tuple[str, ...] = ()

    def name_for(self, locale: str) -> str:
        return self.names.get("de" if locale == PLAIN_GERMAN else locale, self.german)

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every name the command answers to, in any language."""
        return tuple(dict.fromkeys((self.german, *self.names.values(), *self.extra)))


START = CitizenCommand("start")
MY_VOTE = CitizenCommand("meinvotum", {"en": "myvote", "tr": "oyum"})
BROWSE = CitizenCommand("stoebern", {"en": "ideas", "tr": "fikirler"})
RESULTS = CitizenCommand("ergebnis", {"en": "results", "tr": "sonuclar"}, extra=("ergebnisse",))
HELP = CitizenCommand("hilfe", {"en": "help", "tr": "yardim"})
LANGUAGE = CitizenCommand("sprache", {"en": "language", "tr": "dil"})
MY_DATA = CitizenCommand("meinedaten", {"en": "mydata", "tr": "verilerim"})
ERASE = CitizenCommand("loeschen", {"en": "delete", "tr": "sil"})

CITIZEN_COMMANDS = (START, MY_VOTE, BROWSE, RESULTS, HELP, LANGUAGE, MY_DATA, ERASE)


def described() -> list[tuple[CitizenCommand, str]]:
    """Each command with what it does, in the current language (menu and /hilfe)."""
    return [
        (START, _("Mitmachen oder Ihre Wahl ansehen")),
        (MY_VOTE, _("Ihre Wahl ansehen und ändern")),
        (BROWSE, _("Ideen anderer bewerten")),
        (RESULTS, _("Die Ergebnisse ansehen")),
        (HELP, _("Hilfe und Datenschutz")),
        (LANGUAGE, _("Sprache wählen · Language · Dil")),
        (MY_DATA, _("Ihre gespeicherten Daten als Datei")),
        (ERASE, _("Ihre Daten löschen")),
    ]
