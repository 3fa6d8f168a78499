"""What operators run besides the bot: `dialogbot backup`, `dialogbot export` (pseudonymous
results), `dialogbot purge` (retention of raw Telegram ids) and the housekeeping task that
drops what is kept only for a while.

May import `bot.domain`, `storage`, `bot.telegram` and `bot.digest`; never `handlers`,
`bot.app` or `bot.emulator`.
"""
