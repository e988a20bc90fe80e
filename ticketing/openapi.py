"""Ticketing's part of the OpenAPI document: the ticket schemas (built from the pydantic models
that validate requests), the ticket, action, directory, SLA, calendar and access-record paths."""
from __future__ import annotations

from hotline.openapi import BOOL, NSTR, STR, array, body, errors, obj, response

from . import listing
from .lifecycle import ACTION_LABELS, ACTIONS, STATUSES
from .schemas import ACTION_SCHEMAS, CHANNELS, TicketIn


def openapi_schemas() -> dict:
    """Component schemas: TicketIn, one per action payload, Ticket."""
    schemas: dict = {}
    ticket_in = TicketIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(ticket_in.pop("$defs", {}))
    schemas["TicketIn"] = ticket_in
    for action, model in ACTION_SCHEMAS.items():
        s = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(s.pop("$defs", {}))
        schemas[model.__name__] = s
    schemas["Ticket"] = {"type": "object", "required": ["number", "status"], "properties": {
        "number": {"type": "string"}, "status": {"type": "string", "enum": list(STATUSES)},
        "type": {"type": "string"}, "deadlines": {"type": "object"},
        "deadline_state": {"type": "object", "description": "the deadline card now (ticketing.cards)",
                           "properties": {"card": {"type": "string", "enum": ["none", "yellow", "red"]},
                                          "kind": {"type": ["string", "null"], "enum": ["sign", "reply", None]},
                                          "due": {"type": ["string", "null"], "format": "date-time"},
                                          "warning_from": {"type": ["string", "null"], "format": "date-time"}}},
        "events": {"type": "array", "items": {"type": "object"}},
        "allowed_actions": {"type": "array", "items": {"type": "string"}}}}
    return schemas


