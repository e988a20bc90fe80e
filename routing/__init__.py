"""Where work goes: the dispatch catalogue, the text classifier and the duplicate finder."""

from . import events  # noqa: F401,E402 - registers the payload schemas of the events this package emits
