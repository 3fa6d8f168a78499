"""The web chat: the citizen dialog in a browser, for people without Telegram.

Server-rendered HTML in which every button is a form submit, so the whole dialog works with
JavaScript switched off; `static/chat.js` (same origin, no third-party request anywhere) turns
the submits into requests that update the page in place, like a chat. The rules are the
domain's (bot.domain.participation: selection limit, idea checks, links policy, duplicates,
phase), the storage is the bot's: a web participant is a participant with channel "web".

One person's place in the dialog (step, chosen topics, the idea so far, the last messages) is
kept in the database with the Telegram dialog's state (storage.web.WebDrafts), read when a
request comes and written when it changed: a restart, or the next request landing on another
instance, continues the dialog where it was.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from aiogram.utils.i18n import I18n
from aiohttp import web

from bot.digest.compose import render_png
from bot.domain.clock import Clock, system_clock
from bot.domain.dialog import Action, Step, allows, step_named
from bot.domain.digest_figures import ChartSpec
from bot.domain.participation import (
    Citizen,
    ConsultationClosed,
    Erasure,
    ImpulseDraft,
    InvalidSubmission,
    ParticipationService,
    Submission,
)
from bot.domain.ratings import Opinion, RatingService
from bot.domain.settings import Settings
from bot.domain.similarity import SimilarImpulse, SimilarImpulses
from bot.telegram.i18n import format_moment, format_number, rendering_in
from bot.telegram.language import language_name, ordered_locales
from bot.telegram.throttling import Verdict, build_rate_limiter
from bot.web import identity, texts
from bot.web.identity import COOKIE, COOKIE_MAX_AGE, Visitor
from bot.web.texts import views
from storage.db import Database
from storage.exports import participants_by_channel
from storage.settings import BlockList
from storage.web import WebDrafts, WebInvites, published_impulses

STATIC = Path(__file__).parent / "static"
CHANNEL = "web"
# Shared addresses (a household, a school, mobile carriers' NAT) carry many people: the
# per-address bucket is this many times a person's.
ADDRESS_FACTOR = 10
# The web chat's buckets, apart from the Telegram ones (their keys are not Telegram ids).
PEOPLE_NAMESPACE = "dialogbot:web:"
ADDRESS_NAMESPACE = "dialogbot:web-address:"
TRANSCRIPT = 8  # earlier messages shown above the current step
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

ImpulseHook = Callable[[int], Awaitable[None]]
ErasureHook = Callable[[Erasure], Awaitable[None]]


async def _nothing(_: Any) -> None:
    return None


@dataclass
class Draft:
    """One browser's place in the dialog."""

    locale: str
    step: Step = Step.WELCOME
    selected: list[str] = field(default_factory=list)
    impulse: str | None = None
    impulse_topic: str | None = None
    every_topic: bool = False
    draft_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    earlier: list[str] = field(default_factory=list)
    # The published ideas shown as similar to the draft's idea (step SIMILAR): (id, topic, text).
    similar: list[tuple[int, str, str]] = field(default_factory=list)
    note: str | None = None  # a line above the current step (a refusal, a confirmation)
    # Earlier messages, oldest first: ("you" | "bot", HTML).
    transcript: list[tuple[str, str]] = field(default_factory=list)
    # The step and stored() as read from the database: written again only when changed.
    as_read: tuple[str, dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def said(self, who: str, html: str) -> None:
        self.transcript.append((who, html))
        del self.transcript[:-TRANSCRIPT]

    def restart(self) -> None:
        self.selected, self.impulse, self.impulse_topic = [], None, None
        self.every_topic, self.earlier, self.similar = False, [], []
        self.draft_key = uuid.uuid4().hex

    def stored(self) -> dict[str, Any]:
        """What is kept in the database besides the step (storage.web.WebDrafts)."""
        return {
            "locale": self.locale,
            "selected": list(self.selected),
            "impulse": self.impulse,
            "impulse_topic": self.impulse_topic,
            "every_topic": self.every_topic,
            "draft_key": self.draft_key,
            "earlier": list(self.earlier),
            "similar": [list(entry) for entry in self.similar],
            "note": self.note,
            "transcript": [list(entry) for entry in self.transcript],
        }

    @classmethod
    def restored(cls, step: str, data: dict[str, Any], locale: str) -> Draft:
        """A draft as stored; fields it lacks (written by an older version) as new, a step no
        longer known as the welcome (the stored names are the values of `Step`)."""
        draft = cls(locale=str(data.get("locale") or locale), step=step_named(step) or Step.WELCOME)
        draft.selected = [str(t) for t in data.get("selected", [])]
        draft.impulse = data.get("impulse")
        draft.impulse_topic = data.get("impulse_topic")
        draft.every_topic = bool(data.get("every_topic", False))
        draft.draft_key = str(data.get("draft_key") or draft.draft_key)
        draft.earlier = [str(t) for t in data.get("earlier", [])]
        draft.similar = [(int(i), str(t), str(x)) for i, t, x in data.get("similar", [])]
        draft.note = data.get("note")
        draft.transcript = [(str(w), str(h)) for w, h in data.get("transcript", [])]
        return draft


@dataclass
class WebChat:
    settings: Settings
    database: Database
    participation: ParticipationService
    i18n: I18n
    clock: Clock = system_clock
    on_impulse: ImpulseHook = _nothing
    on_erasure: ErasureHook = _nothing
    # The bot's own (bot.app.services), so a block by a moderator counts here at once.
    blocklist: BlockList | None = None
    # The similar-idea hint before the review (docs/ratings.md); without them, no hint.
    ratings: RatingService | None = None
    similar_impulses: SimilarImpulses | None = None
    _chart: tuple[float, str, bytes] | None = None

    def __post_init__(self) -> None:
        # The bot's limiters: in Redis with [scaling] redis_url, so every instance of the web
        # chat (and a restarted one) counts against the same buckets; else in this process.
        self.people = build_rate_limiter(self.settings, namespace=PEOPLE_NAMESPACE)
        self.addresses = build_rate_limiter(
            self.settings, namespace=ADDRESS_NAMESPACE, scale=ADDRESS_FACTOR
        )
        self.invites = WebInvites(self.database)
        self.drafts = WebDrafts(self.database)
        if self.blocklist is None:
            self.blocklist = BlockList(self.database)
        self.locales = ordered_locales(self.i18n.available_locales)

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._headers], client_max_size=64 * 1024)
        app.router.add_get("/", self.page)
        app.router.add_post("/", self.act)
        app.router.add_get("/meinvotum", self.my_vote)
        app.router.add_get("/loeschen", self.ask_erase)
        app.router.add_get("/daten", self.my_data)
        app.router.add_get("/ergebnisse", self.results)
        app.router.add_get("/ergebnisse/chart.png", self.chart)
        app.router.add_get("/static/{name}", self.static)
        app.on_cleanup.append(self._close)
        return app

    async def _close(self, _: web.Application) -> None:
        await self.people.close()
        await self.addresses.close()

    @web.middleware
    async def _headers(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _secure(exc)
            raise
        return _secure(response)

    # Who is asking

    def _visitor(self, request: web.Request) -> Visitor:
        return identity.visitor(
            request.cookies,
            request.remote,
            request.headers.get("X-Forwarded-For"),
            secret=self.settings.secret,
            trusted_proxies=self.settings.web.trusted_proxies,
        )

    async def _draft(self, request: web.Request, who: Visitor) -> Draft:
        """The browser's place in the dialog, as stored (see the module); `_keep` writes it."""
        locale = self._client_locale(request)
        if who.new:
            return Draft(locale=locale)
        step, data = await self.drafts.load(who.pseudonym)
        draft = Draft(locale=locale) if step is None else Draft.restored(step, data, locale)
        draft.as_read = (draft.step, draft.stored())
        return draft

    async def _keep(self, who: Visitor, draft: Draft) -> None:
        """Write the draft if this request changed it. A browser without a cookie yet has no
        place to keep: its next request, with the cookie, starts anew."""
        if who.new:
            return
        now = (draft.step, draft.stored())
        if now != draft.as_read:
            await self.drafts.save(who.pseudonym, *now)
            draft.as_read = now

    def _client_locale(self, request: web.Request) -> str:
        for part in request.headers.get("Accept-Language", "").split(","):
            code = part.split(";")[0].strip().replace("-", "_")
            for candidate in (code, code.split("_")[0].lower()):
                if candidate in self.locales:
                    return candidate
        return self.settings.default_locale

    def _citizen(self, who: Visitor, draft: Draft) -> Citizen:
        return Citizen(pseudonym=who.pseudonym, chat_id=0, locale=draft.locale, channel=CHANNEL)

    def _cookie(self, response: web.StreamResponse, who: Visitor) -> None:
        if who.new:
            response.set_cookie(
                COOKIE,
                who.participant_id,
                max_age=COOKIE_MAX_AGE,
                path="/",
                httponly=True,
                secure=True,
                samesite="Lax",
            )

    # Pages

    async def page(self, request: web.Request) -> web.Response:
        who = self._visitor(request)
        draft = await self._draft(request, who)
        with rendering_in(self.i18n, draft.locale):
            await self._settle_step(who, draft)
            body = await self._dialog(who, draft)
            response = self._html(draft.locale, body, who)
        draft.note = None
        await self._keep(who, draft)
        self._cookie(response, who)
        return response

    async def _settle_step(self, who: Visitor, draft: Draft) -> None:
        """A browser that comes back: the step that fits what is stored about it."""
        if draft.step not in (Step.WELCOME, Step.PRIVACY):
            if draft.step not in (Step.DECLINED, Step.ERASED) and not await self._registered(who):
                draft.step = Step.WELCOME
            return
        if not await self._registered(who):
            return
        if await self.participation.must_agree_again(who.pseudonym):
            draft.note = views.notice_changed()
            return
        vote = await self.participation.vote_set(who.pseudonym)
        if vote is not None and vote.topics:
            draft.step = Step.MY_VOTE
        else:
            draft.step = Step.TOPICS

    async def _registered(self, who: Visitor) -> bool:
        return await self.participation.is_registered(who.pseudonym)

    async def my_vote(self, request: web.Request) -> web.StreamResponse:
        who = self._visitor(request)
        draft = await self._draft(request, who)
        draft.step = Step.MY_VOTE
        await self._keep(who, draft)
        raise web.HTTPSeeOther("/#now")

    async def ask_erase(self, request: web.Request) -> web.StreamResponse:
        who = self._visitor(request)
        draft = await self._draft(request, who)
        draft.step = Step.ERASE
        await self._keep(who, draft)
        raise web.HTTPSeeOther("/#now")

    async def my_data(self, request: web.Request) -> web.StreamResponse:
        """The person's data as a JSON file (GDPR Art. 15), as /meinedaten sends it."""
        who = self._visitor(request)
        data = None if who.new else await self.participation.personal_data(who.pseudonym)
        if data is not None:
            step, stored = await self.drafts.load(who.pseudonym)
            if step is not None:  # the place in a dialog, as kept (storage.web.WebDrafts)
                data["web_dialog"] = {"step": step, **stored}
        if data is None:
            draft = await self._draft(request, who)
            with rendering_in(self.i18n, draft.locale):
                draft.note = views.nothing_stored()
            await self._keep(who, draft)
            raise web.HTTPSeeOther("/#now")
        return web.Response(
            text=json.dumps(data, ensure_ascii=False, indent=2),
            content_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="meine-daten.json"'},
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        types = {"chat.js": "text/javascript", "chat.css": "text/css", "icon.svg": "image/svg+xml"}
        if name not in types:
            raise web.HTTPNotFound
        return web.Response(
            body=(STATIC / name).read_bytes(),
            content_type=types[name],
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    # Results for everybody

    async def results(self, request: web.Request) -> web.Response:
        who = self._visitor(request)
        locale = (await self._draft(request, who)).locale
        standings = await self.participation.standings()
        is_open = await self.participation.is_open()
        channels = await participants_by_channel(self.database)
        published = await published_impulses(self.database)
        consultation = self.settings.consultation
        with rendering_in(self.i18n, locale):
            items = (
                "".join(
                    f"<li><strong>{escape(views.topic_title(consultation, topic))}</strong>: "
                    f"{escape(text)}</li>"
                    for topic, text in published
                )
                or f"<li>{escape(texts.nothing_published())}</li>"
            )
            split = texts.by_channel(
                format_number(channels.get("telegram", 0)), format_number(channels.get(CHANNEL, 0))
            )
            body = (
                f'<main id="main"><h1>{escape(texts.results_heading())}</h1>'
                f'<div class="msg bot">{views.results(consultation, standings, is_open=is_open)}'
                f"</div><p>{escape(split)}</p>"
                f'<img class="chart" src="/ergebnisse/chart.png?l={escape(locale)}" '
                f'alt="{escape(texts.chart_alt())}" width="360">'
                f"<h2>{escape(texts.published_heading())}</h2><ul>{items}</ul>"
                f'<p><a href="/">{escape(texts.restart_link())}</a></p></main>'
            )
            return self._html(locale, body, None)

    async def chart(self, request: web.Request) -> web.Response:
        locale = request.query.get("l", self.settings.default_locale)
        if locale not in self.locales:
            locale = self.settings.default_locale
        now = time.monotonic()
        cached = self._chart
        if cached is not None and cached[1] == locale and now - cached[0] < 60:
            png = cached[2]
        else:
            standings = await self.participation.standings()
            consultation = self.settings.consultation
            with rendering_in(self.i18n, locale):
                spec = ChartSpec(
                    title=views.consultation_text(consultation).title,
                    subtitle=texts.chart_subtitle().format(
                        total=format_number(standings.participants),
                        moment=format_moment(self.clock(), self._zone()),
                    ),
                    axis_label=texts.chart_axis(),
                    rows=tuple(
                        (views.topic_title(consultation, s.topic_id), s.share, None)
                        for s in standings.topics
                    ),
                )
            png = await asyncio.to_thread(render_png, spec)
            self._chart = (now, locale, png)
        return web.Response(
            body=png, content_type="image/png", headers={"Cache-Control": "max-age=60"}
        )

    def _zone(self) -> Any:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.settings.digest_timezone)

    # Every button

    async def act(self, request: web.Request) -> web.StreamResponse:
        who = self._visitor(request)
        form = await request.post()
        draft = await self._draft(request, who)
        token = form.get("csrf")
        if not who.csrf_ok(token if isinstance(token, str) else None, self.settings.secret):
            with rendering_in(self.i18n, draft.locale):
                draft.note = texts.form_expired()
                body = await self._dialog(who, draft)
                response = self._html(draft.locale, body, who, status=403)
            draft.note = None
            self._cookie(response, who)
            return response
        if not await self._admitted(who):
            with rendering_in(self.i18n, draft.locale):
                draft.note = texts.slow_down()
                response = self._html(draft.locale, await self._dialog(who, draft), who, status=429)
            draft.note = None
            return response
        action = str(form.get("action", ""))
        with rendering_in(self.i18n, draft.locale):
            erased = await self._act(action, form, who, draft)
        if erased is not None:
            return erased
        await self._keep(who, draft)
        raise web.HTTPSeeOther("/#now")

    async def _admitted(self, who: Visitor) -> bool:
        person = await self.people.check(identity.limiter_key(who.pseudonym))
        address = await self.addresses.check(identity.limiter_key(who.address_hash))
        return person is Verdict.ALLOW and address is Verdict.ALLOW

    async def _act(self, posted: str, form: Any, who: Visitor, draft: Draft) -> web.Response | None:
        consultation = self.settings.consultation
        try:
            action = Action(posted)
        except ValueError:
            action = None
        if action is None or not allows(draft.step, action):
            # A button of a step that is over (a second submit, a form kept in another tab),
            # or no button of this dialog at all (bot.domain.dialog.MOVES).
            draft.note = texts.form_expired()
            return None
        if action is Action.LANGUAGE:
            locale = str(form.get("locale", ""))
            if locale in self.locales:
                draft.locale = locale
            return None
        if action is Action.ERASE:
            return await self._erase(who, draft)
        if action is Action.KEEP_DATA:
            draft.step = Step.KEPT
            return None
        if action is Action.RESTART:
            draft.step = Step.WELCOME
            return None
        # A person the moderators blocked keeps the data rights above, and nothing else.
        if self.blocklist is not None and await self.blocklist.contains(who.pseudonym):
            draft.note = texts.blocked()
            return None
        open_now = await self.participation.is_open()
        if not open_now and action not in (Action.PRIVACY, Action.WELCOME, Action.DECLINE):
            draft.note = views.consultation_closed()
            return None
        if action is Action.PRIVACY:
            draft.step = Step.PRIVACY
        elif action is Action.WELCOME:
            draft.step = Step.WELCOME
        elif action is Action.DECLINE:
            draft.said("you", escape(texts.consent_labels()[2]))
            draft.step = Step.DECLINED
        elif action is Action.CONSENT:
            await self._consent(form, who, draft)
        elif action is Action.TOPICS:
            await self._topics(form, draft)
        elif action is Action.IMPULSE:
            await self._impulse(str(form.get("impulse", "")), who, draft)
        elif action is Action.SKIP:
            draft.said("you", escape(texts.skip_label()))
            draft.impulse, draft.impulse_topic = None, None
            draft.note = views.impulse_skipped()
            draft.step = Step.REVIEW
        elif action is Action.KEEP_IMPULSE:
            draft.note = views.impulse_kept()
            self._after_topics(draft)
        elif action is Action.REMOVE_IMPULSE:
            draft.impulse, draft.impulse_topic = None, None
        elif action is Action.IMPULSE_TOPIC:
            topic = str(form.get("topic", ""))
            if topic == "other":
                draft.every_topic = True
            elif topic in consultation.topic_ids:
                draft.said("you", escape(views.topic_title(consultation, topic)))
                draft.impulse_topic = topic
                draft.step = Step.REVIEW
        elif action is Action.SUBMIT:
            await self._submit(who, draft)
        elif action is Action.EDIT_TOPICS:
            draft.step = Step.TOPICS
        elif action is Action.EDIT_IMPULSE:
            draft.step = Step.IMPULSE
        elif action is Action.SIMILAR_CHOICE:
            await self._similar_choice(str(form.get("impulse", "")), who, draft)
        elif action is Action.CHANGE:
            await self._change(who, draft)
        return None

    async def _consent(self, form: Any, who: Visitor, draft: Draft) -> None:
        registered = await self._registered(who)
        if self.settings.web.invite_codes and not registered:
            code = str(form.get("code", ""))
            used = bool(code.strip()) and await self.invites.redeem(
                identity.invite_hash(code, self.settings.secret), self.clock()
            )
            if not used:
                draft.note = texts.invite_invalid()
                return
        await self.participation.consent(self._citizen(who, draft), source="web", now=self.clock())
        draft.said("you", escape(texts.consent_labels()[0]))
        vote = await self.participation.vote_set(who.pseudonym)
        draft.restart()
        if vote is not None:
            draft.selected = list(vote.topics)
            draft.earlier = [i.text for i in vote.impulses]
        draft.step = Step.TOPICS

    async def _topics(self, form: Any, draft: Draft) -> None:
        consultation = self.settings.consultation
        chosen = [str(t) for t in form.getall("topic", [])]
        known = [t for t in chosen if t in consultation.topic_ids]
        if not known:
            draft.note = views.choose_one_topic()
            return
        if len(known) > consultation.max_topics:
            draft.note = views.topic_limit_reached(consultation)
            draft.selected = known[: consultation.max_topics]
            return
        draft.selected = list(self.participation.clean_selection(known))
        draft.said("you", views.chosen_topics(consultation, draft.selected))
        self._after_topics(draft)

    def _after_topics(self, draft: Draft) -> None:
        consultation = self.settings.consultation
        if not draft.impulse:
            draft.step = Step.IMPULSE
        elif draft.impulse_topic in consultation.topic_ids:
            draft.step = Step.REVIEW
        elif len(draft.selected) == 1:
            draft.impulse_topic = draft.selected[0]
            draft.step = Step.REVIEW
        else:
            draft.every_topic = False
            draft.step = Step.IMPULSE_TOPIC

    async def _impulse(self, text: str, who: Visitor, draft: Draft) -> None:
        text = text.strip()
        if not text:
            draft.note = views.impulse_needs_text()
            return
        problem = await self.participation.check_new_impulse(who.pseudonym, text)
        if problem is not None:
            draft.note = views.impulse_problem(self.settings.consultation, problem, text)
            return
        draft.said("you", escape(text))
        draft.impulse, draft.impulse_topic = text, None
        similar = await self.similar_impulses.similar(text) if self.similar_impulses else []
        if similar:
            draft.similar = [(s.impulse_id, s.topic_id, s.text) for s in similar]
            draft.step = Step.SIMILAR
            return
        self._after_topics(draft)

    async def _similar_choice(self, chosen: str, who: Visitor, draft: Draft) -> None:
        """Supporting #12 counts as agreeing with #12 and drops the person's own idea from the
        draft; "send mine anyway" (0) goes on as if no hint had been shown."""
        shown = {impulse_id for impulse_id, _, _ in draft.similar}
        supported = int(chosen) if chosen.isdigit() else -1
        if supported != 0 and supported not in shown:
            draft.note = texts.form_expired()
            return
        if supported:
            agreed = self.ratings is not None and await self.ratings.rate(
                who.pseudonym, supported, Opinion.AGREE, self.clock()
            )
            if not agreed:  # no longer published
                draft.note = texts.form_expired()
                return
        labels, mine = texts.similar_labels(_similar(draft.similar))
        said = dict(zip((i for i, _, _ in draft.similar), labels, strict=True)).get(supported, mine)
        draft.said("you", escape(said))
        draft.similar = []
        if not supported:
            self._after_topics(draft)
            return
        draft.said("bot", escape(texts.supported(supported)))
        draft.impulse, draft.impulse_topic = None, None
        draft.step = Step.REVIEW

    async def _submit(self, who: Visitor, draft: Draft) -> None:
        impulse = (
            ImpulseDraft(text=draft.impulse, topic_id=draft.impulse_topic)
            if draft.impulse and draft.impulse_topic
            else None
        )
        submission = Submission(
            topics=tuple(draft.selected), impulse=impulse, draft_key=draft.draft_key
        )
        try:
            impulse_id = await self.participation.submit(
                self._citizen(who, draft), submission, now=self.clock()
            )
        except ConsultationClosed:
            draft.note = views.consultation_closed()
            return
        except InvalidSubmission:
            draft.note = texts.form_expired()
            return
        draft.said("you", escape(texts.review_labels()[0]))
        standings = await self.participation.standings()
        draft.said(
            "bot",
            texts.thanks(
                self.settings, draft.selected, standings, with_impulse=impulse is not None
            ),
        )
        draft.restart()
        draft.step = Step.THANKS
        if impulse_id is not None:
            await self.on_impulse(impulse_id)

    async def _change(self, who: Visitor, draft: Draft) -> None:
        vote = await self.participation.vote_set(who.pseudonym)
        draft.restart()
        if vote is not None:
            draft.selected = list(vote.topics)
            draft.earlier = [i.text for i in vote.impulses]
        draft.said("you", escape(texts.change_vote_label()))
        draft.step = Step.TOPICS

    async def _erase(self, who: Visitor, draft: Draft) -> web.Response:
        plan = await self.participation.erasure_plan(who.pseudonym)
        if plan is not None:
            await self.on_erasure(plan)
        erasure = await self.participation.erase(who.pseudonym)
        if erasure is not None and plan is not None:
            await self.on_erasure(
                Erasure(
                    removed_cards=tuple(
                        c for c in erasure.removed_cards if c not in plan.removed_cards
                    ),
                    kept_impulses=tuple(
                        i for i in erasure.kept_impulses if i not in plan.kept_impulses
                    ),
                )
            )
        await self.drafts.drop(who.pseudonym)
        self.people.forget(identity.limiter_key(who.pseudonym))
        body = (
            f'<main id="main"><div class="msg bot" id="now" tabindex="-1">{views.erased()}</div>'
            f'<p><a href="/">{escape(texts.restart_link())}</a></p></main>'
        )
        response = self._html(draft.locale, body, None)
        response.del_cookie(COOKIE, path="/")
        return response

    # Rendering

    async def _dialog(self, who: Visitor, draft: Draft) -> str:
        """The transcript, the current step's message and its form."""
        csrf = who.csrf_token(self.settings.secret)
        step_html, controls = await self._step(who, draft, csrf)
        if draft.note:
            step_html = f'<p class="note" role="alert">{draft.note}</p>{step_html}'
        earlier = "".join(
            f'<li class="msg {who_}"><span class="sr">'
            f"{escape(texts.you_said() if who_ == 'you' else texts.bot_said())} </span>"
            f"{html}</li>"
            for who_, html in draft.transcript
        )
        return (
            f'<main id="main"><ol class="chat" aria-label="{escape(texts.page_title())}">'
            f"{earlier}"
            f'<li class="msg bot" id="now" tabindex="-1" aria-live="polite">{step_html}</li>'
            f"</ol>{controls}</main>"
        )

    async def _step(self, who: Visitor, draft: Draft, csrf: str) -> tuple[str, str]:
        settings, consultation = self.settings, self.settings.consultation
        step = draft.step
        if not await self.participation.is_open() and step in (Step.WELCOME, Step.PRIVACY):
            standings = await self.participation.standings()
            return views.closed_welcome(consultation, standings), ""
        if step is Step.WELCOME:
            join, privacy, decline = texts.consent_labels()
            code = ""
            if settings.web.invite_codes and not await self._registered(who):
                code = (
                    f'<label for="code">{escape(texts.invite_label())}</label>'
                    '<input id="code" name="code" autocomplete="off" autocapitalize="characters" '
                    'required maxlength="20">'
                )
            return texts.welcome(consultation), (
                self._form(csrf, code + self._button("consent", join, primary=True))
                + self._form(csrf, self._button("privacy", privacy), novalidate=True)
                + self._form(csrf, self._button("decline", decline))
            )
        if step is Step.PRIVACY:
            join, policy, back = texts.privacy_labels(consultation)
            return views.privacy_full(), (
                f'<p><a href="{escape(consultation.privacy_url)}" rel="noopener">'
                f"{escape(policy)}</a></p>" + self._form(csrf, self._button("welcome", back))
            )
        if step is Step.DECLINED:
            return views.declined(), self._form(csrf, self._button("welcome", texts.restart_link()))
        if step is Step.TOPICS:
            boxes = "".join(
                '<div class="check"><input type="checkbox" name="topic" '
                f'id="t-{escape(t.id)}" value="{escape(t.id)}"'
                f"{' checked' if t.id in draft.selected else ''}>"
                f'<label for="t-{escape(t.id)}">'
                f"{escape(views.topic_title(consultation, t.id))}</label></div>"
                for t in consultation.topics
            )
            legend = texts.topics_legend().format(limit=consultation.max_topics)
            done = texts.topics_done_label(consultation, draft.selected)
            fieldset = (
                f'<fieldset data-limit="{consultation.max_topics}"><legend>{escape(legend)}'
                f"</legend>{boxes}</fieldset>"
            )
            return views.topics_prompt(consultation, draft.selected), self._form(
                csrf, fieldset + self._button("topics", done, primary=True)
            )
        if step is Step.IMPULSE:
            if draft.impulse:
                keep, remove = texts.keep_remove_labels()
                return views.impulse_prompt_with_draft(consultation, draft.impulse), self._form(
                    csrf,
                    self._button("keep_impulse", keep, primary=True)
                    + self._button("remove_impulse", remove),
                )
            field_html = (
                f'<label for="impulse">{escape(texts.impulse_label())}</label>'
                f'<textarea id="impulse" name="impulse" rows="5" '
                f'maxlength="{consultation.impulse_max_length * 2}"></textarea>'
            )
            return views.impulse_prompt(consultation, draft.earlier, draft.selected), (
                self._form(csrf, field_html + self._button("impulse", texts.send_idea(), True))
                + self._form(csrf, self._button("skip", texts.skip_label()))
            )
        if step is Step.SIMILAR:
            similar = _similar(draft.similar)
            labels, mine = texts.similar_labels(similar)
            forms = "".join(
                self._form(
                    csrf,
                    f'<input type="hidden" name="impulse" value="{s.impulse_id}">'
                    + self._button("similar_choice", label),
                )
                for s, label in zip(similar, labels, strict=True)
            )
            keep = '<input type="hidden" name="impulse" value="0">' + self._button(
                "similar_choice", mine, primary=True
            )
            return texts.similar_hint(consultation, similar), forms + self._form(csrf, keep)
        if step is Step.IMPULSE_TOPIC:
            shown = consultation.topic_ids if draft.every_topic else tuple(draft.selected)
            radios = "".join(
                f'<div class="check"><input type="radio" name="topic" id="i-{escape(t)}" '
                f'value="{escape(t)}" required><label for="i-{escape(t)}">'
                f"{escape(views.topic_title(consultation, t))}</label></div>"
                for t in shown
            )
            if not draft.every_topic:
                other = texts.other_topic_label(consultation, draft.selected)
                radios += (
                    '<div class="check"><input type="radio" name="topic" id="i-other" '
                    f'value="other"><label for="i-other">{escape(other)}</label></div>'
                )
            fieldset = (
                f"<fieldset><legend>{escape(texts.impulse_topic_legend())}</legend>"
                f"{radios}</fieldset>"
            )
            return views.impulse_topic_prompt(), self._form(
                csrf, fieldset + self._button("impulse_topic", texts.choose(), primary=True)
            )
        if step is Step.REVIEW:
            submit, topics, impulse = texts.review_labels()
            text = views.review(
                consultation, draft.selected, draft.impulse, draft.impulse_topic, draft.earlier
            )
            return text, self._form(
                csrf,
                self._button("submit", submit, primary=True)
                + self._button("edit_topics", topics)
                + self._button("edit_impulse", impulse),
            )
        if step in (Step.MY_VOTE, Step.THANKS):
            vote = await self.participation.vote_set(who.pseudonym)
            if vote is None or not vote.topics:
                return views.no_vote_yet(), self._form(
                    csrf, self._button("restart", texts.restart_link())
                )
            can_change = await self.participation.is_open()
            controls = (
                self._form(csrf, self._button("change", texts.change_vote_label()))
                if can_change
                else ""
            )
            # After "Absenden" the thanks is the transcript's last message; the vote below it.
            return views.my_vote(settings, vote, can_change=can_change), controls
        if step is Step.ERASE:
            erase, keep = texts.erase_labels()
            return views.erase_question(), self._form(
                csrf, self._button("erase", erase) + self._button("keep_data", keep)
            )
        if step is Step.KEPT:
            return views.kept_data(), ""
        return views.unknown_input(), ""

    @staticmethod
    def _button(action: str, label: str, primary: bool = False) -> str:
        css = ' class="primary"' if primary else ""
        return (
            f'<button type="submit" name="action" value="{escape(action)}"{css}>'
            f"{escape(label)}</button>"
        )

    @staticmethod
    def _form(csrf: str, inner: str, *, novalidate: bool = False) -> str:
        flag = " novalidate" if novalidate else ""
        return (
            f'<form method="post" action="/" data-chat{flag}>'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">{inner}</form>'
        )

    def _html(
        self, locale: str, main: str, who: Visitor | None, *, status: int = 200
    ) -> web.Response:
        lang = "de" if locale.startswith("de") else locale.split("_")[0]
        title = views.consultation_text(self.settings.consultation).title
        languages = ""
        if who is not None:
            options = "".join(
                f'<option value="{escape(code)}"{" selected" if code == locale else ""}>'
                f"{escape(language_name(code))}</option>"
                for code in self.locales
            )
            languages = self._form(
                who.csrf_token(self.settings.secret),
                f'<label for="locale">{escape(texts.language_label())}</label>'
                f'<select id="locale" name="locale">{options}</select>'
                + self._button("language", texts.language_button()),
            ).replace("data-chat", 'data-chat class="languages"', 1)
        nav = (
            f'<nav aria-label="{escape(texts.nav_label())}"><ul>'
            f'<li><a href="/">{escape(texts.restart_link())}</a></li>'
            f'<li><a href="/meinvotum">{escape(texts.my_vote_link())}</a></li>'
            f'<li><a href="/daten">{escape(texts.my_data_link())}</a></li>'
            f'<li><a href="/loeschen">{escape(texts.erase_link())}</a></li>'
            f'<li><a href="/ergebnisse">{escape(texts.results_link())}</a></li>'
            "</ul></nav>"
        )
        page = (
            f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · {escape(texts.page_title())}</title>"
            '<link rel="icon" href="/static/icon.svg" type="image/svg+xml">'
            '<link rel="stylesheet" href="/static/chat.css">'
            '<script src="/static/chat.js" defer></script></head><body>'
            f'<header><p class="title">{escape(title)}</p>{languages}</header>'
            f"{main}{nav}</body></html>"
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)


CHAT = web.AppKey("chat", WebChat)


def _similar(shown: list[tuple[int, str, str]]) -> list[SimilarImpulse]:
    return [SimilarImpulse(impulse_id=i, topic_id=t, text=x, score=0.0) for i, t, x in shown]


def _secure(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def build_app(
    settings: Settings,
    database: Database,
    participation: ParticipationService,
    i18n: I18n,
    *,
    clock: Clock = system_clock,
    on_impulse: ImpulseHook | None = None,
    on_erasure: ErasureHook | None = None,
    blocklist: BlockList | None = None,
    ratings: RatingService | None = None,
    similar_impulses: SimilarImpulses | None = None,
) -> web.Application:
    chat = WebChat(
        settings,
        database,
        participation,
        i18n,
        clock,
        on_impulse=on_impulse or _nothing,
        on_erasure=on_erasure or _nothing,
        blocklist=blocklist,
        ratings=ratings,
        similar_impulses=similar_impulses,
    )
    app = chat.application()
    app[CHAT] = chat
    return app
