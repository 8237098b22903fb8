"""Keeps `python -m bench` working: a smoke run at tiny sizes. No time is asserted here; the
figures are for bench/RESULTS.md, measured with `python -m bench --write`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_runs(redis_url: str) -> None:
    if redis_url.startswith("unix://"):
        pytest.skip("the benchmark's processes need a TCP Redis")
    out = subprocess.run([sys.executable, "-m", "bench", "--quick", "--redis", redis_url],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    for figure in ("unchanged sources", "ignores ETag", "1% changed", "webhook -> first target",
                   "fan-out", "Redis commands per delivery", "peak RSS", "reader feed"):
        assert figure in out.stdout, figure
    assert "(0 runs)" not in out.stdout, "no publish webhook reached its target"
    # The round trips are counted where the client sends them: a count of none means a path
    # (such as the scripts' own connections) went past the counting.
    trips = re.search(r"Redis round trips per delivery attempt \(worker side\): ([\d.]+)",
                      out.stdout)
    assert trips and 1 <= float(trips.group(1)) <= 6, out.stdout[-2000:]
