"""Issue 11, defect 11: every recording of a call (each speaker and the mixed conversation) is on
the call record, listed and served by role with HTTP Range, playable per speaker, and deleted by
the retention job and by ``telephony.service.delete_call_recordings`` (erasure)."""
from __future__ import annotations

import os
import uuid
import wave
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from tests.bridge_helpers import (Citizen, FixedOperator, SippPhone, bridge_endpoint, make_source,
                                  proxy)  # noqa: F401 - fixture
from tests.conftest import PG_ADMIN_URL, both_databases, require_service
from hotline.clock import utcnow

LABELS = {"caller": "市民", "operator": "话务员", "mixed": "混音", "department": "承办单位"}


def _set_ticket(app, number: str, **values) -> None:
    from hotline.extensions import db
    from ticketing.models import Ticket

    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
        for key, value in values.items():
            setattr(ticket, key, value)
        db.session.commit()
        db.Session.remove()


def _check_served(user, call_id: str, legs: dict[str, str]) -> None:
    """Every recording is listed for ``user`` and served whole and by byte range."""
    listed = user.get(f"/api/v1/calls/{call_id}/recordings")
    assert listed.status_code == 200, listed.get_json()
    items = {i["leg"]: i for i in listed.get_json()["items"]}
    assert set(items) == set(legs)
    for leg, path in legs.items():
        assert items[leg]["label"] == LABELS[items[leg]["speaker"]]
        data = open(path, "rb").read()
        part = user.client.get(items[leg]["url"], headers={**user.headers, "Range": "bytes=100-1123"})
        assert part.status_code == 206 and part.data == data[100:1124]
        assert part.headers["Content-Range"] == f"bytes 100-1123/{len(data)}"
        whole = user.get(items[leg]["url"])
        assert whole.status_code == 200 and whole.data == data and whole.mimetype == "audio/wav"


def _refused(user, call_id: str, legs, status: int) -> None:
    assert user.get(f"/api/v1/calls/{call_id}/recordings").status_code == status
    for leg in legs:
        assert user.get(f"/api/v1/calls/{call_id}/recordings/{leg}").status_code == status, leg


