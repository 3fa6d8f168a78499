"""The rules of a consultation: participation, the data rights (`data_rights`), moderation,
ratings, opinion groups, standings, and what a digest says and when it is due
(`digest_figures`, `digest_schedule`); the settings' models (`settings`) and the token mask
(`redaction`).

Plain Python behind Protocols (the repositories and ports that `storage` and `bot.digest`
implement), tested directly. May import the standard library, numpy/scipy/scikit-learn (lazily,
`lazy.py`), croniter and pydantic (the settings' models); never aiogram, aiohttp, SQLAlchemy,
Redis, `storage`, `handlers` or any other layer of `bot`.
"""
