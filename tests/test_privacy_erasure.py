"""Erasure with a verifiable history (issue 11): ``hotline privacy erase`` blanks a caller's name,
number, ID number, transcripts and recordings; ``hotline audit verify`` still passes and names the
redacted events; no API, export, event or recording endpoint returns the erased data afterwards.
Chains written before migration 0011 (chain version 1) keep verifying, erased or not."""
from __future__ import annotations

import json
import os
from datetime import timedelta

import subprocess
import sys
from dataclasses import dataclass
from sqlalchemy import select, update

from tests.conftest import both_databases
from tests.test_privacy_projection import ID_NUMBER, NAME, PHONE, SAID, _live_call, _store_call
from tests.ticket_helpers import COMPLAINT


@dataclass
class Run:
    exit_code: int
    output: str


def _cli(app, *args) -> Run:
    """The installed ``hotline`` command in its own process, on the test app's database and
    recordings (its own process: the CLI's app wires background jobs the test app does not run)."""
    config = app.config["HOTLINE"]
    env = {**os.environ, "DATABASE_URL": config.database_url, "HOTLINE_RECORDINGS_DIR": config.recordings_dir,
           "SECRET_KEY": "test-secret", "HOTLINE_SIP_ENABLED": "false",
           "HOTLINE_INSTANCE_DIR": os.path.join(os.path.dirname(config.recordings_dir), "cli-instance")}
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "hotline.app.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    return Run(done.returncode, done.stdout + done.stderr)


def _abandoned_call(app) -> None:
    from hotline.extensions import db
    from routing.calls.models import QueuedCall
    from hotline.clock import utcnow

    with app.app_context():
        now = utcnow()
        db.session.add(QueuedCall(call_uuid="abandoned1", caller=PHONE, caller_phone=PHONE, called="12345",
                                  ringing_at=now - timedelta(seconds=40), queued_at=now - timedelta(seconds=40),
                                  state="ended", ended_at=now, outcome="abandoned", wait_seconds=40.0))
        db.session.commit()
        db.Session.remove()


def _dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _personal(text: str) -> list[str]:
    return [s for s in (PHONE, ID_NUMBER, NAME, "我叫张先生", "楼道灯坏了") if s in text]


