"""Every inline keyboard of the citizen dialog, /stoebern and the outcome message. The topic
keyboard fits a phone screen: at most TOPIC_ROWS rows."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain.ratings import ReportReason
from bot.domain.settings import Consultation
from bot.domain.similarity import SimilarImpulse
from bot.telegram.language import language_name
from handlers.citizen.callbacks import (
    FOLLOWUP_PREFIX,
    BrowseCallback,
    FollowUpCallback,
    HintCallback,
    ImpulseTopicCallback,
    LanguageCallback,
    OpinionCode,
    PauseCallback,
    RateCallback,
    ReportAskCallback,
    ReportCallback,
    Step,
    StepCallback,
    TopicCallback,
    UndoCallback,
)
from handlers.citizen.texts.dialog import topic_title
from handlers.citizen.texts.ratings import reason_label

# ✅ means one thing only: chosen (a topic; the current language). A topic not chosen has no
# mark at all: a screen reader then reads its title alone, not an emoji name before each one.
CHECKED = "✅"
# The topic keyboard, "Weiter" included, stays within this many rows: on a phone the counter
# above it and "Weiter" below it are on screen together.
TOPIC_ROWS = 11


def consent() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Mitmachen"), callback_data=StepCallback(step=Step.CONSENT))
    builder.button(text=_("Datenschutz lesen"), callback_data=StepCallback(step=Step.PRIVACY))
    builder.button(text=_("Nein, danke"), callback_data=StepCallback(step=Step.DECLINE))
    builder.adjust(1, 2)
    return builder.as_markup()


def privacy(consultation: Consultation) -> InlineKeyboardMarkup:
    """Under the full privacy notice: consent, the policy on the web, back to the welcome."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Mitmachen"), callback_data=StepCallback(step=Step.CONSENT))
    builder.button(text=_("📄 Datenschutzerklärung"), url=consultation.privacy_url)
    builder.button(text=_("Zurück"), callback_data=StepCallback(step=Step.WELCOME))
    builder.adjust(1, 2)
    return builder.as_markup()


