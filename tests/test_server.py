"""Serving's process settings."""

from __future__ import annotations

import gc

from bot.server import YOUNG_COLLECTION, settle_collector


def test_a_serving_process_freezes_what_it_built_and_collects_young_objects_less_often() -> None:
    """Once started, the objects built so far leave the collector's sight and the youngest
    generation is collected every `YOUNG_COLLECTION` new objects; the older ones keep theirs."""
    before = gc.get_threshold()
    gc.unfreeze()
    try:
        settle_collector()
        assert gc.get_threshold() == (YOUNG_COLLECTION, before[1], before[2])
        assert before[0] < YOUNG_COLLECTION
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
