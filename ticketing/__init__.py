"""The one case record: models, lifecycle, deadlines, audit trail, services and REST API."""

from . import events  # noqa: F401,E402 - registers the payload schemas of the events this package emits
