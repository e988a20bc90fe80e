"""Department assessment (考核): a published month is a snapshot that later ticket edits and scheme
changes do not move, while the live computation of the same month does move."""
from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.clock import to_local, utcnow
from hotline.extensions import db
from tests.supervision_helpers import new_ticket

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def test_published_month_is_frozen(app, api):
    from supervision import assessment
    from supervision.rollup import catch_up

    today = to_local(utcnow()).date()
    first = today.replace(day=1)
    last_month = (first - timedelta(days=1)).replace(day=1)
    month = last_month.strftime("%Y-%m")
    op, housing, admin = api("operator1"), api("housing"), api("admin")
    numbers = [new_ticket(api, (last_month.year, last_month.month, 3 + i, 10, 0), dept="housing",
                          content="小区违建，请处理") for i in range(4)]
    for n in numbers[:2]:
        assert housing.act(n, "sign").status_code == 200
    with app.app_context():
        catch_up(db.session, lag=timedelta(0))
        db.Session.remove()

    r = admin.post(f"/api/v1/assessment/{month}/publish", json={"note": "月度考核"})
    assert r.status_code == 200, r.get_json()
    published = r.get_json()
    assert published["published"] and published["published_by"] == "admin"
    row = next(x for x in published["rows"] if x["department"]["code"] == "housing")
    assert row["dispatched"] == 4
    assert admin.post(f"/api/v1/assessment/{month}/publish").status_code == 409  # once

    # edits of that month's tickets: the unit returns two, the desk sends one back (unjustified)
    for n in numbers[2:]:
        assert housing.act(n, "return", {"note": "不属于本单位职责"}).status_code == 200
    assert op.act(numbers[2], "dispatch", {"main_department": "housing"}).status_code == 200
    # and a new scheme
    assert admin.put("/api/v1/assessment/scheme", json={
        "weights": {"return_rate": 50, "sign_rate": 50}, "deductions": {"unjustified_return": 5}}).status_code == 200
    with app.app_context():
        catch_up(db.session, lag=timedelta(0))
        live = assessment.compute(db.session, last_month, assessment.current_scheme(db.session),
                                  answer_target=15)
        # this month's deductions: one return sent back to the same unit (unjustified), one not
        this_month = assessment.compute(db.session, first, assessment.current_scheme(db.session), answer_target=15)
        db.Session.remove()
    live_row = next(x for x in live if x["department"]["code"] == "housing")
    assert live_row != row  # the live figures did move: 5 holdings now, 2 of them returned
    assert live_row["dispatched"] == 5
    now_row = next(x for x in this_month if x["department"]["code"] == "housing")
    assert now_row["deductions"]["unjustified_return"] == {"count": 1, "points": 5.0}
    assert now_row["deducted"] == 5.0

    after = api("supervisor").get(f"/api/v1/assessment?month={month}").get_json()
    assert after["published"] is True
    assert after["rows"] == published["rows"] and after["scheme"] == published["scheme"]
    # the export of a published month is the snapshot too
    from io import BytesIO

    from openpyxl import load_workbook

    x = api("supervisor").get(f"/api/v1/assessment/export.xlsx?month={month}")
    ws = load_workbook(BytesIO(x.data)).active
    scores = {r[2]: r[-1] for r in ws.iter_rows(min_row=3, values_only=True)}
    assert scores == {r["department"]["code"]: r["score"] for r in published["rows"]}
