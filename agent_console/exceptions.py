"""Console errors reuse the case record's types so hotline.errors renders them as 4xx JSON."""
from hotline.exceptions import Conflict, Forbidden, NotFound, ValidationFailed

__all__ = ["Conflict", "Forbidden", "NotFound", "ValidationFailed"]
