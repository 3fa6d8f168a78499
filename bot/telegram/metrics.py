"""What the running bot counts for `/metrics` (Prometheus, `dialogbot run --metrics`).

One `Metrics` per application, with a registry of its own (no global state): the pipeline
counts updates by kind and times their handling, the retry middleware counts every Bot API call
by method and outcome, 429s and the waits Telegram asked for. The figures the database holds
(inbox backlog, participants, review cards, digests) are read when `/metrics` is asked
(`bot.app.observability`).

Labels are kinds, method names and outcome classes, never a person's id or pseudonym.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.telegram import outcomes

# Handling an update: from a few milliseconds (a button) to seconds (a digest preview).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WAIT_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def failure_class(error: BaseException) -> str:
    """The outcome label of a call that failed for good: "failed_<class>"."""
    return "failed_" + outcomes.classify(error).name.lower()


class Metrics:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        # When a Bot API call last went through (the clock's time), None before the first.
        self.last_api_success: float | None = None
        r = self.registry
        self.updates_received = Counter(
            "dialogbot_updates_received",
            "Updates recorded in the inbox, by kind",
            ["kind"],
            registry=r,
        )
        self.updates_handled = Counter(
            "dialogbot_updates_handled",
            "Updates handled to the end, by kind and result (ok, failed)",
            ["kind", "result"],
            registry=r,
        )
        self.handling_seconds = Histogram(
            "dialogbot_update_handling_seconds",
            "Time from the start of an update's handling to its done mark, by kind",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.api_calls = Counter(
            "dialogbot_bot_api_calls",
            "Bot API calls by method and outcome (ok, retried: ok after a retry, failed_<class>)",
            ["method", "outcome"],
            registry=r,
        )
        self.api_429 = Counter(
            "dialogbot_bot_api_429",
            "Answers 429 Too Many Requests, by method",
            ["method"],
            registry=r,
        )
        self.api_wait_seconds = Histogram(
            "dialogbot_bot_api_retry_wait_seconds",
            "Waits before a Bot API call was tried again, by reason (flood: a 429's retry_after)",
            ["reason"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.inbox_backlog = Gauge(
            "dialogbot_inbox_backlog", "Updates recorded but not yet handled", registry=r
        )
        self.inbox_oldest_seconds = Gauge(
            "dialogbot_inbox_oldest_age_seconds",
            "Age of the oldest update not yet handled (0: none)",
            registry=r,
        )
        self.participants = Gauge(
            "dialogbot_participants",
            "Participants, by status (active, blocked)",
            ["status"],
            registry=r,
        )
        self.review_pending = Gauge(
            "dialogbot_review_cards_pending",
            "Ideas waiting for a moderator's decision",
            registry=r,
        )
        self.digests = Gauge(
            "dialogbot_digests",
            "Digests by state (posted, pending, failing: pending after a failed attempt)",
            ["state"],
            registry=r,
        )

    def now(self) -> float:
        return self._clock()

    def api_call(self, method: str, attempts: int, error: BaseException | None) -> None:
        if error is None:
            self.last_api_success = self._clock()
            outcome = "ok" if attempts == 1 else "retried"
        else:
            outcome = failure_class(error)
        self.api_calls.labels(method, outcome).inc()

    def api_try_failed(self, method: str, error: BaseException) -> None:
        if outcomes.retry_after(error) is not None:
            self.api_429.labels(method).inc()

    def api_wait(self, error: BaseException, delay: float) -> None:
        flood = outcomes.retry_after(error) is not None
        self.api_wait_seconds.labels("flood" if flood else "backoff").observe(delay)
