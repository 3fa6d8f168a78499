"""The layout of bot/: every module sits in a layer package, and each layer says what it may
import (the contracts themselves: `lint-imports`, [tool.importlinter] in pyproject.toml); the
composition root gives the process one inbox and one name."""

import ast
from pathlib import Path

from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"
LAYERS = ("app", "digest", "domain", "emulator", "ops", "telegram", "web")
# The layers outside bot/: the aiogram routers (and their two audiences) and the database.
TOP_LEVEL = ("handlers", "handlers/citizen", "handlers/moderation", "storage")


def test_no_module_sits_outside_a_layer_package() -> None:
    stray = [
        str(path.relative_to(BOT))
        for path in BOT.rglob("*.py")
        if path != BOT / "__init__.py" and path.relative_to(BOT).parts[0] not in LAYERS
    ]
    assert stray == []
    packages = sorted(p.name for p in BOT.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted(LAYERS)


def test_every_layer_says_what_it_may_import() -> None:
    packages = [BOT / layer for layer in LAYERS] + [ROOT / package for package in TOP_LEVEL]
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring is not None, package
        assert "import" in docstring, package


async def test_one_process_has_one_inbox_and_one_owner_name(harness: Harness) -> None:
    """The inbox (its rows and liveness lock), the digest outbox's lease and the outcome
    message's lease name the process alike: the composition root's `owner`, given once."""
    app = harness.bot.app
    assert app is not None and app.dependencies is not None
    owner = app.dependencies.owner
    inbox = app.pipeline._inbox
    assert app.housekeeping._inbox is inbox
    assert inbox.owner == owner
    assert app.dependencies.digests._owner == owner
    assert app.followup._owner == owner


def callback_data_classes() -> dict[str, list[type]]:
    """Every CallbackData class of the project, by the module that defines it."""
    import importlib
    import pkgutil

    from aiogram.filters.callback_data import CallbackData

    import handlers

    for module in pkgutil.walk_packages(handlers.__path__, "handlers."):
        importlib.import_module(module.name)
    found: dict[str, list[type]] = {}
    todo = list(CallbackData.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not cls.__module__.startswith("aiogram"):
            found.setdefault(cls.__module__, []).append(cls)
    return found


def test_each_audience_keeps_its_callback_data_in_one_module() -> None:
    assert sorted(callback_data_classes()) == [
        "handlers.citizen.callbacks",
        "handlers.moderation.callbacks",
    ]


def test_callback_prefixes_are_unique_and_the_moderator_gate_knows_the_moderators() -> None:
    """A button's data names its class by the prefix alone; `ModeratorGate` tells a moderator
    button by `MODERATOR_BUTTONS` (bot/telegram/middlewares.py), so it must hold exactly the
    moderators' prefixes and none of the citizens'."""
    from handlers.moderation.callbacks import MODERATOR_BUTTONS

    by_module = callback_data_classes()
    prefixes = [cls.__prefix__ for classes in by_module.values() for cls in classes]  # type: ignore[attr-defined]
    assert len(prefixes) == len(set(prefixes)), sorted(prefixes)
    assert len(prefixes) >= 20  # all the routers' buttons were found
    moderators = {cls.__prefix__ for cls in by_module["handlers.moderation.callbacks"]}  # type: ignore[attr-defined]
    assert moderators == MODERATOR_BUTTONS
    assert all(prefix.startswith("m") for prefix in MODERATOR_BUTTONS)
    citizens = {cls.__prefix__ for cls in by_module["handlers.citizen.callbacks"]}  # type: ignore[attr-defined]
    assert not any(prefix.startswith("m") for prefix in citizens)
