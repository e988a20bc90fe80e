"""The OpenAPI document lists every registered API operation with its request and response schema."""
from __future__ import annotations

import re


METHODS = {"get", "post", "put", "patch", "delete"}


def api_operations(app) -> list[tuple[str, str, str]]:
    """(METHOD, path template in OpenAPI form, endpoint) of every Flask rule under /api/."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods & {m.upper() for m in METHODS}):
            out.append((method, template, rule.endpoint))
    return sorted(out)


def documented(doc: dict, method: str, template: str) -> list[tuple[str, dict]]:
    """Document operations serving this rule: the same path, or the rule's placeholders spelled out
    (``/tickets/{number}/actions/{action}`` is documented once per action, each with its own body)."""
    want = template.split("/")

    def serves(have: list[str]) -> bool:
        return len(have) == len(want) and all(
            w == h or (w.startswith("{") and not h.startswith("{")) for w, h in zip(want, have))

    return [(path, item[method.lower()]) for path, item in doc["paths"].items()
            if method.lower() in item and serves(path.split("/"))]


def test_every_api_route_is_documented(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    missing = [f"{m} {t} ({e})" for m, t, e in api_operations(app) if not documented(doc, m, t)]
    assert not missing, "API routes missing from hotline/openapi.py or their package's openapi_paths():\n" + \
        "\n".join(missing)
    ops = [(m, t) for m, t, _ in api_operations(app)]
    assert len(ops) >= 63


def test_every_operation_has_request_and_response_schemas(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    problems = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            ok = [(code, r) for code, r in op["responses"].items() if code.startswith("2")]
            if not ok:
                problems.append(f"{where}: no 2xx response")
            for code, r in ok:
                if code != "204" and not any("schema" in c for c in r.get("content", {}).values()):
                    problems.append(f"{where}: {code} without a response schema")
            if method in ("put", "patch") and "requestBody" not in op:
                problems.append(f"{where}: no requestBody")
            for name in re.findall(r"{([^}]+)}", path):
                if not any(p["in"] == "path" and p["name"] == name for p in op.get("parameters", [])):
                    problems.append(f"{where}: path parameter {name} not declared")
    assert not problems, "\n".join(problems)


def test_a_route_missing_from_the_document_is_caught(app, client):
    """The coverage check itself: a route added without a path item is reported."""
    from flask import Blueprint

    bp = Blueprint("undocumented_probe", __name__)
    bp.add_url_rule("/api/v1/undocumented/<int:thing>", "probe", lambda thing: "", methods=["POST"])
    app.register_blueprint(bp)
    doc = client.get("/api/v1/openapi.json").get_json()
    missing = [(m, t) for m, t, _ in api_operations(app) if not documented(doc, m, t)]
    assert missing == [("POST", "/api/v1/undocumented/{thing}")]
