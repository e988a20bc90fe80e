"""Web consoles for staff: operator workspace, department workbench, supervisor views."""

from . import events  # noqa: F401,E402 - registers the payload schemas of the events this package emits
