"""OpenAPI path items of telephony's API (telephony/api.py), merged by hotline/openapi.py."""
from __future__ import annotations


def openapi_paths() -> dict:
    from hotline.openapi import ERROR, NSTR, STR, array, obj, response

    err, resp = ERROR, response

    call_id = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"}}
    leg = {"name": "leg", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "caller, operator, operator2, department, emergency, mixed..."}
    nstr, nnum = {"type": ["string", "null"]}, {"type": ["number", "null"]}
    recording = {"type": "object", "required": ["leg", "speaker", "label", "url"], "properties": {
        "leg": {"type": "string"}, "speaker": {"type": "string",
                                               "enum": ["caller", "operator", "department", "emergency", "mixed"]},
        "label": {"type": "string", "description": "市民 / 话务员 / 承办单位 / 应急联动单位 / 混音"},
        "extension": nstr, "seconds": nnum, "offset": {"type": "number", "description": "seconds after the answer"},
        "url": {"type": "string"}}}
    audio = {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}
    refused = {"401": response("not authenticated", ERROR),
               "403": response("a confidential caller's recordings are not given to departments", ERROR),
               "404": response("no such call or recording (or not visible)", ERROR)}
    call = obj(call_id=STR, direction=STR, caller=NSTR, called=NSTR, ringing_at=NSTR, answered_at=NSTR,
               ended_at=NSTR, duration={"type": ["number", "null"]}, hangup_cause=NSTR, codec=NSTR,
               ticket=NSTR, recording={"oneOf": [{"type": "null"}, obj(url=STR, seconds={"type": ["number", "null"]})]},
               recording_deleted_at=NSTR, transcription=obj(status=NSTR, note=NSTR),
               transcript=array(obj(start={"type": "number"}, end={"type": "number"}, text=STR, speaker=NSTR)),
               dtmf=array(obj(digit=STR, at={"type": "number"})))
    return {
        "/api/v1/calls/{call_id}/recordings": {"get": {
            "summary": "Every recording of a call: one per speaker (citizen, operator, department...) and "
                       "the mixed conversation; deleted ones (retention, erasure) listed apart",
            "parameters": [call_id],
            "responses": {"200": response("recordings", {"type": "object", "properties": {
                "call_id": {"type": "string"}, "items": {"type": "array", "items": recording},
                "deleted": {"type": "array", "items": {"type": "object", "properties": {
                    "leg": {"type": "string"}, "speaker": {"type": "string"}, "deleted_at": nstr}}}}}),
                **refused}}},
        "/api/v1/calls/{call_id}/recordings/{leg}": {"get": {
            "summary": "One recording of a call as WAV; supports Range requests",
            "parameters": [call_id, leg, {"name": "Range", "in": "header", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "audio", "content": audio},
                          "206": {"description": "part of the audio", "content": audio},
                          "416": {"description": "range not satisfiable"}, **refused}}},
        "/api/v1/calls/{call_id}": {"get": {
            "summary": "One stored call with its transcript (departments: calls of their tickets, number masked)",
            "parameters": [call_id],
            "responses": {"200": resp("call", call), "401": resp("not authenticated", err),
                          "404": resp("no such call (or not visible)", err)}}},
        "/api/v1/calls/{call_id}/recording": {"get": {
            "summary": "The call's recording as WAV; supports Range requests",
            "parameters": [call_id, {"name": "Range", "in": "header", "schema": STR}],
            "responses": {"200": {"description": "audio", "content": {"audio/wav": {"schema": {
                "type": "string", "format": "binary"}}}},
                "206": {"description": "part of the audio", "content": {"audio/wav": {"schema": {
                    "type": "string", "format": "binary"}}}},
                "401": resp("not authenticated", err), "404": resp("no recording (or not visible)", err),
                "416": {"description": "range not satisfiable"}}}},
        "/api/v1/tickets/{number}/calls": {"get": {
            "summary": "Calls linked to a ticket",
            "parameters": [{"name": "number", "in": "path", "required": True, "schema": STR}],
            "responses": {"200": resp("calls", obj(items=array(call))), "401": resp("not authenticated", err),
                          "404": resp("no such ticket (or not visible)", err)}}},
    }
