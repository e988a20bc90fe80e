"""Open311 errors: each carries its HTTP status and one or more descriptions (the spec's format)."""
from __future__ import annotations


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str):
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = list(descriptions)


def bad_request(*descriptions: str) -> Open311Error:
    return Open311Error(400, *descriptions)
