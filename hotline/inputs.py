"""Request hygiene shared by every route: limits no schema can express, checked before any view runs.

- NUL characters: PostgreSQL cannot store or even compare them, so a NUL in a query parameter, form
  field, path segment or JSON string would reach the database as an error (500). Refused as 400.
- JSON nesting: the standard parser recurses per level and raises RecursionError near 1,000 levels;
  the body is scanned (without parsing) and refused above ``MAX_JSON_DEPTH``.
- Numbers in JSON: integers must fit the database's 32-bit integer columns and floats must be finite;
  larger ids would otherwise fail inside the database (NumericValueOutOfRange).
- Integer path segments (``<int:...>``) are bounded the same way, so an id like
  99999999999999999999 is simply a resource that does not exist (404).

Every refusal is ``{"error": {"code": "invalid_input", "message", "fields"}}`` naming the field.
"""
from __future__ import annotations

import math
import re

from flask import request
from werkzeug.routing import IntegerConverter

from hotline.exceptions import TicketingError

MAX_JSON_DEPTH = 32
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


class InvalidInput(TicketingError):
    status, code = 400, "invalid_input"


class BoundedInt(IntegerConverter):
    """``<int:...>`` limited to the database's integer range (beyond it: no such resource)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


def json_depth(raw: bytes) -> int:
    """Deepest nesting of a JSON text, without parsing it (strings may hold brackets)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return 0 if not raw.strip() else 1  # cannot be deeper than the limit: skip the scan
    depth = deepest = 0
    for ch in _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw)):
        if ch in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def json_problems(value, path: str = "", out: dict | None = None) -> dict:
    """Field path -> what is wrong, for NUL characters and numbers the database cannot hold."""
    out = {} if out is None else out
    if isinstance(value, str):
        if "\x00" in value:
            out.setdefault(path, "must not contain NUL characters")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            out.setdefault(path, f"integer out of range ({INT_MIN}..{INT_MAX})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            out.setdefault(path, "must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                out.setdefault(sub.replace("\x00", "\\0"), "must not contain NUL characters")
            else:
                json_problems(item, sub, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            json_problems(item, f"{path}.{i}" if path else str(i), out)
    return out


def _nul_fields(pairs, prefix: str = "") -> dict:
    return {(prefix + k).replace("\x00", "\\0"): "must not contain NUL characters"
            for k, v in pairs if "\x00" in k or (isinstance(v, str) and "\x00" in v)}


def guard_request() -> None:
    """before_request hook: refuse NUL characters, deep JSON and out-of-range numbers (400)."""
    fields = _nul_fields(request.args.items(multi=True))
    fields.update(_nul_fields((request.view_args or {}).items()))
    if "\x00" in request.path:
        fields["path"] = "must not contain NUL characters"
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields.update(_nul_fields(request.form.items(multi=True)))
        fields.update(_nul_fields(((k, f.filename or "") for k, f in request.files.items(multi=True)),
                                  "filename of "))
    if fields:
        raise InvalidInput("invalid characters: " + ", ".join(sorted(fields)), fields)
    if request.is_json and request.content_length != 0:
        raw = request.get_data(cache=True)
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise InvalidInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
                               {"": f"at most {MAX_JSON_DEPTH} levels of nesting"})
        body = request.get_json(silent=True)  # invalid JSON is the view's business (400 invalid_json)
        problems = json_problems(body) if body is not None else {}
        if problems:
            raise InvalidInput("invalid input: " + ", ".join(sorted(problems)), problems)


def install(app) -> None:
    """Call before blueprints are registered (the converter applies to rules added afterwards)."""
    app.url_map.converters["int"] = BoundedInt
    app.before_request(guard_request)
