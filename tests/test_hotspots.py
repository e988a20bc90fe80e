"""Hot topics (热点诉求): the rollup job, the week-over-week spike test on simulated data with
injected spikes, the once-per-spike early warning, clusters, and the API's answers to bad input."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.clock import to_local, utcnow
from hotline.extensions import db
from tests.hotspot_helpers import MATTERS, pinned_start, simulate

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def test_spikes_found_with_few_false_alarms(app, events):
    """Four simulated months (28 warm-up days, then 91 evaluated days) of Poisson noise in 40 cells
    (8 catalogue matters x 5 towns, daily rates 0.3-5 with a weekly rhythm) and 24 injected spikes
    (3 x the rate + 6 tickets on one known matter, town and day). Every evaluated day is tested."""
    from supervision import hotspots
    from supervision.hotspot_models import HotspotAlert, HotspotDaily

    with app.app_context():
        sim = simulate(db.session, start=pinned_start(130), days=119)
        changed = hotspots.catch_up(db.session)
        assert changed >= sim.rows  # (plus the demo seed's few tickets)
        assert hotspots.catch_up(db.session) == 0  # idempotent: nothing new, nothing changed
        # the job counted every ticket in its cell: the catalogue recognised each simulated text
        stored = {(r.day, r.matter, r.town_id): r.count for r in db.session.scalars(select(HotspotDaily))
                  if r.matter in MATTERS}
        assert stored == sim.counts

        settings = hotspots.HotspotSettings()
        flagged = set()
        for day in sim.eval_days:
            flagged |= {(day, c["matter"], c["town_id"]) for c in hotspots.spikes(db.session, day, settings)}
        hits = flagged & sim.spikes
        false_alarms = flagged - sim.spikes
        months = len(sim.eval_days) / 30.4
        recall = len(hits) / len(sim.spikes)
        print(f"\nhot topics: {len(sim.spikes)} injected spikes, {len(hits)} found: recall {recall:.1%}; "
              f"{len(false_alarms)} false alarms in {len(sim.eval_days)} days = "
              f"{len(false_alarms) / months:.2f} per month ({sim.rows} tickets, 40 cells)")
        assert recall >= 0.9
        assert len(false_alarms) / months <= 1.0

        # early warning: a spike is announced once; a second run (a restart, another process) is silent
        spike_day, matter, town_id = sorted(sim.spikes)[-1]
        first = hotspots.announce(db.session, spike_day, settings)
        assert (matter, sim.towns[town_id]) in {(a["matter"], a["town"]) for a in first}
        db.Session.remove()
    with app.app_context():
        assert hotspots.announce(db.session, spike_day, settings) == []
        announced = [p for n, p in events if n == "hotspot.detected"]
        assert len(announced) == len(first) == db.session.query(HotspotAlert).count()
        alert = next(p for p in announced if p["matter"] == matter and p["town"] == sim.towns[town_id])
        assert alert["count"] == sim.counts[(spike_day, matter, town_id)]
        base = [sim.counts.get((spike_day - timedelta(days=7 * k), matter, town_id), 0) for k in range(1, 5)]
        assert alert["baseline"] == pytest.approx(sum(base) / 4)

        # the day's page: counts per matter equal the simulated ones; clusters group one cell's texts
        report = hotspots.report(db.session, spike_day, settings)
        by_matter = Counter()
        for (d, m, _t), n in sim.counts.items():
            if d == spike_day:
                by_matter[m] += n
        assert {r["matter"]: r["count"] for r in report["matters"]} == dict(by_matter)
        top = report["clusters"][0]
        assert top["matter"] in MATTERS and top["size"] >= 3
        db.Session.remove()


def test_hotspot_api_answers_and_rejects(app, api):
    from datetime import timedelta as td

    from supervision import hotspots

    sup, admin, op = api("supervisor"), api("admin"), api("operator1")
    # the job follows changes: a ticket declared invalid (spam) stops counting
    r = op.post("/api/v1/tickets", json={"type": "求助", "content": "我们这边停水了，请处理", "caller": {}})
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["number"]
    day = to_local(utcnow()).date().isoformat()

    def water_today() -> int:
        with app.app_context():
            hotspots.catch_up(db.session, now=utcnow() + td(minutes=5))
            db.Session.remove()
        rows = sup.get(f"/api/v1/hotspots?day={day}").get_json()["matters"]
        return sum(m["count"] for m in rows if m["matter"] == "城乡供水")

    assert water_today() == 1
    assert op.act(number, "invalidate", {"note": "测试来电"}).status_code == 200
    assert water_today() == 0

    r = sup.get("/api/v1/hotspots?day=2026-13-01")
    assert r.status_code == 422 and "day" in r.get_json()["error"]["fields"]
    r = sup.get("/api/v1/hotspots")
    assert r.status_code == 200 and r.get_json()["spikes"] == []
    assert api("operator1").get("/api/v1/hotspots").status_code == 403
    # the scheme: unknown KPI, bad numbers and unknown fields are named; nothing is stored
    r = admin.put("/api/v1/assessment/scheme", json={"weights": {"nope": 1, "sign_rate": -3},
                                                     "deductions": {"red_card": "x"}, "extra": 1})
    assert r.status_code == 422
    assert set(r.get_json()["error"]["fields"]) == {"weights.nope", "weights.sign_rate", "deductions.red_card", "extra"}
    assert sup.get("/api/v1/assessment/scheme").get_json()["version"] == 0
    assert sup.put("/api/v1/assessment/scheme", json={"weights": {"sign_rate": 1}, "deductions": {}}).status_code == 403
    assert admin.post("/api/v1/assessment/2031-01/publish").status_code == 422  # not over yet
    assert sup.get("/api/v1/assessment?month=2026-1").status_code == 422
