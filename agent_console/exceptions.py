"""Console errors reuse the case record's types so hotline.errors renders them as 4xx JSON."""
from ticketing.exceptions import Forbidden, NotFound, ValidationFailed

__all__ = ["Forbidden", "NotFound", "ValidationFailed"]
