"""The layout of bot/: every module sits in a layer package, and each layer says what it may
import (the contracts themselves: `lint-imports`, [tool.importlinter] in pyproject.toml)."""

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
LAYERS = ("app", "digest", "domain", "emulator", "ops", "telegram")


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
