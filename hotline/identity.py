"""Who acts: the staff roles and the Actor value every package passes to services.

Roles and Actor are plain values in the core so that ticketing (and every other package) depends on
them without depending on the user model, sessions or tokens (hotline/auth.py).
"""
from __future__ import annotations

from dataclasses import dataclass

OPERATOR, DEPARTMENT, SUPERVISOR, ADMIN = "operator", "department", "supervisor", "admin"
ROLES = (OPERATOR, DEPARTMENT, SUPERVISOR, ADMIN)


@dataclass(frozen=True)
class Actor:
    """Who acts: a plain value so services never depend on the auth model."""

    username: str
    role: str
    department_id: int | None = None

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(username=name, role=ADMIN)
