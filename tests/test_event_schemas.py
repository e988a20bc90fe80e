"""Typed events (issue 14.6): every event of the catalogue has one payload schema, owned and
registered by the package that emits it; publishing validates; the core imports no package."""
from __future__ import annotations

import subprocess
import sys

import pytest

from hotline.events import CATALOGUE, SCHEMAS, EventBus, InvalidEvent, UnknownEvent


def test_every_event_has_one_schema_from_its_owner():
    import agent_console  # noqa: F401
    import routing  # noqa: F401
    import supervision  # noqa: F401
    import telephony  # noqa: F401
    import ticketing  # noqa: F401

    assert set(SCHEMAS) == set(CATALOGUE)
    for name, schema in SCHEMAS.items():
        assert schema.__module__ == f"{CATALOGUE[name]}.events", (name, schema.__module__)


def test_the_core_imports_no_package_to_know_the_catalogue():
    code = ("import sys, hotline.events; "
            "print(sorted(m for m in ('ticketing', 'telephony', 'supervision', 'agent_console', 'routing') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_publishing_validates():
    import telephony  # noqa: F401

    bus = EventBus()
    got = []
    bus.subscribe("*", lambda name, payload: got.append(name))
    good = {"call_id": "c1", "caller": "13800138000", "called": "12345"}
    bus.publish("call.ringing", good)
    with pytest.raises(InvalidEvent, match="called"):
        bus.publish("call.ringing", {"call_id": "c1", "caller": "13800138000"})
    with pytest.raises(InvalidEvent, match="agent"):  # one name per fact: no synonyms slip through
        bus.publish("call.ringing", dict(good, agent="operator1"))
    with pytest.raises(InvalidEvent, match="position"):
        bus.publish("call.queued", {"call_id": "c1", "caller": "13800138000", "position": "first"})
    with pytest.raises(UnknownEvent):
        bus.publish("call.nonsense", good)
    assert got == ["call.ringing"]
    assert [name for name, _ in bus.rejected] == ["call.ringing", "call.ringing", "call.queued", "call.nonsense"]


def test_a_redispatch_concerns_the_unit_that_lost_the_ticket(app, api, events):
    op = api("operator1")
    number = op.post("/api/v1/tickets", json={"type": "求助", "content": "井盖缺失"}).get_json()["number"]
    assert op.act(number, "accept").status_code == 200
    assert op.act(number, "dispatch", {"main_department": "housing"}).status_code == 200
    housing = api("housing")
    r = housing.act(number, "return", {"note": "不属于本单位职责"})
    assert r.status_code == 200, r.get_json()
    changed = [p for n, p in events if n == "ticket.changed" and p["number"] == number]
    assert [p["action"] for p in changed] == ["accept", "dispatch", "return"]
    assert changed[1]["departments"] == ["housing"]
    assert changed[2]["departments"] == ["housing"]  # no holder any more, but housing must hear it
