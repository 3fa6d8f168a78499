"""Import aiogram with its Bot API models' validators built on first use (memory).

At import, aiogram builds pydantic validators and serializers for all of its Bot API models
(about 600 types and methods) and then rebuilds every type once more to resolve forward
references (aiogram issue #1513). That is about 145 MB resident and 4 s of start-up on this
machine, though a bot like ours uses a few dozen of them. With pydantic's documented
`defer_build` option a model is built the first time it validates or serializes: the import
then costs about 45 MB and under a second, and a whole dialog adds a few MB.

Two things stand in the way, and both are handled here, only while aiogram is imported:

* aiogram calls `model_rebuild()` on every type at the end of `aiogram.types`, which builds
  regardless of `defer_build`; that call is skipped (it returns None, as for a complete model).
* That call also handed pydantic the namespace for the forward references (`Message` inside
  `Message`, `Default`, ...). A deferred build looks them up in the model's module instead, so
  those names are added to the modules of `aiogram.types` and `aiogram.methods` where missing.

`import_aiogram()` must run before anything else imports aiogram: `dialogbot` (bot/app/cli.py,
once the settings are read, unless `[tuning] lean_aiogram = false`) and the tests
(tests/conftest.py) call it first. If aiogram is already imported it does
nothing; the models then work as usual, only built eagerly. tests/test_lean_aiogram.py builds
every aiogram model this way, so a new aiogram or pydantic release that breaks it fails there.
"""

from __future__ import annotations

import sys
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel


def import_aiogram() -> None:
    if "aiogram" in sys.modules:
        return
    config, rebuild = BaseModel.model_config, BaseModel.__dict__["model_rebuild"]
    BaseModel.model_config = {**config, "defer_build": True}
    BaseModel.model_rebuild = classmethod(_not_now)  # type: ignore[method-assign,assignment]
    try:
        import aiogram
        import aiogram.methods
        import aiogram.types
    finally:
        BaseModel.model_config = config
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
    _share_forward_references(aiogram.types)


def _not_now(cls: type[BaseModel], *args: Any, **kwargs: Any) -> None:
    return None  # built on first use, by pydantic's own deferred build


def _share_forward_references(types_package: Any) -> None:
    from aiogram.client.default import Default

    # The namespace aiogram itself passes to model_rebuild (end of aiogram/types/__init__.py).
    names: dict[str, Any] = {name: getattr(types_package, name) for name in types_package.__all__}
    names.update(List=list, Optional=Optional, Union=Union, Literal=Literal, Default=Default)
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(("aiogram.types.", "aiogram.methods.")) and module is not None:
            namespace = vars(module)
            for name, value in names.items():
                namespace.setdefault(name, value)