@both_databases
def test_erase_by_phone_blanks_everything_and_history_still_verifies(app, api, events):
    op, sup, housing = api("operator1"), api("supervisor"), api("housing")
    # a phone call: call record, recordings (the citizen, the operator's leg, the mix), transcript, draft
    call = _store_call(app)
    # a ticket registered by hand with name and ID, a call linked on the console, notes with the number
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    _live_call(app, "erase1")
    assert op.post("/api/v1/console/calls/link", json={"call_id": "erase1", "number": number}).status_code == 200
    assert op.act(number, "accept", {"note": f"回电号码 {PHONE}"}).status_code == 200
    assert op.act(number, "dispatch", {"main_department": "housing"}).status_code == 200
    assert op.act(number, "note", {"note": "现场查看"}).status_code == 200
    assert _personal(_dump(op.get(f"/api/v1/tickets/{number}").get_json()))  # there before
    _abandoned_call(app)  # the number also waits on the callback list (a call nobody answered)
    assert PHONE in _dump(op.get("/api/v1/console/callbacks").get_json())
    shown = api("admin").get("/api/v1/privacy/access-records", query_string={"kind": "phone"}).get_json()["items"]
    assert any(i["via"] == "GET /api/v1/console/callbacks" and i["call_id"] == "abandoned1" for i in shown)

    result = _cli(app, "privacy", "erase", "--phone", PHONE, "--reason", "市民申请删除")
    assert result.exit_code == 0, result.output
    assert f"erased {number}: caller_name, caller_phone, caller_id_number" in result.output
    assert f"erased {call['ticket']}: caller_phone" in result.output and "calls 1, recordings 3" in result.output

    verify = _cli(app, "audit", "verify")
    assert verify.exit_code == 0, verify.output
    assert "every event chain intact" in verify.output
    redacted = [line for line in verify.output.splitlines() if "REDACTED" in line]
    assert any(f"ticket {number} event #1: ticket.caller_id_number, ticket.caller_name, ticket.caller_phone"
               in line for line in redacted), verify.output
    assert any(f"ticket {number} event #2:" in line and "data.caller" in line and "data.transcript" in line
               for line in redacted), verify.output
    assert any(f"ticket {number} event #3: event.note" in line for line in redacted), verify.output
    assert not any(f"ticket {number} event #5:" in line for line in redacted)  # 现场查看 stays verifiable

    # nothing returns the erased data any more, to any role
    for who in (op, sup, api("admin")):
        body = who.get(f"/api/v1/tickets/{number}").get_json()
        assert _personal(_dump(body)) == [], body
        assert body["caller"]["phone"] is None and body["caller"]["name"] is None
        # the draft's content is what the caller said (the matter stays, the number goes)
        draft = who.get(f"/api/v1/tickets/{call['ticket']}").get_json()
        assert draft["content"].startswith("我叫张先生电话***楼道灯坏了") and draft["caller"]["phone"] is None
        assert _personal(_dump(draft["events"])) == [] and PHONE not in _dump(draft)
        for leg in ("caller", "operator", "mixed"):
            assert who.get(f"/api/v1/calls/{call['call_id']}/recordings/{leg}").status_code == 404
        assert who.get(f"/api/v1/calls/{call['call_id']}/recording").status_code == 404
        view = who.get(f"/api/v1/calls/{call['call_id']}").get_json()
        assert view["caller"] == "" and view["transcript"] == [] and view["recording"] is None
        assert view["recordings"] == [] and view["dtmf"] == []
        assert _personal(_dump(who.get(f"/api/v1/tickets/{call['ticket']}/calls").get_json())) == []
        assert PHONE not in _dump(who.get("/api/v1/tickets").get_json())
    assert op.get(f"/api/v1/callers/{PHONE}/tickets").get_json()["items"] == []
    assert PHONE not in _dump(op.get("/api/v1/console/callbacks").get_json())
    assert _personal(_dump(housing.get(f"/api/v1/tickets/{number}").get_json())) == []
    assert [os.path.exists(f) for f in call["files"]] == [False] * 3
    listed = op.get(f"/api/v1/calls/{call['call_id']}/recordings").get_json()
    assert listed["items"] == [] and {r["leg"] for r in listed["deleted"]} == {"caller", "operator", "mixed"}
    for url in ("/api/v1/kpis/export.csv", "/api/v1/kpis/export.xlsx"):
        export = sup.get(url)
        assert export.status_code == 200 and PHONE.encode() not in export.data
    # the ticket keeps working after erasure, its events carry nothing erased, its history verifies
    seen = len(events)
    assert housing.act(number, "sign").status_code == 200
    assert op.act(number, "note", {"note": "已联系"}).status_code == 200
    assert [p["action"] for n, p in events[seen:] if n == "ticket.changed"] == ["sign", "note"]
    assert _personal(_dump(events[seen:])) == []
    assert _cli(app, "audit", "verify").exit_code == 0


def test_tampering_after_erasure_is_still_detected(app, api):
    from hotline.extensions import db
    from ticketing.audit import verify_all
    from ticketing.models import Ticket, TicketEvent

    op = api("operator1")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    other = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    assert _cli(app, "privacy", "erase", number).exit_code == 0
    with app.app_context():
        s = db.session
        assert all(f is None for _t, f in verify_all(s))
        # putting a number back on the erased ticket breaks its create event
        s.execute(update(Ticket).where(Ticket.number == number).values(caller_phone="13900001111"))
        # changing the caller of a ticket that was never erased breaks it too (digest, not the value)
        s.execute(update(Ticket).where(Ticket.number == other).values(caller_name="李四"))
        s.commit()
        broken = {t.number: f for t, f in verify_all(s) if f is not None}
        assert set(broken) == {number, other}
        assert all("altered" in f.problem and f.seq == 1 for f in broken.values())
        tid = s.scalar(select(Ticket.id).where(Ticket.number == number))
        ev = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == tid, TicketEvent.seq == 1))
        assert "ticket.caller_phone" in ev.redacted and not ev.pii_salts.get("ticket.caller_phone")
        db.Session.remove()


