"""The web chat: the citizen dialog in a phone's browser, for people without Telegram.

`app.py` serves it (aiohttp, server-rendered, every button a form; `static/chat.js` makes it a
chat without reloads), `identity.py` says who a request comes from (a cookie, its pseudonym,
CSRF tokens, the client address's keyed hash), `texts.py` is the one module here that takes the
dialog's texts and keyboards from `handlers`. It uses the domain services and storage as the
Telegram handlers do; `bot.app` composes it (`dialogbot web`).

It may import the layers below `bot.app`: `handlers` (in `texts.py` only, an import-linter
contract checks that), `bot.ops`, `bot.digest`, `bot.telegram`, `storage` and `bot.domain`.
"""
