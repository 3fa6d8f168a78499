"""Development tools: the offline Bot API emulator, a real HTTP server as strict as Telegram,
and `dialogbot demo` (the real bot against the emulator with simulated citizens) and
`dialogbot chat` (the dialog in a terminal).

The emulator is split by concern, top to bottom (an import-linter contract in pyproject.toml
keeps the order; each module imports only the ones below it):

- `server`: `BotApiEmulator`, the composition of the parts below and the test-side API, and the
  command line (`python -m bot.emulator.server`);
- `http`: the HTTP surface (the Bot API route, faults answered, the `/_emulator/` control API);
- `citizens`: the simulated users; `webhooks`: setWebhook and the delivery of updates;
- `messages`: the methods on chats and messages; `calls`: the method table and the call record;
- `chats`: chats and stored messages; `updates`: the update queue and getUpdates;
  `faults`: `Fault` and `FaultPlan`, where a new fault rule goes;
- `validation`: limits, parse modes, keyboards, files and commands Telegram refuses;
- `html`: Telegram's HTML subset; `wire`: answers, error pages and request parameters.

May import every layer of the bot; nothing but the command line and the tests imports it.
"""