@both_databases
def test_version_1_chains_keep_verifying_and_can_be_erased(app, api):
    """A ticket written before migration 0011: its events are rewritten as version 1 exactly as the
    old code hashed them (personal data in clear inside the digest)."""
    from hotline.extensions import db
    from ticketing.audit import GENESIS, event_digest, verify_all
    from ticketing.models import Ticket, TicketEvent

    op = api("operator1")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    _live_call(app, "old1")
    assert op.post("/api/v1/console/calls/link", json={"call_id": "old1", "number": number}).status_code == 200
    assert op.act(number, "note", {"note": "补充"}).status_code == 200
    with app.app_context():
        s = db.session
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        prev = GENESIS
        for ev in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.seq)):
            digest = event_digest(number, ev.seq, ev.action, ev.actor, ev.actor_role, ev.from_status,
                                  ev.to_status, ev.note, ev.data, ev.created_at, prev)
            s.execute(update(TicketEvent).where(TicketEvent.id == ev.id).values(
                chain_version=1, pii_salts=None, prev_hash=prev, hash=digest))
            prev = digest
        s.execute(update(Ticket).where(Ticket.id == ticket.id).values(head_hash=prev))
        s.commit()
        assert all(f is None for _t, f in verify_all(s))
        db.Session.remove()

    assert _cli(app, "privacy", "erase", number).exit_code == 0
    verify = _cli(app, "audit", "verify")
    assert verify.exit_code == 0, verify.output
    assert f"ticket {number} event #2: data.caller, data.transcript erased (version-1 event, links verified)" \
        in verify.output
    body = op.get(f"/api/v1/tickets/{number}").get_json()
    assert _personal(_dump(body)) == []
    assert [e["action"] for e in body["events"]][-1] == "privacy_erased" and body["events"][1]["redacted"]
    with app.app_context():  # removing a redacted version-1 event is still caught by the links
        s = db.session
        tid = s.scalar(select(Ticket.id).where(Ticket.number == number))
        s.execute(update(TicketEvent).where(TicketEvent.ticket_id == tid, TicketEvent.seq == 2)
                  .values(prev_hash="0" * 63 + "1"))
        s.commit()
        assert [f.seq for _t, f in verify_all(s) if f is not None] == [2]
        db.Session.remove()


def test_retention_job_erases_finished_tickets_after_the_configured_days(app, api):
    from hotline.extensions import db
    from hotline.clock import utcnow
    from ticketing.erasure import erase_expired
    from ticketing.models import Ticket
    from hotline.identity import Actor

    op = api("operator1")
    old = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    recent = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    still_open = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    for n in (old, recent):
        assert op.act(n, "accept").status_code == 200
        assert op.act(n, "answer_directly", {"answer": "已答复"}).status_code == 200
    with app.app_context():
        db.session.execute(update(Ticket).where(Ticket.number.in_([old, still_open])).values(
            closed_at=utcnow() - timedelta(days=40), updated_at=utcnow() - timedelta(days=40)))
        db.session.commit()
        assert erase_expired(db.session, 0, Actor.system("retention")) == 0  # 0 = keep
        db.Session.remove()
    result = _cli(app, "privacy", "retention", "--days", "30")
    assert result.exit_code == 0 and "of 1 tickets" in result.output, result.output
    assert op.get(f"/api/v1/tickets/{old}").get_json()["caller"]["phone"] is None
    for n in (recent, still_open):
        assert op.get(f"/api/v1/tickets/{n}").get_json()["caller"]["phone"] == PHONE
    assert _cli(app, "audit", "verify").exit_code == 0
