"""The result digest as it is posted: Telegram-safe HTML text, the charts, the composition of
the parts, and the channel publisher (aiogram calls, Telegram errors as `PublishError`).

What a digest says and when it is due are domain rules (`bot.domain.digest_figures`,
`bot.domain.digest_schedule`, `bot.domain.digests`); it is wired in `bot.app.digest_wiring`.
May import `bot.domain`, aiogram, `bot.telegram` (the Bot API outcomes, number and date
formats) and `storage`; never `handlers`, `bot.ops`, `bot.web`, `bot.app` or `bot.emulator`.
"""
