"""The database: SQLAlchemy 2 typed models (`models`), one repository module per concern, each
public method one transaction (`repository` for participation, `moderation`, `ratings`,
`digests`, `followup`, `waves`, `web`, ...), the engines and the one SQLite writer (`db`,
`sqlite_writer`, `group_commit`), the update inbox (`inbox`), aiogram's FSM storage (`fsm`),
what counts as an outage (`outage`), and the Alembic migrations (`migrations/`, applied by
`migrate`).

It implements the repositories and ports that `bot.domain` declares, and keeps the statuses in
the domain's vocabulary (`ImpulseStatus`, `ParticipantStatus`, ...). May import `bot.domain`,
SQLAlchemy, the database drivers and aiogram's FSM storage base (for `fsm`); never `handlers`,
`bot.telegram`, `bot.digest`, `bot.ops`, `bot.app` or `bot.emulator` (import-linter contracts in
pyproject.toml).
"""
