"""The OpenAPI 3.1 document, built from the same pydantic schemas that validate requests."""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, current_app, jsonify


bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}


def response(desc: str, schema=None) -> dict:
    """An OpenAPI response object (JSON body when `schema` is given); packages use it too."""
    out = {"description": desc}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def errors(*codes: int) -> dict:
    """The standard error responses for these status codes (packages use it too)."""
    text = {400: "bad request / invalid JSON", 401: "not authenticated", 403: "role not allowed",
            404: "not found", 409: "illegal action or concurrent change", 422: "validation failed",
            429: "too many failed logins: this username or address is locked for a while"}
    return {str(c): response(text[c], ERROR) for c in codes}


def register_paths(app, *providers: Callable[[], dict]) -> None:
    """Packages' ``openapi_paths`` functions whose path items join this app's document."""
    app.extensions.setdefault("hotline.openapi_paths", []).extend(providers)
    app.extensions.pop("hotline.openapi_document", None)


def register_schemas(app, *providers: Callable[[], dict]) -> None:
    """Packages' functions returning component schemas (name -> schema) for this app's document."""
    app.extensions.setdefault("hotline.openapi_schemas", []).extend(providers)
    app.extensions.pop("hotline.openapi_document", None)


def document() -> dict:
    """The document of the current app (built once per app)."""
    cached = current_app.extensions.get("hotline.openapi_document")
    if cached is None:
        cached = current_app.extensions["hotline.openapi_document"] = _build(
            current_app.extensions.get("hotline.openapi_paths", ()),
            current_app.extensions.get("hotline.openapi_schemas", ()))
    return cached


def _build(providers, schema_providers) -> dict:
    schemas: dict = {}
    for provider in schema_providers:
        schemas.update(provider())
    schemas["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "fields"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                       "allowed_actions": {"type": "array", "items": {"type": "string"}}}}}}
    paths = {
        "/api/v1/auth/token": {"post": {
            "summary": "Exchange username and password for a bearer token", "security": [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["username", "password"],
                "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}},
            "responses": {"200": response("token", {"type": "object", "properties": {
                "token": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}}}),
                **errors(400, 401, 422, 429)}}},
        "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                         "responses": {"200": response("OpenAPI 3.1 document", {"type": "object"})}}},
    }
    for provider in providers:  # merged per method: two providers may document one path
        for path, item in provider().items():
            paths.setdefault(path, {}).update(item)
    _declare_path_parameters(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 Hotline API", "version": "1"},
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }


def obj(**props) -> dict:
    """A JSON object schema with these properties (packages use it for their responses)."""
    return {"type": "object", "properties": props}


def array(items: dict | None = None) -> dict:
    return {"type": "array", "items": items or {"type": "object"}}


def body(schema: dict, required: bool = True) -> dict:
    """An OpenAPI requestBody with a JSON schema."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NSTR = {"type": ["string", "null"]}


def _declare_path_parameters(paths: dict) -> None:
    """Every ``{name}`` in a path is a required parameter; string unless an operation says otherwise."""
    import re

    for path, item in paths.items():
        names = re.findall(r"{([^}]+)}", path)
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
            op.setdefault("parameters", [])
            for name in names:
                if name not in declared:
                    op["parameters"].append({"name": name, "in": "path", "required": True, "schema": STR})


@bp.get("/api/v1/openapi.json")
def openapi_json():
    return jsonify(document())
