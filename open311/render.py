"""JSON and XML bodies in GeoReport v2's shapes; XML through ElementTree, which escapes text."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from flask import Response

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _element(tag: str, value) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_element(k, v))
    elif isinstance(value, list):
        child = tag[:-1] if tag.endswith("s") else "item"
        for item in value:
            el.append(_element(child, item))
    else:
        el.text = _value(value)
    return el


def to_xml(root: str, item: str | None, body) -> bytes:
    """``root`` holding one ``item`` element per entry of a list, or the dict's fields."""
    top = ET.Element(root)
    if isinstance(body, list):
        for entry in body:
            top.append(_element(item, entry))
    else:
        for k, v in body.items():
            top.append(_element(k, v))
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def respond(fmt: str, body, root: str, item: str | None = None, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(root, item, body), status=status, content_type=XML_TYPE)
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type=JSON_TYPE)


def errors(fmt: str, status: int, descriptions: list[str]) -> Response:
    body = [{"code": status, "description": d} for d in descriptions]
    return respond(fmt, body, "errors", "error", status)
