"""Prometheus metrics that every process contributes to and the web process serves.

Workers, the scheduler and the web app are separate processes (often separate hosts), so counts
live in Redis: one hash of counters, written in one pipelined round trip per event. `/metrics`
reads them at scrape time (`syndicate/exposition.py`).
"""

from __future__ import annotations

import redis

from .keys import Keys

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400)
COUNTERS = {
    "polls": ("syndicate_polls_total", "Polls of a source, by outcome", ("source", "status")),
    "fetch": ("syndicate_fetch_responses_total", "HTTP status of source fetches",
              ("source", "code")),
    "entries": ("syndicate_entries_seen_total", "New entries found in a source", ("source",)),
    "parses": ("syndicate_feed_parses_total",
               "Feeds parsed: polls whose bytes had changed (the rest cost no parse)", ("source",)),
    "skipped": ("syndicate_entries_skipped_total",
                "Entries of a source left out of a poll because they could not be read",
                ("source",)),
    "attempts": ("syndicate_delivery_attempts_total", "Delivery attempts, by outcome",
                 ("target", "outcome")),
    "retries": ("syndicate_delivery_retries_total", "Attempts that will be retried",
                ("target",)),
}
SEP = "\x1f"


class Metrics:
    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r = r
        self.keys = keys

    def attempt(self, target: str, outcome: str,
                latency: float | None = None) -> list[tuple[str, float]]:
        """The counters one delivery attempt adds, for the ledger to write with its outcome."""
        out: list[tuple[str, float]] = [(SEP.join(("attempts", target, outcome)), 1)]
        if outcome == "failed":
            out.append((SEP.join(("retries", target)), 1))
        if latency is not None:
            # One bucket per observation; the scrape adds them up into Prometheus' cumulative
            # buckets, so a delivery costs two counters here, not fifteen.
            le = next((str(b) for b in LATENCY_BUCKETS if latency <= b), "+Inf")
            out += [(SEP.join(("latency", target, le)), 1),
                    (SEP.join(("latency_sum", target)), latency)]
        return out

    def total(self, metric: str, *labels: str) -> float:
        """One counter summed over the labels not given: `total("parses")`, every source's."""
        prefix = SEP.join((metric, *labels))
        return sum(float(v) for k, v in self.r.hgetall(self.keys.metrics).items()
                   if (k.decode() if isinstance(k, bytes) else k) == prefix
                   or (k.decode() if isinstance(k, bytes) else k).startswith(prefix + SEP))

    def delivered(self, target: str, outcome: str, latency: float | None) -> None:
        """Count an attempt that ended without a ledger write (its claim was taken over)."""
        pipe = self.r.pipeline(transaction=False)
        for name, amount in self.attempt(target, outcome, latency):
            pipe.hincrbyfloat(self.keys.metrics, name, amount)
        pipe.execute()
