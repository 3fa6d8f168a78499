"""The application: configuration (`config`), the `dialogbot` command line (`cli`), the
composition root (`runtime.Application`, with the wiring in `services`, `ratings` and
`digest_wiring`), the lifecycle until a signal, the background tasks (`periodic`, `scheduler`),
logging and the event loop, `dialogbot doctor` (`doctor`) and the health and metrics endpoints
(`observability`).

The top layer: may import every other layer except the development tools in `bot.emulator`,
which only the command line starts. The settings (`config`), the token mask (`logs`) and the
background-task helper (`periodic`) import no layer above the domain and `storage`, so every
layer may read them.
"""
