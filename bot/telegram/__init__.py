"""Everything that speaks the Bot API: long polling and the webhook, the inbox pipeline (one
person's updates in order), the middlewares (language, participation, moderator gate, blocked
citizens, rate limits and the flood gate, reachability), the Bot API client and its retry
policy, the sorting of every call's outcome, lenient reading of what the pinned aiogram rejects,
the paced sender of the outcome message (`followup`), and the aiogram tuning (`lean_aiogram`,
`dispatching`).

May import `bot.domain`, `storage` and the few modules of `bot.app` that every layer may read
(the settings, the background-task helper, the token mask, the wired domain services: the
exceptions listed in pyproject.toml); never `handlers`, `bot.digest`, `bot.ops`, `bot.emulator`
or the rest of `bot.app`. The routers that answer people live in `handlers`.
"""
