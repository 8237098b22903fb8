"""`python -m bench.faults [--full] [--redis URL] [SCENARIO ...]`: run the fault scenarios and
their control runs, and print the table the README's Guarantees section shows."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from .scenarios import SCENARIOS

QUICK = {"worker_kill": dict(entries=120, every=3.0), "visibility": dict(entries=30),
         "redis_kill": dict(entries=120, every=3.0), "commit_then_fail": dict(entries=100),
         "flaky_target": dict(entries=100), "two_schedulers": dict(seconds=8)}
FULL = {"worker_kill": dict(entries=1000, every=3.0), "visibility": dict(entries=100),
        "redis_kill": dict(entries=500, every=4.0), "commit_then_fail": dict(entries=500),
        "flaky_target": dict(entries=500), "two_schedulers": dict(seconds=20)}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.faults")
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                    help=f"any of {', '.join(SCENARIOS)} (default: all)")
    ap.add_argument("--full", action="store_true", help="the sizes the README reports")
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                    help="a TCP Redis for the scenarios that do not run their own")
    ap.add_argument("--no-control", action="store_true", help="skip the control runs")
    args = ap.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario {sorted(unknown)[0]!r}; choose from {', '.join(SCENARIOS)}")
    sizes = FULL if args.full else QUICK
    print(f"# fault scenarios, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"{os.cpu_count()} cores, {'full' if args.full else 'quick'} size\n")
    print("| scenario | deliveries | faults injected | lost | dup | unknown | dead | seconds "
          "| control (protection off): lost / dup | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for name in args.scenarios or list(SCENARIOS):
        folder = Path(tempfile.mkdtemp(prefix=f"faults-{name}-"))
        r = SCENARIOS[name](folder, args.redis, **sizes[name])  # type: ignore[operator]
        c = None if args.no_control else SCENARIOS[name](folder / "control", args.redis,
                                                         control=True, **sizes[name])  # type: ignore[operator]
        failed |= not r.ok() or (c is not None and c.ok())
        ctl = "—" if c is None else f"{c.lost} / {c.dup}"
        print(f"| {r.scenario} | {r.deliveries} | {r.faults} | {r.lost} | {r.dup} | {r.unknown} "
              f"| {r.dead} | {r.seconds} | {ctl} | {r.notes} |", flush=True)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
