"""Supervision of response timeliness: deadline cards, 督办, callbacks, KPIs and their rollups."""
