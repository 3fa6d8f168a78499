"""When the moderators hear that updates pile up: at most once per incident.

An incident begins when the oldest update waiting in the inbox is older than the threshold and
the backlog grew since the last look (a backlog that shrinks is being worked off); it ends
when the oldest waiting update is younger than the threshold again.
"""

from __future__ import annotations


class BacklogIncident:
    def __init__(self, threshold_seconds: float) -> None:
        self.threshold = threshold_seconds
        self._last_count: int | None = None
        self._open = False

    @property
    def open(self) -> bool:
        return self._open

    def observe(self, count: int, oldest_age: float) -> bool:
        """One look at the backlog; True when the moderators are to be told now."""
        grew = self._last_count is not None and count > self._last_count
        self._last_count = count
        if oldest_age <= self.threshold:
            self._open = False
            return False
        if self._open or not grew:
            return False
        self._open = True
        return True
