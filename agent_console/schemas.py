"""OpenAPI path items of the console's call endpoints (issue 7), merged by hotline/openapi.py."""
from __future__ import annotations

from routing.emergency import NUMBERS as EMERGENCY_NUMBERS

from .call_service import COMMANDS


def openapi_paths() -> dict:
    from hotline.openapi import ERROR as err, response as resp

    call_id = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"}}
    callback = {"type": "object", "properties": {
        "call_id": {"type": "string"}, "caller": {"type": "string"}, "caller_phone": {"type": ["string", "null"]},
        "ringing_at": {"type": "string"}, "outcome": {"enum": ["abandoned", "missed"]},
        "outcome_label": {"type": "string"}, "wait_seconds": {"type": ["number", "null"]},
        "callback_at": {"type": ["string", "null"]},
        "callback_by": {"type": ["string", "null"]}}}
    return {**_console_paths(), **{
        "/api/v1/calls/{call_id}/commands/{command}": {"post": {
            "summary": "A command on the operator's own live call, executed by the SIP process "
                       "(result arrives as the call.command_result event)",
            "parameters": [call_id, {"name": "command", "in": "path", "required": True,
                                     "schema": {"enum": list(COMMANDS)}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                "target": {"type": "string", "description": "extension for transfer/consult/conference; "
                                                            f"{'/'.join(EMERGENCY_NUMBERS)} for emergency"}}}}}},
            "responses": {"202": resp("sent", {"type": "object", "properties": {
                "command_id": {"type": "string"}, "command": {"type": "string"}, "status": {"const": "sent"}}}),
                "403": resp("not the operator on this call", err), "404": resp("no such live call or command", err),
                "409": resp("call not connected to an operator yet", err), "422": resp("target missing", err)}}},
        "/api/v1/console/register": {"post": {
            "summary": "The operator's ticket form in one transaction: the ticket (with call_id: the "
                       "call's draft made at hang-up is adopted instead of a second ticket) and its next step",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"allOf": [
                {"$ref": "#/components/schemas/TicketIn"},
                {"type": "object", "properties": {
                    "call_id": {"type": "string", "maxLength": 32},
                    "then": {"type": "object", "required": ["action"], "properties": {"action": {
                        "type": "string", "enum": ["dispatch", "answer_directly", "merge", "invalidate"]}},
                        "description": "the action's own fields beside action"}}}]}}}},
            "responses": {"201": resp("created", {"$ref": "#/components/schemas/Ticket"}),
                          "200": resp("the call's draft adopted", {"$ref": "#/components/schemas/Ticket"}),
                          "403": resp("desk staff only", err), "409": resp("the call's ticket is already registered", err),
                          "422": resp("invalid ticket or step", err)}}},
        "/api/v1/console/transfer-directory": {"get": {
            "summary": "Department phones and emergency numbers an operator can transfer to",
            "responses": {"200": resp("directory", {"type": "object"}), "403": resp("desk staff only", err)}}},
        "/api/v1/console/callbacks": {"get": {
            "summary": "Abandoned and missed calls to call back, with their waiting time",
            "parameters": [{"name": "done", "in": "query", "schema": {"type": "boolean"}}],
            "responses": {"200": resp("list", {"type": "object", "properties": {
                "items": {"type": "array", "items": callback}}}), "403": resp("desk staff only", err)}}},
        "/api/v1/console/callbacks/{call_id}": {"post": {
            "summary": "Mark an abandoned or missed call as called back",
            "parameters": [call_id],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                "note": {"type": "string", "maxLength": 300}}}}}},
            "responses": {"200": resp("marked", callback), "404": resp("not on the list", err),
                          "409": resp("already called back", err)}}},
        "/api/v1/console/call-kpis": {"get": {
            "summary": "Today's call KPIs (the figures of /api/v1/kpis for today): 接通率, share answered "
                       "within HOTLINE_ANSWER_TARGET_SECONDS, average wait and talk, abandoned",
            "responses": {"200": resp("kpis", {"type": "object", "properties": {
                **{k: {"type": ["number", "null"]} for k in ("answer_rate", "answer_15s_rate", "avg_wait", "avg_talk")},
                **{k: {"type": "number"} for k in ("offered", "answered", "answered_15s", "abandoned",
                                                   "answer_target_seconds")},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}),
                "403": resp("supervisors only", err)}}},
    }}


