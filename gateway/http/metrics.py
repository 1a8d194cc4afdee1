"""Prometheus metrics, one registry per application (so several gateways in one process, as in
tests, do not share counters). Labels carry recipients, results and reasons, never personal
data."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gateway.record.entry import Draft, Kind

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.disclosures = Counter(
            "gateway_disclosures", "Disclosures by recipient and outcome",
            ["recipient", "result"], registry=r)
        self.rejections = Counter(
            "gateway_http_rejections", "Requests answered with a problem, by reason",
            ["reason"], registry=r)
        self.batch_size = Histogram(
            "gateway_record_batch_size", "Entries per record commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), registry=r)
        self.commit_seconds = Histogram(
            "gateway_record_commit_seconds", "Record commit latency",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0), registry=r)
        self.carrier_seconds = Histogram(
            "gateway_carrier_seconds", "Carrier call latency", ["carrier", "operation"],
            registry=r)
        self.breaker_open = Gauge(
            "gateway_carrier_breaker_open", "1 while the carrier's circuit breaker is open",
            ["carrier"], registry=r)
        self.breaker_state = Enum(
            "gateway_carrier_breaker", "The carrier's circuit breaker state", ["carrier"],
            states=["closed", "open", "half_open"], registry=r)
        self.carrier_calls = Counter(
            "gateway_carrier_calls", "Carrier calls by operation and result "
            "(ok, rejected, unavailable, unknown, held_back)",
            ["carrier", "operation", "result"], registry=r)
        self.carrier_retries = Counter(
            "gateway_carrier_retries", "Carrier calls made again, by reason",
            ["carrier", "operation", "reason"], registry=r)
        self.checkpoint_age = Gauge(
            "gateway_checkpoint_age_seconds", "Seconds the oldest entry no signed checkpoint "
            "covers has waited (0 when every entry is covered: an idle record is not stale)",
            registry=r)
        self.last_checkpoint = time.monotonic()
        # The labelled children the hot path counts in, looked up once per label set (the
        # registry answers the same child every time; the look-up takes its lock).
        self._disclosed: dict[tuple[str, str], Counter] = {}
        self._calls: dict[tuple[str, str, str], tuple[Counter, Histogram | None]] = {}
        self.checkpoint_age.set_function(lambda: time.monotonic() - self.last_checkpoint)

    def checkpoint_age_from(self, age: Callable[[], float]) -> None:
        """Read the checkpoint age from the record (the same figure /readyz judges)."""
        self.checkpoint_age.set_function(age)

    def committed(self, drafts: Sequence[Draft], seconds: float) -> None:
        """Called by the record writer after each durable batch."""
        self.batch_size.observe(len(drafts))
        self.commit_seconds.observe(seconds)
        for draft in drafts:
            if draft.kind == Kind.OUTCOME:
                labels = (draft.recipient or "-", str(draft.data.get("result", "-")))
                counter = self._disclosed.get(labels)
                if counter is None:
                    counter = self._disclosed[labels] = self.disclosures.labels(*labels)
                counter.inc()

    def carrier_call(self, carrier: str, operation: str, result: str, seconds: float) -> None:
        children = self._calls.get((carrier, operation, result))
        if children is None:
            children = self._calls[(carrier, operation, result)] = (
                self.carrier_calls.labels(carrier, operation, result),
                None if result == "held_back" else self.carrier_seconds.labels(carrier, operation))
        calls, latency = children
        calls.inc()
        if latency is not None:
            latency.observe(seconds)

    def carrier_retry(self, carrier: str, operation: str, reason: str) -> None:
        self.carrier_retries.labels(carrier, operation, reason).inc()

    def carrier_breaker(self, carrier: str, state: str) -> None:
        self.breaker_state.labels(carrier).state(str(state))
        self.breaker_open.labels(carrier).set(1 if state == "open" else 0)

    def checkpointed(self) -> None:
        self.last_checkpoint = time.monotonic()

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)
