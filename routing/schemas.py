"""Input validation for routing (pydantic)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ticketing.schemas import parse  # noqa: F401  (re-exported: one place that maps errors to 422)

from .emergency import NUMBERS as EMERGENCY_NUMBERS


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


def openapi_paths() -> dict:
    """OpenAPI path items of the routing API, for hotline/openapi.py to merge into its document."""
    from hotline.openapi import ERROR as err, response as resp

    dept = {"type": "object", "required": ["code", "name", "score", "evidence"], "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "score": {"type": "number"},
        "co_units": {"type": "array", "items": {"type": "string"}},
        "evidence": {"type": "array", "items": {"type": "object", "properties": {
            "phrase": {"type": "string"}, "source": {"enum": ["catalogue", "model", "town", "emergency"]},
            "matter": {"type": "string"}, "heard_as": {"type": "string"}, "role": {"const": "co"}}}}}}
    suggestion = {"type": "object", "required": ["departments", "type", "urgent", "emergency"], "properties": {
        "departments": {"type": "array", "maxItems": 3, "items": dept},
        "type": {"enum": ["咨询", "求助", "投诉", "举报", "建议", "表扬", "申请"]},
        "urgent": {"type": "boolean"},
        "emergency": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "number": {"enum": list(EMERGENCY_NUMBERS)},
            "category": {"enum": ["fire", "gas", "rescue", "crime", "traffic", "injury"]},
            "evidence": {"type": "array", "items": {"type": "string"}},
            "also": {"type": "array", "items": {"type": "string"}}}}]},
        "town": {"type": ["string", "null"]}, "model": {"type": ["integer", "null"]}}}
    entry = EntryIn.model_json_schema()
    entry_id = {"name": "entry_id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
    return {
        "/api/v1/routing/suggest": {"post": {
            "summary": "Suggest departments, type, urgency and emergency for a citizen's text",
            "requestBody": {"required": True, "content": {"application/json": {"schema": SuggestIn.model_json_schema()}}},
            "responses": {"200": resp("suggestion", suggestion), "400": resp("invalid JSON", err),
                          "403": resp("operator, supervisor or admin only", err),
                          "422": resp("empty or too long text", err)}}},
        "/api/v1/routing/catalogue": {
            "get": {"summary": "The dispatch catalogue (format=yaml|csv for an export)",
                    "responses": {"200": {"description": "entries and version", "content": {
                        "application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}},
                        "application/yaml": {"schema": {"type": "string"}}}}}},
            "post": {"summary": "Add a matter (admin)", "requestBody": {"content": {"application/json": {"schema": entry}}},
                     "responses": {"201": resp("created", {"type": "object"}), "409": resp("duplicate matter", err),
                                   "422": resp("invalid", err)}}},
        "/api/v1/routing/catalogue/{entry_id}": {
            "patch": {"summary": "Change a matter (admin)", "parameters": [entry_id],
                      "requestBody": {"content": {"application/json": {"schema": EntryPatch.model_json_schema()}}},
                      "responses": {"200": resp("changed", {"type": "object"}), "404": resp("not found", err),
                                    "422": resp("invalid", err)}},
            "delete": {"summary": "Delete a matter (admin)", "parameters": [entry_id],
                       "responses": {"204": resp("deleted"), "404": resp("not found", err)}}},
        "/api/v1/routing/catalogue/history": {"get": {"summary": "Catalogue versions: actor, time, before/after",
                                                      "responses": {"200": resp("changes, newest first", {"type": "array", "items": {"type": "object"}})}}},
        "/api/v1/routing/model": {"get": {"summary": "Trained model status", "responses": {"200": resp("status", {"type": "object"})}}},
        "/api/v1/routing/model/retrain": {"post": {"summary": "Queue retraining (admin)",
                                                   "responses": {"202": resp("queued", {"type": "object", "properties": {"queued": {"const": True}}})}}},
        "/api/v1/tickets/{number}/duplicates": {"get": {
            "summary": "Merge candidates (same caller, or same place and similar text, within the window)",
            "parameters": [{"name": "window_hours", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": resp("candidates with scores", {"type": "object", "properties": {
                "number": {"type": "string"}, "window_hours": {"type": "integer"},
                "candidates": {"type": "array", "items": {"type": "object"}}}}), "404": resp("not found", err)}}},
    }