@pytest.mark.sip
def test_bridged_call_recordings_listed_served_by_role_and_deleted_by_retention(app, proxy, api, client,
                                                                              tmp_path):
    make_source(tmp_path / "citizen.ulaw", 2.0, 440, seed=1)
    make_source(tmp_path / "operator.ulaw", 2.0, 660, seed=2)
    endpoint = bridge_endpoint(app, proxy)
    operator_phone = SippPhone(proxy, "1001", tmp_path, audio=tmp_path / "operator.ulaw")
    router = FixedOperator(endpoint, "1001")
    citizen = None
    try:
        citizen = Citizen(proxy, tmp_path, tmp_path / "citizen.ulaw", hold_ms=5000)
        assert router.bridged.wait(15), (router.results, citizen.diagnose())
        code, out = citizen.wait(40)
        assert code == 0, out
        assert operator_phone.wait(20) == 0, operator_phone.errors()
        assert endpoint.wait_idle(20)
        record = endpoint.finished[-1]
    finally:
        if citizen:
            citizen.stop()
        operator_phone.stop()
        endpoint.stop()
    rec_dir = endpoint.config.recordings_dir
    call_id, number = record["call_uuid"], record["ticket_number"]
    [leg] = record["legs"]
    legs = {"caller": record["recording_path"], "operator": leg["recording_path"],
            "mixed": record["mixed_recording_path"]}
    legs = {k: os.path.join(rec_dir, v) for k, v in legs.items()}
    assert all(os.path.getsize(p) > 8000 * 2 * 2 for p in legs.values())

    operator, supervisor, housing, water = api("operator1"), api("supervisor"), api("housing"), api("water")
    _check_served(operator, call_id, legs)
    _check_served(supervisor, call_id, legs)
    view = operator.get(f"/api/v1/calls/{call_id}").get_json()
    assert {r["leg"]: r["label"] for r in view["recordings"]} == {"caller": "市民", "operator": "话务员",
                                                                   "mixed": "混音"}
    assert {r["extension"] for r in view["recordings"]} == {None, "1001"}
    assert client.get(f"/api/v1/calls/{call_id}/recordings").status_code == 401
    assert client.get(f"/api/v1/calls/{call_id}/recordings/operator").status_code == 401
    _refused(housing, call_id, legs, 404)  # not its ticket (yet)
    assert operator.get(f"/api/v1/calls/{call_id}/recordings/nosuchleg").status_code == 404

    operator.act(number, "accept")
    assert operator.act(number, "dispatch", {"main_department": "housing"}).status_code == 200
    _check_served(housing, call_id, legs)
    _refused(water, call_id, legs, 404)

    _set_ticket(app, number, confidential=True)  # a caller who asked for confidentiality
    _refused(housing, call_id, legs, 403)
    assert housing.get(f"/api/v1/calls/{call_id}").get_json()["recordings"] == []
    assert housing.get(f"/api/v1/calls/{call_id}/recording").status_code == 403
    _check_served(operator, call_id, legs)

    from hotline.extensions import db
    from telephony import service
    from telephony.models import Call

    with app.app_context():  # the call ended 181 days ago: past the 180-day retention
        call = db.session.scalar(select(Call).where(Call.call_uuid == call_id))
        call.ended_at = utcnow() - timedelta(days=181)
        db.session.commit()
        assert service.cleanup_recordings(db.session, rec_dir, 180) == 3
        db.Session.remove()
    assert not any(os.path.exists(p) for p in legs.values())
    listed = operator.get(f"/api/v1/calls/{call_id}/recordings").get_json()
    assert listed["items"] == [] and {d["leg"] for d in listed["deleted"]} == set(legs)
    for leg in legs:
        assert operator.get(f"/api/v1/calls/{call_id}/recordings/{leg}").status_code == 404
    assert operator.get(f"/api/v1/calls/{call_id}/recording").status_code == 404
    view = operator.get(f"/api/v1/calls/{call_id}").get_json()
    assert view["recording"] is None and view["recordings"] == [] and view["recording_deleted_at"]


def _wav(path: str, seconds: float = 1.0) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(os.urandom(int(seconds * 8000) * 2))


def _store_bridged(app) -> dict:
    """A finished bridged call (citizen, operator, department after a transfer, mixed) with real
    WAV files, stored through the telephony service as the endpoint stores it."""
    from hotline.extensions import db
    from telephony import service

    rec_dir = app.config["HOTLINE"].recordings_dir
    call_uuid = uuid.uuid4().hex
    rel = {leg: f"2026/01/01/{call_uuid}-{leg}.wav" for leg in ("caller", "operator", "department", "mixed")}
    for path in rel.values():
        _wav(os.path.join(rec_dir, path))
    ended = utcnow()
    record = {"call_uuid": call_uuid, "sip_call_id": f"{call_uuid}@test", "caller": "13912345678",
              "called": "12345", "codec": "PCMU", "ringing_at": ended - timedelta(seconds=9),
              "answered_at": ended - timedelta(seconds=8), "ended_at": ended, "duration": 8.0,
              "cause": "caller_hangup", "recording_path": rel["caller"], "recording_seconds": 8.0,
              "transcription": "off", "transcription_note": "test", "segments": [], "dtmf": [], "stats": {},
              "legs": [{"leg": "operator", "speaker": "operator", "extension": "1001", "offset": 1.0,
                        "recording_path": rel["operator"], "recording_seconds": 4.0},
                       {"leg": "department", "speaker": "department", "extension": "2001", "offset": 5.0,
                        "recording_path": rel["department"], "recording_seconds": 3.0}],
              "mixed_recording_path": rel["mixed"], "mixed_offset": 1.0, "mixed_seconds": 7.0}
    with app.app_context():
        call = service.store_call(db.session, record)
        result = {"id": call.id, "call_id": call_uuid, "ticket": call.ticket_number,
                  "paths": {leg: os.path.join(rec_dir, p) for leg, p in rel.items()}}
        db.Session.remove()
    return result


