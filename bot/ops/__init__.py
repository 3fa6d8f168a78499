"""What operators run besides the bot: `dialogbot backup`, `dialogbot export` (pseudonymous
results), `dialogbot purge` (retention of raw Telegram ids) and the housekeeping task that
drops what is kept only for a while.

May import `bot.domain`, `storage` and the settings; never `bot.telegram`, `handlers`,
`bot.digest` or `bot.emulator`.
"""