def openapi_paths() -> dict:
    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}
    paths = {
        "/api/v1/tickets": {
            "post": {"summary": "Register a ticket (draft)",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/TicketIn"}}}},
                     "responses": {"201": response("created", {"$ref": "#/components/schemas/Ticket"}),
                                   **errors(400, 401, 403, 422)}},
            "get": {"summary": "List tickets visible to the caller, filtered, sorted and paged on the server",
                    "description": "A department sees only tickets it holds (main or co-unit). `q`: words that "
                                   "must all occur in the content or start the number (matched literally, "
                                   "% and _ are not wildcards). `phone_tail`: the caller's last 4 digits "
                                   "(departments: not on confidential tickets); `phone` (full number) is "
                                   "ignored for departments. `deadline`: the running deadline (sign-by while "
                                   "unsigned, else reply-by) is overdue, near (< 24 h), ok, or none. "
                                   "`sort=urgency`: running deadlines first, earliest first.",
                    "parameters": [
                {"name": n, "in": "query", "schema": sch} for n, sch in (
                    ("status", {"type": "string", "description": "comma-separated statuses"}),
                    ("type", {"type": "string"}), ("department", {"type": "string"}), ("town", {"type": "string"}),
                    ("channel", {"type": "string", "enum": list(CHANNELS)}),
                    ("from", {"type": "string"}), ("to", {"type": "string"}), ("overdue", {"type": "boolean"}),
                    ("deadline", {"type": "string", "enum": list(listing.DEADLINE_STATES)}),
                    ("q", {"type": "string", "maxLength": listing.Q_MAX}), ("phone", {"type": "string"}),
                    ("phone_tail", {"type": "string", "pattern": "^[0-9]{4}$"}),
                    ("sort", {"type": "string", "enum": list(listing.SORTS), "default": "-created"}),
                    ("page", {"type": "integer", "minimum": 1}),
                    ("per_page", {"type": "integer", "minimum": 1, "maximum": 200}))],
                "responses": {"200": response("page of tickets", {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}},
                    "total": {"type": "integer"}, "page": {"type": "integer"},
                    "per_page": {"type": "integer"}}}), **errors(401, 422)}}},
        "/api/v1/tickets/{number}": {"get": {
            "summary": "One ticket with its full history, oldest first", "parameters": [number],
            "responses": {"200": response("ticket", {"$ref": "#/components/schemas/Ticket"}), **errors(401, 404)}}},
        "/api/v1/privacy/access-records": {"get": {
            "summary": "Who saw a caller's unmasked number / ID or played a recording (admins; PIPL art. 51)",
            "parameters": [{"name": n, "in": "query", "schema": {"type": t}} for n, t in (
                ("ticket", "string"), ("actor", "string"), ("from", "string"), ("to", "string"),
                ("page", "integer"), ("per_page", "integer"))] + [
                {"name": "kind", "in": "query",
                 "schema": {"type": "string", "enum": ["phone", "id_number", "recording", "transcript"]}}],
            "responses": {"200": response("page of access records, newest first", {
                "type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
                    "items": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                        "actor": {"type": "string"}, "actor_role": {"type": "string"},
                        "kind": {"type": "string"}, "kind_label": {"type": "string"},
                        "ticket": {"type": ["string", "null"]}, "call_id": {"type": ["string", "null"]},
                        "via": {"type": "string"}}}},
                    "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}}),
                **errors(401, 403, 422)}}},
    }
    paths.update(_directory_paths())
    paths["/api/v1/tickets/{number}/contact"] = {"post": {
        "summary": "联系诉求人: the hotline rings the clerk's extension, then the citizen, and bridges them",
        "description": "Departments holding the ticket only (403 otherwise, also for an unknown number). "
                       "409: ticket finished, citizen asked for confidentiality, no number on the ticket, "
                       "no extension configured for the clerk, a contact still running, or the daily "
                       "limit per ticket (HOTLINE_CONTACT_DAILY_LIMIT) reached. The answer never holds the "
                       "citizen's number; progress arrives as `contact.progress` frames, the outcome in "
                       "the ticket's history (`contact_citizen`).",
        "parameters": [number],
        "responses": {"202": response("the request was handed to the SIP process", {
            "type": "object", "required": ["contact_id", "number", "status", "extension"], "properties": {
                "contact_id": {"type": "integer"}, "number": {"type": "string"},
                "status": {"type": "string", "enum": ["requested"]}, "extension": {"type": "string"},
                "used_today": {"type": "integer"}, "daily_limit": {"type": "integer"}}}),
            **errors(401, 403, 409)}}}
    for action in ACTIONS:
        model = ACTION_SCHEMAS[action]
        paths[f"/api/v1/tickets/{{number}}/actions/{action}"] = {"post": {
            "summary": f"{action} ({ACTION_LABELS[action]})", "parameters": [number],
            "requestBody": {"content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}},
            "responses": {"200": response("updated ticket", {"$ref": "#/components/schemas/Ticket"}),
                          **errors(400, 401, 403, 404, 409, 422)}}}
    return paths


def _directory_paths() -> dict:
    """Directory, callers, deadlines policy and calendar (ticketing/api.py)."""
    dept = obj(code=STR, name=STR, kind={"enum": ["county", "town"]}, active=BOOL)
    code = {"name": "code", "in": "path", "required": True, "schema": STR}
    ticket = {"$ref": "#/components/schemas/Ticket"}
    policy_row = {"type": "object", "required": ["type", "urgency"], "properties": {
        "type": STR, "urgency": {"enum": ["normal", "urgent"]},
        "sign_amount": {"type": "integer", "minimum": 1, "maximum": 365}, "sign_unit": {"enum": ["workdays", "hours"]},
        "reply_amount": {"type": "integer", "minimum": 1, "maximum": 365}, "reply_unit": {"enum": ["workdays", "hours"]}}}
    return {
        "/api/v1/callers/{phone}/tickets": {"get": {
            "summary": "A caller's earlier tickets, newest first (desk staff)",
            "parameters": [{"name": "phone", "in": "path", "required": True, "schema": STR},
                           {"name": "exclude", "in": "query", "schema": STR}],
            "responses": {"200": response("tickets", obj(items=array(ticket))), **errors(401, 403)}}},
        "/api/v1/departments": {
            "get": {"summary": "Units that receive tickets (admins: include_retired=true)",
                    "parameters": [{"name": "include_retired", "in": "query", "schema": BOOL}],
                    "responses": {"200": response("list", array(dept)), **errors(401)}},
            "post": {"summary": "Add a unit (admin)",
                     "requestBody": body({"type": "object", "required": ["code", "name"], "properties": {
                         "code": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,39}$"},
                         "name": {"type": "string", "minLength": 1, "maxLength": 100},
                         "kind": {"enum": ["county", "town"]}}}),
                     "responses": {"201": response("created", dept), **errors(400, 401, 403, 409, 422)}}},
        "/api/v1/departments/{code}": {"patch": {
            "summary": "Rename, retire or reactivate a unit (admin)", "parameters": [code],
            "requestBody": body({"type": "object", "additionalProperties": False, "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 100}, "active": BOOL}}),
            "responses": {"200": response("changed", dept), **errors(400, 401, 403, 404, 422)}}},
        "/api/v1/departments/{code}/history": {"get": {
            "summary": "A unit's changes, oldest first (supervisor, admin)", "parameters": [code],
            "responses": {"200": response("changes", array(obj(change=STR, old=NSTR, new=NSTR, actor=STR, at=STR))),
                          **errors(401, 403, 404)}}},
        "/api/v1/towns": {
            "get": {"summary": "Towns and sub-districts", "responses": {
                "200": response("list", array(obj(code=STR, name=STR))), **errors(401)}},
            "post": {"summary": "Add a town with its government unit (admin)",
                     "requestBody": body({"type": "object", "required": ["code", "name"], "properties": {
                         "code": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,33}$"},
                         "name": {"type": "string", "minLength": 1, "maxLength": 95}}}),
                     "responses": {"201": response("created", obj(code=STR, name=STR)),
                                   **errors(400, 401, 403, 409, 422)}}},
        "/api/v1/sla/policy": {
            "get": {"summary": "Deadline policy: type x urgency -> sign-by and reply-by (supervisor, admin)",
                    "responses": {"200": response("rows", array(policy_row)), **errors(401, 403)}},
            "put": {"summary": "Replace policy rows (admin)", "requestBody": body(array(policy_row)),
                    "responses": {"200": response("rows", array(policy_row)), **errors(400, 401, 403, 422)}}},
        "/api/v1/calendar": {"get": {
            "summary": "Which years' working calendars are entered (supervisor, admin)",
            "responses": {"200": response("status", obj(years=array(), warnings=array(STR),
                                                         tickets_with_estimated_deadlines=BOOL)),
                          **errors(401, 403)}}},
        "/api/v1/calendar/{year}": {"put": {
            "summary": "Enter a year's official holidays and make-up workdays (admin)",
            "parameters": [{"name": "year", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 2000, "maximum": 2100}}],
            "requestBody": body(obj(holidays=array({"type": "string", "format": "date"}),
                                    workdays=array({"type": "string", "format": "date"}))),
            "responses": {"200": response("the year's calendar", {"type": "object"}),
                          **errors(400, 401, 403, 422)}}},
    }
