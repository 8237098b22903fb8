"""Tasks only the benchmarks need, registered on syndicate's Celery app in the benchmark's own
worker processes (`python -m bench.faults.worker --import bench.tasks worker ...`)."""

from __future__ import annotations

from workers.app import app


@app.task(name="syndicate.noop", ignore_result=True)
def noop() -> None:
    """Does nothing: the benchmarks measure Celery's own cost per task with it."""
