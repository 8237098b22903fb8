"""/metrics: counters from every process, read from Redis in Prometheus' text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from syndicate.web import create_app

from .fakes.http import Reply
from .helpers import drive, new_entry
from .test_dispatcher import devto_target
from .test_poller import sources


def scrape(rt) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = create_app(rt).test_client().get("/metrics").get_data(as_text=True)
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_metrics(make_runtime, feed_server, devto) -> None:
    rt, q = make_runtime(sources=sources(feed_server), targets=[devto_target(devto)])
    rt.poll("blogger")
    rt.poll("blogger")
    eid = new_entry(rt)
    devto.faults.append(Reply(503, {"error": "busy", "status": 503}))
    drive(rt, eid, "devto")
    m = scrape(rt)
    assert m["syndicate_polls_total"][(("source", "blogger"), ("status", "baseline"))] == 1
    assert m["syndicate_polls_total"][(("source", "blogger"), ("status", "not-modified"))] == 1
    assert m["syndicate_fetch_responses_total"][(("code", "304"), ("source", "blogger"))] == 1
    assert m["syndicate_delivery_attempts_total"][(("outcome", "failed"), ("target", "devto"))] == 1
    assert m["syndicate_delivery_attempts_total"][(("outcome", "delivered"),
                                                   ("target", "devto"))] == 1
    assert m["syndicate_delivery_retries_total"][(("target", "devto"),)] == 1
    assert m["syndicate_delivery_latency_seconds_count"][(("target", "devto"),)] == 1
    assert m["syndicate_deliveries"][(("state", "delivered"), ("target", "devto"))] == 1
    assert m["syndicate_queue_length"][()] == 0
