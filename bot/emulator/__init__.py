"""Development tools: the offline Bot API emulator (`server`: a real HTTP server as strict as
Telegram, with chats, faults and webhooks, and the test-side citizens), `dialogbot demo` (the
real bot against the emulator with simulated citizens) and `dialogbot chat` (the dialog in a
terminal).

May import every layer; nothing but the command line and the tests imports it.
"""
