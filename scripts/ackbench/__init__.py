"""Pieces of `scripts/bench_ack.py`: the apps it compares the bot with, and the bot's peers."""