def topics(consultation: Consultation, selected: Sequence[str]) -> InlineKeyboardMarkup:
    """Built row by row: it is sent on every tap, and InlineKeyboardBuilder copies the whole
    keyboard for each button added (several milliseconds for twenty; benchmarks/README.md).
    The layout follows the titles alone, not the marks: no button moves when one is tapped."""
    titles = [topic_title(consultation, topic.id) for topic in consultation.topics]
    rows = [
        [
            InlineKeyboardButton(
                text=f"{CHECKED} {titles[i]}" if topic.id in selected else titles[i],
                callback_data=TopicCallback(topic=topic.id, choose=topic.id not in selected).pack(),
            )
            for i, topic in ((i, consultation.topics[i]) for i in row)
        ]
        for row in topic_rows([len(title) for title in titles], TOPIC_ROWS - 1)
    ]
    done = StepCallback(step=Step.TOPICS_DONE).pack()
    label = _("Weiter · {chosen} von {limit} gewählt").format(
        chosen=len(selected), limit=consultation.max_topics
    )
    rows.append([InlineKeyboardButton(text=label, callback_data=done)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def topic_rows(widths: Sequence[int], max_rows: int) -> list[list[int]]:
    """The topics (by index, in their order) in at most `max_rows` rows, as few to a row as that
    allows: one column when they fit, else two (more only past twice the rows). Of two columns,
    the longest titles keep a row to themselves: of all ways to pair neighbours into the rows
    allowed, the one whose paired titles are shortest in sum."""
    count = len(widths)
    if count <= max_rows:
        return [[i] for i in range(count)]
    if count > 2 * max_rows:  # more than two columns can show: plain rows of equal width
        per_row = -(-count // max_rows)
        return [list(range(i, min(i + per_row, count))) for i in range(0, count, per_row)]
    pairs = count - max_rows
    # best[i][p]: the least paired width among the first i topics with p pairs, and the layout.
    inf = float("inf")
    best: list[list[float]] = [[inf] * (pairs + 1) for _ in range(count + 1)]
    best[0][0] = 0
    for i in range(1, count + 1):
        for p in range(pairs + 1):
            alone = best[i - 1][p]
            paired = best[i - 2][p - 1] + widths[i - 2] + widths[i - 1] if i >= 2 and p else inf
            best[i][p] = min(alone, paired)
    rows: list[list[int]] = []
    i, p = count, pairs
    while i > 0:
        if p and i >= 2 and best[i][p] == best[i - 2][p - 1] + widths[i - 2] + widths[i - 1]:
            rows.append([i - 2, i - 1])
            i, p = i - 2, p - 1
        else:
            rows.append([i - 1])
            i -= 1
    return rows[::-1]


def skip_impulse() -> InlineKeyboardMarkup:
    return _single(_("Überspringen ➡️"), Step.SKIP_IMPULSE)


def keep_or_remove_impulse() -> InlineKeyboardMarkup:
    """Instead of "skip" when the draft already has an idea: nothing is dropped unasked."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Idee behalten"), callback_data=StepCallback(step=Step.KEEP_IMPULSE))
    builder.button(text=_("Idee entfernen"), callback_data=StepCallback(step=Step.REMOVE_IMPULSE))
    builder.adjust(2)
    return builder.as_markup()


def impulse_topics(
    consultation: Consultation, selected: Sequence[str], *, every_topic: bool = False
) -> InlineKeyboardMarkup:
    """The chosen topics and "another topic"; after that tap, every topic."""
    builder = InlineKeyboardBuilder()
    shown = consultation.topic_ids if every_topic else selected
    for topic_id in shown:
        builder.button(
            text=topic_title(consultation, topic_id),
            callback_data=ImpulseTopicCallback(topic=topic_id),
        )
    if not every_topic:
        builder.button(text=_("Anderes Thema …"), callback_data=StepCallback(step=Step.OTHER_TOPIC))
    builder.adjust(1)
    return builder.as_markup()


def review() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Absenden"), callback_data=StepCallback(step=Step.SUBMIT))
    builder.button(text=_("Themen ändern"), callback_data=StepCallback(step=Step.EDIT_TOPICS))
    builder.button(text=_("Idee ändern"), callback_data=StepCallback(step=Step.EDIT_IMPULSE))
    builder.adjust(1, 2)
    return builder.as_markup()


def change_vote() -> InlineKeyboardMarkup:
    return _single(_("✏️ Wahl ändern"), Step.CHANGE_VOTE)


def confirm_erase() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Ja, alles löschen"), callback_data=StepCallback(step=Step.ERASE))
    builder.button(text=_("Abbrechen"), callback_data=StepCallback(step=Step.KEEP_DATA))
    builder.adjust(2)
    return builder.as_markup()


def languages(locales: Sequence[str], current: str) -> InlineKeyboardMarkup:
    """Each language in its own words; the current one is ticked."""
    builder = InlineKeyboardBuilder()
    for locale in locales:
        mark = f"{CHECKED} " if locale == current else ""
        builder.button(
            text=mark + language_name(locale), callback_data=LanguageCallback(locale=locale)
        )
    builder.adjust(2)
    return builder.as_markup()


def offer_new_idea() -> InlineKeyboardMarkup:
    """Under a text written after taking part (handlers/citizen/after_submit.py)."""
    return _single(_("💡 Als neue Idee schicken"), Step.NEW_IDEA)


def _single(text: str, step: Step) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=text, callback_data=StepCallback(step=step))
    return builder.as_markup()


# -- /stoebern and the similar-impulse hint --


def card_keyboard(impulse_id: int, *, undo: int | None = None) -> InlineKeyboardMarkup:
    """The rating buttons; "Rückgängig" takes back the rating of `undo` (the card before)."""
    builder = InlineKeyboardBuilder()
    for code, text in (
        (OpinionCode.AGREE, _("👍 Stimme zu")),
        (OpinionCode.DISAGREE, _("👎 Stimme nicht zu")),
        (OpinionCode.NEUTRAL, _("🤷 Weiß nicht")),
    ):
        builder.button(text=text, callback_data=RateCallback(impulse=impulse_id, opinion=code))
    builder.button(text=_("⚠️ Melden"), callback_data=ReportAskCallback(impulse=impulse_id))
    if undo is not None:
        builder.button(text=_("↩️ Rückgängig"), callback_data=UndoCallback(impulse=undo))
    builder.button(text=_("⏸ Pause"), callback_data=PauseCallback())
    builder.adjust(2, 2, 2)
    return builder.as_markup()


def report_keyboard(impulse_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for reason in ReportReason:
        builder.button(
            text=reason_label(reason),
            callback_data=ReportCallback(impulse=impulse_id, reason=reason),
        )
    builder.button(
        text=_("↩️ Zurück"), callback_data=ReportAskCallback(impulse=impulse_id, back=True)
    )
    builder.adjust(1)
    return builder.as_markup()


def browse_offer() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🔎 Ideen anderer bewerten"), callback_data=BrowseCallback())
    return builder.as_markup()


def without_browse(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """A keyboard without its "Ideen anderer bewerten" button (None when nothing is left)."""
    browse = BrowseCallback().pack()
    rows = [
        [b for b in row if b.callback_data != browse]
        for row in (markup.inline_keyboard if markup else [])
    ]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def hint_keyboard(similar: Sequence[SimilarImpulse]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for impulse in similar:
        builder.button(
            text=_("👍 #{id} unterstützen").format(id=impulse.impulse_id),
            callback_data=HintCallback(impulse=impulse.impulse_id),
        )
    builder.button(text=_("Meine Idee trotzdem senden"), callback_data=HintCallback(impulse=0))
    builder.adjust(1)
    return builder.as_markup()


# -- the outcome message --


def followup_button(subscribed: bool) -> InlineKeyboardButton:
    if subscribed:
        text, want = _("🔕 Doch keine Ergebnis-Nachricht"), False
    else:
        text, want = _("🔔 Ergebnis später zuschicken"), True
    return InlineKeyboardButton(text=text, callback_data=FollowUpCallback(want=want).pack())


def followup_keyboard(subscribed: bool) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[followup_button(subscribed)]])


def with_followup_button(
    markup: InlineKeyboardMarkup | None, subscribed: bool
) -> InlineKeyboardMarkup:
    """The message's keyboard with the offer's button in its new state; other buttons stay."""
    rows = [list(row) for row in (markup.inline_keyboard if markup else [])]
    for row in rows:
        for index, old in enumerate(row):
            if (old.callback_data or "").startswith(f"{FOLLOWUP_PREFIX}:"):
                row[index] = followup_button(subscribed)
                return InlineKeyboardMarkup(inline_keyboard=rows)
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [followup_button(subscribed)]])
