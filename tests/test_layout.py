"""The layout of bot/: every module sits in a layer package, and each layer says what it may
import (the contracts themselves: `lint-imports`, [tool.importlinter] in pyproject.toml)."""

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
LAYERS = ("app", "digest", "domain", "emulator", "ops", "telegram", "web")


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
    for layer in LAYERS:
        docstring = ast.get_docstring(ast.parse((BOT / layer / "__init__.py").read_text()))
        assert docstring is not None, layer
        assert "import" in docstring, layer


def callback_data_classes() -> dict[str, list[type]]:
    """Every CallbackData class of the routers, by the module that defines it."""
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
        if cls.__module__.startswith("handlers"):
            found.setdefault(cls.__module__, []).append(cls)
    return found


def test_callback_prefixes_are_unique_and_moderator_buttons_start_with_m() -> None:
    """A button's data names its class by the prefix alone; `ModeratorGate` tells a moderator
    button by its leading "m" (bot/telegram/middlewares.py)."""
    by_module = callback_data_classes()
    prefixes = [cls.__prefix__ for classes in by_module.values() for cls in classes]  # type: ignore[attr-defined]
    assert len(prefixes) == len(set(prefixes)), sorted(prefixes)
    assert len(prefixes) >= 20  # all the routers' buttons were found
    for module, classes in by_module.items():
        moderators = module.startswith("handlers.moderation")
        for cls in classes:
            assert cls.__prefix__.startswith("m") == moderators, (module, cls.__prefix__)  # type: ignore[attr-defined]
