"""The fault suite: real workers, a real Redis and loopback targets under injected faults.

`python -m bench.faults` runs every scenario at full size and prints the figures; the test suite
runs the same scenarios at a size that fits CI (`tests/test_faults.py`).
"""
