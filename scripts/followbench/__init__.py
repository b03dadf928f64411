"""Pieces of `scripts/bench_follow.py`: scenario, bots, replies, measurements, report."""
