"""The knowledge base raises the case record's error types so the API maps them to 4xx JSON."""
from hotline.exceptions import NotFound, ValidationFailed

__all__ = ["NotFound", "ValidationFailed"]
