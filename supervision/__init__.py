"""Supervision of response timeliness: deadline cards, 督办, callbacks, KPIs and their rollups."""

from . import events  # noqa: F401,E402 - registers the payload schemas of the events this package emits
