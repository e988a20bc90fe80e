"""Routing reuses the case record's error classes so the API reports them uniformly."""
from hotline.exceptions import Conflict, Forbidden, NotFound, ValidationFailed  # noqa: F401
