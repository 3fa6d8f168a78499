"""The event loop `dialogbot` runs on: uvloop where it is installed, else asyncio's own.

uvloop (libuv, in C) took about a tenth off the CPU per update in the load benchmark, for the
bot and for the bare aiogram echo bot alike (benchmarks/README.md), so the bot handles more
updates per second and queues less under load. Nothing depends on it: where it is not
installed (it does not support Windows) the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop's loop if it is there."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
