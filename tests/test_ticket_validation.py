"""Bad input gets 400/422 with per-field messages and stores nothing."""
from __future__ import annotations

import pytest

from .conftest import both_databases
from .ticket_helpers import COMPLAINT


def count(op):
    return op.get("/api/v1/tickets").get_json()["total"]


@both_databases
@pytest.mark.parametrize("body,status,fields", [
    ({**COMPLAINT, "content": ""}, 422, {"content"}),
    ({k: v for k, v in COMPLAINT.items() if k != "content"}, 422, {"content"}),
    ({k: v for k, v in COMPLAINT.items() if k != "type"}, 422, {"type"}),
    ({**COMPLAINT, "type": "闲聊"}, 422, {"type"}),
    ({**COMPLAINT, "content": "很" * 4001}, 422, {"content"}),
    ({**COMPLAINT, "address": "路" * 301}, 422, {"address"}),
    ({**COMPLAINT, "caller": {"phone": "138123456789"}}, 422, {"caller.phone"}),
    ({**COMPLAINT, "caller": {"phone": "abc13812345678"}}, 422, {"caller.phone"}),
    ({**COMPLAINT, "caller": {"id_number": "110105194912310021"}}, 422, {"caller.id_number"}),  # check digit
    ({**COMPLAINT, "caller": {"id_number": "110105194913310028"}}, 422, {"caller.id_number"}),  # month 13
    ({**COMPLAINT, "caller": {"id_number": "11010519491231002"}}, 422, {"caller.id_number"}),   # 17 chars
    ({**COMPLAINT, "town": "atlantis"}, 422, {"town"}),
    ({**COMPLAINT, "channel": "pigeon"}, 422, {"channel"}),
    ({**COMPLAINT, "surprise": 1}, 422, {"surprise"}),
    ({**COMPLAINT, "received_at": "2999-01-01T00:00:00+08:00"}, 422, {"received_at"}),
])
def test_bad_ticket_input(api, body, status, fields):
    op = api("operator1")
    before = count(op)
    r = op.post("/api/v1/tickets", json=body)
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert set(err["fields"]) == fields and err["code"] == "validation_failed"
    assert all(err["fields"].values())
    assert count(op) == before


def test_invalid_json_and_wrong_shapes(api, client):
    op = api("operator1")
    for data in ("{not json", "[1, 2]", "null", ""):
        r = client.post("/api/v1/tickets", data=data,
                        headers={**op.headers, "Content-Type": "application/json"})
        assert r.status_code == 400, data
        assert r.get_json()["error"]["code"] == "invalid_json"
    r = client.post("/api/v1/tickets", data="x" * (3 * 1024 * 1024), headers=op.headers)
    assert r.status_code == 413 and r.get_json()["error"]["code"]
    assert count(op) == 0


def test_valid_ids_and_phones_accepted(api):
    op = api("operator1")
    for caller in ({"phone": "+8613812345678", "id_number": "11010519491231002x"},
                   {"phone": "0752-6123456"}, {"phone": "075261234567"}):
        r = op.post("/api/v1/tickets", json={**COMPLAINT, "caller": caller})
        assert r.status_code == 201, r.get_json()
    t = op.get("/api/v1/tickets").get_json()["items"][-1]
    assert t["caller"]["phone"] == "13812345678"


@both_databases
def test_bad_action_input_changes_nothing(api):
    op = api("operator1")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    op.act(number, "accept")
    cases = [
        ({"main_department": "nope"}, {"main_department"}),
        ({"main_department": "housing", "co_departments": ["housing"]}, {"co_departments.0"}),
        ({"main_department": "housing", "co_departments": ["water", "ghost"]}, {"co_departments.1"}),
        ({}, {"main_department"}),
        ({"main_department": "housing", "extra": True}, {"extra"}),
    ]
    for body, fields in cases:
        r = op.act(number, "dispatch", body)
        assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == fields, (body, r.get_json())
    t = op.get(f"/api/v1/tickets/{number}").get_json()
    assert t["status"] == "accepted" and len(t["events"]) == 2
    assert op.act(number, "fly").status_code == 404
    assert op.act("20990101000001", "accept").status_code == 404
    r = op.client.post(f"/api/v1/tickets/{number}/actions/dispatch", data="{",
                       headers={**op.headers, "Content-Type": "application/json"})
    assert r.status_code == 400
