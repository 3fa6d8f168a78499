"""The application: configuration (`config`), the `dialogbot` command line (`cli`), the
composition root (`composition.Dependencies`, with the wiring in `services`, `ratings` and
`digest_wiring`), the running application on it (`runtime.Application`), the lifecycle until a
signal, the background tasks (`scheduler`,
`backlog_watch`), logging and the event loop, `dialogbot doctor` (`doctor`) and the health and
metrics endpoints (`observability`).

The top layer: may import every other layer except the development tools in `bot.emulator`,
which only the command line starts. What lower layers need lives lower: the settings' models in
`bot.domain.settings`, the token mask in `bot.domain.redaction`, the background-task helper in
`bot.telegram.periodic`.
"""
