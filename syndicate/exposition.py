"""`/metrics`: the counters every process keeps in Redis (`syndicate/metrics.py`), read at scrape
time through a prometheus-client collector, along with what is cheapest read directly:
deliveries by target and state, and the queue's length.

Only the web app serves them, so only it imports prometheus-client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from .keys import Keys
from .ledger import split_member
from .metrics import COUNTERS, LATENCY_BUCKETS, SEP
from .queue import QUEUE


class RedisCollector(Collector):
    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r = r
        self.keys = keys

    def collect(self) -> Iterator[Any]:
        raw: dict[bytes, bytes] = self.r.hgetall(self.keys.metrics)  # type: ignore[assignment]
        values = {k.decode(): v.decode() for k, v in raw.items()}
        for short, (name, doc, labels) in COUNTERS.items():
            fam = CounterMetricFamily(name, doc, labels=list(labels))
            for key, value in values.items():
                parts = key.split(SEP)
                if parts[0] == short and len(parts) == len(labels) + 1:
                    fam.add_metric(parts[1:], float(value))
            yield fam
        yield from self._latency(values)
        yield self._states()
        queue = GaugeMetricFamily("syndicate_queue_length", "Messages waiting in the queue")
        # kombu keeps one list per priority step: "<queue>" and "<queue>\x06\x16<n>".
        prefix = self.keys.celery_prefix + QUEUE
        pipe = self.r.pipeline(transaction=False)
        for suffix in ("", "\x06\x163", "\x06\x166", "\x06\x169"):
            pipe.llen(prefix + suffix)
        queue.add_metric([], float(sum(pipe.execute())))
        yield queue

    def _latency(self, values: dict[str, str]) -> Iterator[Any]:
        fam = HistogramMetricFamily("syndicate_delivery_latency_seconds",
                                    "From first seeing an entry to its delivery",
                                    labels=["target"])
        targets = {k.split(SEP)[1] for k in values if k.startswith("latency" + SEP)}
        for target in sorted(targets):
            buckets, running = [], 0.0
            for le in [*LATENCY_BUCKETS, "+Inf"]:
                running += float(values.get(SEP.join(("latency", target, str(le))), 0))
                buckets.append((str(le), running))
            total = float(values.get(SEP.join(("latency_sum", target)), 0))
            fam.add_metric([target], buckets, total)
        yield fam

    def _states(self) -> GaugeMetricFamily:
        fam = GaugeMetricFamily("syndicate_deliveries", "Deliveries by target and state",
                                labels=["target", "state"])
        members: list[bytes] = self.r.zrange(self.keys.deliveries, 0, -1)  # type: ignore[assignment]
        pipe = self.r.pipeline(transaction=False)
        for m in members:
            pipe.hget(self.keys.delivery(*split_member(m)), "state")
        counts: dict[tuple[str, str], int] = {}
        for m, state in zip(members, pipe.execute(), strict=True):
            key = (split_member(m)[1], state.decode() if state else "missing")
            counts[key] = counts.get(key, 0) + 1
        held = self.r.zcard(self.keys.held)
        for (target, state), n in sorted(counts.items()):
            fam.add_metric([target, state], n)
        if held:
            fam.add_metric(["*", "held"], float(held))
        return fam


def render(r: redis.Redis, keys: Keys) -> bytes:
    registry = CollectorRegistry()
    registry.register(RedisCollector(r, keys))
    return bytes(generate_latest(registry))

