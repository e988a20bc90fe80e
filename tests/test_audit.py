"""The hash-chained history: `hotline audit verify` passes on an intact chain and names the first
altered or removed event otherwise."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from hotline.extensions import db
from ticketing.models import Ticket, TicketEvent

from .conftest import both_databases
from .ticket_helpers import make_ticket


def verify_process(database_url: str):
    """The installed command in its own process."""
    env = {**os.environ, "DATABASE_URL": database_url, "HOTLINE_SIP_ENABLED": "false"}
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "hotline.app.cli", "audit", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)


def verify(database_url: str):
    """The same click command run in this process (no interpreter start-up per call)."""
    from click.testing import CliRunner

    from hotline.app.cli import main

    result = CliRunner().invoke(main, ["audit", "verify"], env={"DATABASE_URL": database_url,
                                                                "HOTLINE_SIP_ENABLED": "false"})
    result.returncode = result.exit_code
    return result


@pytest.fixture
def three_tickets(app):
    with app.app_context():
        numbers = [make_ticket(db.session, s) for s in ("closed", "in_progress", "accepted")]
        db.Session.remove()
    return numbers


def event_id(number: str, seq: int) -> int:
    t = db.session.query(Ticket).filter_by(number=number).one()
    found = db.session.query(TicketEvent).filter_by(ticket_id=t.id, seq=seq).one().id
    db.Session.remove()  # end the read transaction before tampering through another connection
    return found


@both_databases
@pytest.mark.parametrize("tamper", ["alter_note", "alter_actor", "alter_time", "delete_middle", "delete_last"])
def test_tampering_is_named(app, database_url, three_tickets, tamper):
    ok = verify(database_url)
    assert ok.returncode == 0, ok.stderr
    assert "3 tickets" in ok.stdout

    target = three_tickets[1]  # in_progress: 4 events
    with app.app_context():
        seq = 4 if tamper == "delete_last" else 2
        eid = event_id(target, seq)
        stmt = {
            "alter_note": "UPDATE ticket_events SET note = 'edited' WHERE id = :id",
            "alter_actor": "UPDATE ticket_events SET actor = 'someone' WHERE id = :id",
            "alter_time": "UPDATE ticket_events SET created_at = '2020-01-01 00:00:00' WHERE id = :id",
            "delete_middle": "DELETE FROM ticket_events WHERE id = :id",
            "delete_last": "DELETE FROM ticket_events WHERE id = :id",
        }[tamper]
        with db.engine.begin() as conn:
            conn.execute(text(stmt), {"id": eid})
        db.Session.remove()

    bad = verify(database_url)
    assert bad.returncode == 1
    assert f"ticket {target}" in bad.stderr
    assert f"event #{seq}" in bad.stderr
    if tamper.startswith("alter"):
        assert f"row id {eid}" in bad.stderr and "altered" in bad.stderr
    else:
        assert "missing" in bad.stderr or "removed" in bad.stderr


@both_databases
def test_verify_command_in_its_own_process(app, database_url, three_tickets):
    ok = verify_process(database_url)
    assert ok.returncode == 0 and "OK: 3 tickets" in ok.stdout, ok.stderr
    with app.app_context():
        eid = event_id(three_tickets[0], 3)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE ticket_events SET to_status = 'closed' WHERE id = :id"), {"id": eid})
        db.Session.remove()
    bad = verify_process(database_url)
    assert bad.returncode == 1
    assert f"BROKEN ticket {three_tickets[0]} event #3 (row id {eid})" in bad.stderr


def test_history_chain_links(app):
    with app.app_context():
        number = make_ticket(db.session, "closed")
        t = db.session.query(Ticket).filter_by(number=number).one()
        events = t.events
        assert events[0].prev_hash == "0" * 64
        for prev, ev in zip(events, events[1:]):
            assert ev.prev_hash == prev.hash
        assert t.head_hash == events[-1].hash and t.event_count == len(events)
