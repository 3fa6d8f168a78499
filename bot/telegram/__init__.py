"""Everything that speaks the Bot API: long polling and the webhook, the inbox pipeline (one
person's updates in order), the middlewares (language, participation, moderator gate, blocked
citizens, rate limits and the flood gate, reachability), the Bot API client and its retry
policy, the Bot API session (`session`: JSON requests, answers read as far as the bot reads
them), the sorting of every call's outcome, lenient reading of what the pinned aiogram rejects,
the paced sender of the outcome message (`followup`), what the chat keeps about a person
(`conversation`, for the data rights), the aiogram tuning (`lean_aiogram`,
`dispatching`), the background-task helper (`periodic`) and the update id for log lines
(`update_context`).

May import `bot.domain` and `storage`; never `handlers`, `bot.digest`, `bot.ops`, `bot.app` or
`bot.emulator`. The routers that answer people live in `handlers`.
"""