def _console_paths() -> dict:
    """Presence, live calls, supervisor lists and reply attachments (agent_console/views.py)."""
    from hotline.openapi import ERROR as err, INT, NSTR, STR, array, body, obj, response as resp

    from routing.calls.models import SETTABLE, STATES

    e = {c: resp(t, err) for c, t in (("400", "invalid JSON"), ("401", "not authenticated"),
                                      ("403", "role not allowed"), ("404", "not found"), ("422", "invalid"))}

    def errs(*codes):
        return {str(c): e[str(c)] for c in codes}

    state = obj(state={"enum": list(STATES)}, label=STR, since=NSTR, reason=NSTR)
    attachment = obj(id={"type": "string", "pattern": "^[0-9a-f]{32}$"}, name=STR, size=INT, type=STR)
    items = resp("list", obj(items=array()))
    paging = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
              {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                              "default": 50}}]
    paged_tickets = obj(items=array({"$ref": "#/components/schemas/Ticket"}), total={"type": "integer"},
                        page={"type": "integer"}, per_page={"type": "integer"})
    return {
        "/api/v1/console/state": {
            "get": {"summary": "The operator's presence state", "responses": {"200": resp("state", state),
                                                                            **errs(401, 403)}},
            "post": {"summary": "Set presence (示闲, 示忙, 小休 ...); publishes agent.state",
                     "requestBody": body({"type": "object", "required": ["state"], "properties": {
                         "state": {"enum": list(SETTABLE)}}}),
                     "responses": {"200": resp("state", state), **errs(400, 401, 403, 422)}}},
        "/api/v1/console/calls": {"get": {"summary": "Live calls the user may see (operators: their own)",
                                          "responses": {"200": items, **errs(401, 403)}}},
        "/api/v1/console/calls/link": {"post": {
            "summary": "Link a live or stored call to a ticket (adds a call_linked event with the transcript)",
            "requestBody": body({"type": "object", "required": ["call_id", "number"], "properties": {
                "call_id": {"type": "string", "maxLength": 64}, "number": {"type": "string", "maxLength": 20}}}),
            "responses": {"200": resp("linked", {"type": "object"}), **errs(400, 401, 403, 404, 422)}}},
        "/api/v1/console/wallboard": {"get": {"summary": "Calls waiting/talking, presence, today's tickets",
                                              "responses": {"200": resp("wallboard", {"type": "object"}),
                                                            **errs(401, 403)}}},
        "/api/v1/console/deadlines": {"get": {
            "summary": "Tickets near or past their deadline (supervisor, admin)",
            "parameters": [{"name": "near_hours", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 720}}],
            "responses": {"200": resp("lists", {"type": "object"}), **errs(401, 403, 422)}}},
        "/api/v1/console/extensions": {"get": {
            "summary": "延期审批: tickets with an extension request waiting for a decision, oldest request first, paged",
            "parameters": paging,
            "responses": {"200": resp("one page and the total", paged_tickets), **errs(401, 403, 422)}}},
        "/api/v1/console/my-tickets": {"get": {
            "summary": "Tickets the user registered or acted on, filtered, sorted and paged on the server",
            "parameters": [{"name": "q", "in": "query", "schema": STR,
                            "description": "words of the content or a number prefix; a full mobile number: the caller's"},
                           {"name": "phone_tail", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{4}$"}},
                           {"name": "status", "in": "query", "schema": STR},
                           {"name": "type", "in": "query", "schema": STR},
                           {"name": "deadline", "in": "query", "schema": {"enum": ["overdue", "near", "ok", "none"]}},
                           {"name": "sort", "in": "query", "schema": STR}] + paging,
            "responses": {"200": resp("one page and the total", paged_tickets), **errs(401, 403, 422)}}},
        "/api/v1/console/attachments": {"post": {
            "summary": "Upload a reply attachment (images, PDF, text, Word, Excel; at most 1.5 MB)",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"201": resp("stored", attachment), **errs(400, 401, 422)}}},
        "/api/v1/console/attachments/{att_id}": {"get": {
            "summary": "Download an attachment (departments: their unit's uploads only)",
            "parameters": [{"name": "att_id", "in": "path", "required": True, "schema": STR}],
            "responses": {"200": {"description": "the file", "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}, **errs(401, 404)}}},
    }
