"""``hotline demo seed`` beside a working server on the embedded SQLite database (issue 14.10).

SQLite has one writer at a time (and the app begins every transaction IMMEDIATE), so a seed that
wrote in long transactions made the server's requests wait and then fail with "database is locked".
The seed writes in short transactions of a fixed size (numbers first, rows built outside any
transaction, then inserted; rollups in small steps): a few thousand tickets take the same locks,
for the same time each, as 200,000. Meanwhile the app keeps serving a ticket page and creating
tickets, each request within a few seconds.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
SEED_TICKETS = 3000
PACE = 0.1  # seconds between rounds: about 30 requests a second, a busy centre's console traffic
REQUEST_LIMIT = 3.0  # seconds per request; one stuck behind the seed's long transactions waited 4-6 s


def test_seed_leaves_room_for_the_server(app, api, database_url, tmp_path):
    from hotline.extensions import db
    from ticketing.audit import verify_all
    from ticketing.models import Ticket

    op = api("operator1")
    first = op.post("/api/v1/tickets", json={"type": "咨询", "content": "播种前登记的工单"}).get_json()["number"]
    env = dict(os.environ, DATABASE_URL=database_url, HOTLINE_SIP_ENABLED="false",
               HOTLINE_BACKGROUND_JOBS="inprocess")
    log = (tmp_path / "seed.log").open("w")
    seed = subprocess.Popen([sys.executable, "-m", "hotline.app.cli", "demo", "seed", "--tickets",
                             str(SEED_TICKETS), "--days", "60"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    created, timings = [], []

    def timed(call, *args, **kwargs):
        started = time.monotonic()
        response = call(*args, **kwargs)
        took = time.monotonic() - started
        timings.append(took)
        assert took < REQUEST_LIMIT, f"a request took {took:.2f} s while the seed ran"
        return response

    during = 0
    try:
        while seed.poll() is None:
            page = timed(op.get, f"/console/tickets/{first}")
            assert page.status_code == 200, page.data[:300]
            view = timed(op.get, f"/api/v1/tickets/{first}")
            assert view.status_code == 200, view.get_json()
            r = timed(op.post, "/api/v1/tickets", json={"type": "求助", "content": f"播种期间登记 {len(created)}"})
            assert r.status_code == 201, r.get_json()
            created.append(r.get_json()["number"])
            during += seed.poll() is None
            time.sleep(PACE)  # offered load, not a wait: back-to-back rounds would starve the seed
        seed.wait(timeout=600)
    finally:
        if seed.poll() is None:
            seed.kill()
            seed.wait()
        log.close()
    output = (tmp_path / "seed.log").read_text()
    timings.sort()
    print(output.splitlines()[-1])
    print(f"{during} rounds (page, view, create) while seeding; requests p50 {timings[len(timings) // 2]:.3f} s, "
          f"max {timings[-1]:.2f} s")
    assert seed.returncode == 0, output[-3000:]
    assert f"seeded {SEED_TICKETS} tickets" in output, output[-3000:]
    assert during >= 5, f"the seed was too quick to overlap the server ({during} rounds): {output[-500:]}"
    with app.app_context():
        numbers = set(db.session.scalars(select(Ticket.number)))
        assert set(created) | {first} <= numbers
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == SEED_TICKETS + len(created) + 1
        assert all(finding is None for _t, finding in verify_all(db.session))
        db.Session.remove()
