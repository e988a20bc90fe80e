"""``hotline demo seed``: realistic history written in bulk that still verifies and rolls up exactly."""
from __future__ import annotations

from collections import Counter

from click.testing import CliRunner
from sqlalchemy import func, select

from supervision.demo import generate
from supervision.models import COUNTERS, KpiDaily, KpiMonthly
from supervision.rollup import rebuild
from ticketing.audit import verify_all
from ticketing.models import Ticket

from .conftest import both_databases


def _sums(session, model):
    key = model.day if model is KpiDaily else model.month
    return sorted(tuple(r) for r in session.execute(
        select(key, model.department_id, model.type, *[getattr(model, c) for c in COUNTERS])).all()
        if any(r[3:]))


@both_databases
def test_demo_history_verifies_and_rollups_match_a_rebuild(app, api):
    from hotline.extensions import db

    session = db.session
    result = generate(session, 1500, days=120, seed=3)
    assert result["tickets"] == 1500 and result["events"] > 1500 * 3
    findings = [f for _t, f in verify_all(session)]
    assert len(findings) == 1500 and all(f is None for f in findings)
    types = Counter(session.scalars(select(Ticket.type)))
    assert types.most_common(2)[0][0] == "咨询" and types.most_common(2)[1][0] == "求助"
    assert 0.01 < (types["投诉"] + types["举报"]) / 1500 < 0.09
    assert session.scalar(select(func.count(func.distinct(Ticket.main_department_id)))) > 30
    assert session.scalar(select(func.count()).where(Ticket.signed_at > Ticket.sign_by)) > 0
    daily, monthly = _sums(session, KpiDaily), _sums(session, KpiMonthly)
    rebuild(session)
    assert _sums(session, KpiDaily) == daily and _sums(session, KpiMonthly) == monthly
    # numbers come from the shared sequence: the service keeps numbering after the seeded ones
    r = api("operator1").post("/api/v1/tickets", json={"type": "咨询", "content": "测试"})
    assert r.status_code == 201, r.get_json()
    rep = api("supervisor").get("/api/v1/kpis?from=2025-01-01&to=2027-12-31").get_json()
    assert rep["total"]["counts"]["received"] == 1500
    assert 0.5 < rep["total"]["kpis"]["sign_rate"] < 1 and rep["total"]["kpis"]["direct_rate"] > 0.3


def test_cli_demo_seed_and_kpi_rebuild(app, database_url, monkeypatch, tmp_path):
    from hotline.app.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_SIP_ENABLED", "false")
    runner = CliRunner()
    r = runner.invoke(main, ["demo", "seed", "--tickets", "200", "--days", "30"])
    assert r.exit_code == 0, r.output
    assert "seeded 200 tickets" in r.output
    r = runner.invoke(main, ["kpi", "rebuild"])
    assert r.exit_code == 0 and "rebuilt rollups from 200 tickets" in r.output, r.output
    r = runner.invoke(main, ["supervision", "scan"])
    assert r.exit_code == 0 and "cards issued" in r.output, r.output
    r = runner.invoke(main, ["audit", "verify"])
    assert r.exit_code == 0 and "OK: 200 tickets" in r.output, r.output