@both_databases
def test_erasure_deletes_every_recording_of_one_call(app, api):
    from hotline.extensions import db
    from telephony import service

    erased, kept = _store_bridged(app), _store_bridged(app)
    operator = api("operator1")
    listed = operator.get(f"/api/v1/calls/{erased['call_id']}/recordings").get_json()["items"]
    assert [(i["leg"], i["label"], i["offset"]) for i in listed] == [
        ("caller", "市民", 0.0), ("operator", "话务员", 1.0), ("department", "承办单位", 5.0), ("mixed", "混音", 1.0)]
    with app.app_context():
        assert service.delete_call_recordings(db.session, erased["id"]) == 4
        db.session.commit()
        assert service.delete_call_recordings(db.session, erased["id"]) == 0  # idempotent
        db.session.commit()
        db.Session.remove()
    assert not any(os.path.exists(p) for p in erased["paths"].values())
    assert all(os.path.exists(p) for p in kept["paths"].values())
    listed = operator.get(f"/api/v1/calls/{erased['call_id']}/recordings").get_json()
    assert listed["items"] == [] and len(listed["deleted"]) == 4
    for leg in erased["paths"]:
        assert operator.get(f"/api/v1/calls/{erased['call_id']}/recordings/{leg}").status_code == 404
    assert operator.get(f"/api/v1/calls/{erased['call_id']}/recording").status_code == 404
    assert len(operator.get(f"/api/v1/calls/{kept['call_id']}/recordings").get_json()["items"]) == 4
    assert operator.get(f"/api/v1/calls/{kept['call_id']}/recordings/department").status_code == 200


def _migrate_and_check(url: str) -> None:
    """0008 moves an existing call's single recording_path into call_recordings."""
    from alembic import command

    from hotline.app.dbadmin import alembic_config

    cfg = alembic_config(url)
    command.upgrade(cfg, "0007")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for i, deleted in ((1, None), (2, "2026-01-02 00:00:00")):
                conn.execute(text(
                    "INSERT INTO calls (id, call_uuid, sip_call_id, direction, caller, called, ringing_at, "
                    "ended_at, duration, hangup_cause, recording_path, recording_seconds, "
                    "recording_deleted_at, transcription, created_at) VALUES (:id, :u, 's', 'inbound', "
                    "'13800138000', '12345', '2026-01-01 00:00:00', '2026-01-01 00:01:00', 60, "
                    "'caller_hangup', :p, 60, :d, 'off', '2026-01-01 00:01:00')"),
                    {"id": i, "u": f"u{i}", "p": f"2026/01/01/u{i}-caller.wav", "d": deleted})
            conn.execute(text("INSERT INTO calls (id, call_uuid, sip_call_id, direction, caller, called, "
                              "ringing_at, ended_at, duration, hangup_cause, transcription, created_at) "
                              "VALUES (3, 'u3', 's', 'inbound', 'x', '12345', '2026-01-01', '2026-01-01', "
                              "0, 'cancelled', 'none', '2026-01-01')"))
        command.upgrade(cfg, "0008")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT call_id, leg, speaker, path, seconds, deleted_at IS NOT NULL "
                                     "FROM call_recordings ORDER BY call_id")).all()
        assert [tuple(r) for r in rows] == [(1, "caller", "caller", "2026/01/01/u1-caller.wav", 60.0, False),
                                            (2, "caller", "caller", "2026/01/01/u2-caller.wav", 60.0, True)]
        command.downgrade(cfg, "0007")
        command.upgrade(cfg, "head")
    finally:
        engine.dispose()


def test_migration_0008_on_sqlite(tmp_path):
    _migrate_and_check(f"sqlite:///{tmp_path / 'm.db'}")


def test_migration_0008_on_postgres():
    require_service("postgres")
    name = f"hotline_rec_mig_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _migrate_and_check(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_recording_routes_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/calls/{call_id}/recordings", "/api/v1/calls/{call_id}/recordings/{leg}"):
        op = doc["paths"][path]["get"]
        assert {"200", "401", "403", "404"} <= set(op["responses"]), path
    assert "206" in doc["paths"]["/api/v1/calls/{call_id}/recordings/{leg}"]["get"]["responses"]
