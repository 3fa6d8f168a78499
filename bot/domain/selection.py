"""Choosing priority topics: toggling with an upper limit, as "Setzen Sie drei Prioritäten".

Each topic button says what a tap does (choose or unchoose), not just "flip": the same tap twice
(a double tap, or the update handled again after a crash, storage/inbox.py) changes nothing the
second time instead of undoing the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Toggle(Enum):
    ADDED = "added"
    REMOVED = "removed"
    ALREADY = "already"  # chosen or not chosen already, as the tap asked
    LIMIT_REACHED = "limit_reached"
    UNKNOWN_TOPIC = "unknown_topic"


@dataclass(frozen=True)
class ToggleResult:
    selected: tuple[str, ...]
    outcome: Toggle

    @property
    def changed(self) -> bool:
        return self.outcome in (Toggle.ADDED, Toggle.REMOVED)


def toggle_topic(
    selected: Sequence[str], topic_id: str, *, choose: bool, known: Sequence[str], limit: int
) -> ToggleResult:
    """Add (`choose`) or remove one topic; a tap beyond the limit changes nothing."""
    current = tuple(t for t in selected if t in known)
    if topic_id not in known:
        return ToggleResult(current, Toggle.UNKNOWN_TOPIC)
    if (topic_id in current) == choose:
        return ToggleResult(current, Toggle.ALREADY)
    if not choose:
        return ToggleResult(tuple(t for t in current if t != topic_id), Toggle.REMOVED)
    if len(current) >= limit:
        return ToggleResult(current, Toggle.LIMIT_REACHED)
    return ToggleResult((*current, topic_id), Toggle.ADDED)


def clean_selection(
    selected: Sequence[str], *, known: Sequence[str], limit: int
) -> tuple[str, ...]:
    """Drop unknown or repeated topics and any beyond the limit (e.g. after a config change)."""
    seen: list[str] = []
    for topic_id in selected:
        if topic_id in known and topic_id not in seen:
            seen.append(topic_id)
    return tuple(seen[:limit])
