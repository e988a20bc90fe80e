"""Input validation and output shape of knowledge articles."""
from __future__ import annotations

from datetime import date

from pydantic import Field, field_validator, model_validator

from hotline.clock import iso
from ticketing.schemas import Strict


def clean_tags(tags: list[str]) -> list[str]:
    out = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > 30:
            raise ValueError("each tag must be 1-30 characters")
        if tag not in out:
            out.append(tag)
    return out


class ArticleIn(Strict):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20000)
    tags: list[str] = Field(default_factory=list, max_length=20)
    department: str | None = Field(default=None, max_length=40)
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True

    @field_validator("tags")
    @classmethod
    def _tags(cls, v):
        return clean_tags(v)

    @model_validator(mode="after")
    def _window(self):
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self


class ArticlePatch(ArticleIn):
    """Every field optional; ``None`` for department/dates clears them only when sent explicitly."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=20000)
    tags: list[str] | None = Field(default=None, max_length=20)
    active: bool | None = None
    version: int | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v):
        return None if v is None else clean_tags(v)


def article_view(article, *, with_body: bool = True) -> dict:
    out = {
        "id": article.id, "title": article.title, "tags": article.tags or [],
        "department": None if article.department is None else
        {"code": article.department.code, "name": article.department.name},
        "valid_from": article.valid_from.isoformat() if article.valid_from else None,
        "valid_to": article.valid_to.isoformat() if article.valid_to else None,
        "active": article.active, "created_by": article.created_by, "updated_by": article.updated_by,
        "updated_at": iso(article.updated_at), "version": article.version,
    }
    if with_body:
        out["body"] = article.body
    return out
