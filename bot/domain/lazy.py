"""Heavy libraries are imported when first needed, not at start (memory).

numpy, scipy and scikit-learn (opinion groups, similar-idea hints) and matplotlib (digest
charts) are together about 130 MB resident and take a second or more to import; a bot that
has not yet drawn a chart, grouped opinions or indexed a published impulse does not carry them.

They are imported off the event loop (`preload`, or in the worker thread that needs them) and
one import at a time (`importing`): two threads importing overlapping packages at once can see a
partially initialised module or stop with an import deadlock.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_IMPORTING = threading.RLock()  # re-entrant: a preloaded module may import lazily too


@contextmanager
def importing() -> Iterator[None]:
    """Hold while importing a heavy library; cheap once the library is loaded."""
    with _IMPORTING:
        yield


def _import(modules: tuple[str, ...]) -> None:
    with importing():
        for module in modules:
            importlib.import_module(module)


async def preload(*modules: str) -> None:
    """Import `modules` in a worker thread; the event loop goes on meanwhile."""
    await asyncio.to_thread(_import, modules)
