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


def openapi_paths() -> dict:
    """OpenAPI path items of knowledge/api.py, merged by hotline/openapi.py."""
    from hotline.openapi import ERROR as err, INT, NSTR, STR, BOOL, array, body, obj, response as resp

    article = obj(id=INT, title=STR, body=STR, tags=array(STR), department={"type": ["object", "null"]},
                  valid_from=NSTR, valid_to=NSTR, active=BOOL, created_by=NSTR, updated_by=NSTR,
                  updated_at=NSTR, version=INT)
    article_id = {"name": "article_id", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
    errors = {str(c): resp(t, err) for c, t in ((400, "invalid JSON"), (401, "not authenticated"),
                                                (403, "supervisors and admins edit"), (404, "not found"),
                                                (409, "changed by someone else (version)"), (422, "invalid"))}
    return {
        "/api/v1/knowledge": {
            "get": {"summary": "Search valid articles (editors: include_invalid=true)",
                    "parameters": [{"name": "q", "in": "query", "schema": STR},
                                   {"name": "include_invalid", "in": "query", "schema": BOOL}],
                    "responses": {"200": resp("hits", obj(query=STR, terms=array(STR), items=array(article))),
                                  "401": errors["401"]}},
            "post": {"summary": "Add an article (supervisor, admin)",
                     "requestBody": body(ArticleIn.model_json_schema()),
                     "responses": {"201": resp("created", article), **{c: errors[c] for c in ("400", "401", "403", "422")}}}},
        "/api/v1/knowledge/{article_id}": {
            "get": {"summary": "One article", "parameters": [article_id],
                    "responses": {"200": resp("article", article), "401": errors["401"], "404": errors["404"]}},
            "patch": {"summary": "Change an article (send version to detect concurrent edits)",
                      "parameters": [article_id], "requestBody": body(ArticlePatch.model_json_schema()),
                      "responses": {"200": resp("changed", article), **{c: errors[c] for c in (
                          "400", "401", "403", "404", "409", "422")}}}},
    }
