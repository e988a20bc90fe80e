"""Input validation for routing (pydantic)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ticketing.schemas import parse  # noqa: F401  (re-exported: one place that maps errors to 422)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SuggestIn(Strict):
    text: str = Field(min_length=1)
    town: str | None = Field(default=None, max_length=40)


class EntryIn(Strict):
    unit: str = Field(min_length=2, max_length=40)
    matter: str = Field(min_length=1, max_length=100)
    keywords: list[str] = Field(default_factory=list, max_length=300)
    co_units: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v):
        out = []
        for k in v:
            k = k.strip()
            if not k:
                continue
            if len(k) > 40:
                raise ValueError(f"keyword {k[:20]!r}... longer than 40 characters")
            if k not in out:
                out.append(k)
        return out


class EntryPatch(Strict):
    unit: str | None = Field(default=None, min_length=2, max_length=40)
    matter: str | None = Field(default=None, min_length=1, max_length=100)
    keywords: list[str] | None = Field(default=None, max_length=300)
    co_units: list[str] | None = Field(default=None, max_length=10)
