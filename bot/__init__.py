"""dialogbot: a Telegram participation channel for citizen consultations.

One subpackage per layer; `pyproject.toml` ([tool.importlinter]) checks who may import whom:

* `bot.domain`: the rules, plain Python (no aiogram, no SQL);
* `bot.digest`: the result digest's text, charts and channel publisher;
* `bot.telegram`: everything that speaks the Bot API (polling, webhook, pipeline, middlewares,
  client and retry policy, rate limits);
* `bot.ops`: what operators run besides the bot (backup, export, purge, housekeeping);
* `bot.web`: the web chat, the same citizen dialog in a browser (between `bot.app` and the
  handlers, whose texts it shows);
* `bot.app`: configuration, the command line, the composition root, the background tasks;
* `bot.emulator`: the offline Bot API emulator, the demo and the terminal chat.

The aiogram routers live in the top-level package `handlers`, the database in `storage`.
"""
