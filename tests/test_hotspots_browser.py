"""The 热点 and 考核 pages in real Chromium: figures equal to what this test computes from the rows it
seeded; hotspot.detected reaches the supervisor's open page once; the assessment's XLSX export and
printable page show the page's figures."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from hotline.clock import CST, to_local, to_utc_naive, utcnow
from hotline.extensions import db
from tests.console_helpers import browser, live, login, new_context, screenshot  # noqa: F401 (fixtures)
from tests.hotspot_helpers import pinned_start, simulate

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _day_bounds(day):
    start = to_utc_naive(datetime(day.year, day.month, day.day, tzinfo=CST))
    return start, start + timedelta(days=1)


def test_hotspot_page(app, live, browser, events):
    from playwright.sync_api import expect

    from supervision import hotspots
    from ticketing.models import Ticket, Town

    with app.app_context():
        sim = simulate(db.session, start=pinned_start(40), days=36, n_spikes=3, seed=7)
        hotspots.catch_up(db.session)
        spike_day, matter, town_id = sorted(sim.spikes)[-1]
        lo, hi = _day_bounds(spike_day)
        # nothing but the simulated tickets on that day: the expected figures are the simulation's
        assert db.session.scalar(select(func.count()).select_from(Ticket)
                                 .where(Ticket.received_at >= lo, Ticket.received_at < hi)) == \
            sum(n for (d, _m, _t), n in sim.counts.items() if d == spike_day)
        town_name = {t.id: t.name for t in db.session.scalars(select(Town))}
        db.Session.remove()
    by_matter = Counter()
    for (d, m, _t), n in sim.counts.items():
        if d == spike_day:
            by_matter[m] += n

    page = login(new_context(browser), live.url, "supervisor")
    page.get_by_role("link", name="热点").click()
    page.get_by_label("日期").fill(spike_day.isoformat())
    page.get_by_role("button", name="查询").click()
    page.wait_for_function(f"() => document.body.dataset.loaded === '{spike_day.isoformat()}'")
    expect(page.locator("#hs-summary")).to_contain_text(f"共 {sum(by_matter.values())} 件")
    shown = page.locator("#hs-matters tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].textContent, Number(r.cells[1].textContent)])")
    assert dict(shown) == dict(by_matter)
    # every matter x town row: today's count and the mean of the same weekday in the 4 weeks before
    cells = page.locator("#hs-cells tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")
    names = {v: k for k, v in town_name.items()}
    for m, town, count, baseline, _flag in cells:
        key = (m, names[town])
        assert int(count) == sim.counts.get((spike_day, *key), 0)
        base = [sim.counts.get((spike_day - timedelta(days=7 * k), *key), 0) for k in range(1, 5)]
        assert float(baseline) == pytest.approx(sum(base) / 4, abs=1e-3)
    spike_rows = page.locator("#hs-spikes tbody tr")
    expect(spike_rows.filter(has_text=matter).filter(has_text=town_name[town_id])).to_have_count(1)
    expect(page.locator("#hs-clusters li").first).to_contain_text("件")
    # the early warning reaches this open page once, however often the job runs
    with app.app_context():
        hotspots.announce(db.session, spike_day, hotspots.HotspotSettings())
        hotspots.announce(db.session, spike_day, hotspots.HotspotSettings())
        db.Session.remove()
    live_items = page.locator(f'#hs-live li[data-matter="{matter}"][data-town="{town_name[town_id]}"]')
    expect(live_items).to_have_count(1)
    expect(live_items).to_contain_text(str(sim.counts[(spike_day, matter, town_id)]))
    assert sum(1 for n, p in events if n == "hotspot.detected" and p["matter"] == matter
               and p["town"] == sim.towns[town_id]) == 1
    screenshot(page, "hotspots")


def test_assessment_page(app, live, browser):
    """Units' tickets of last month seeded as rows (signed/replied on time or not); the admin sets a
    scheme on the page; the scores, ranks, XLSX export and printable page equal the test's own
    computation from those rows; publishing freezes the month."""
    from playwright.sync_api import expect

    from supervision.models import DeadlineCard
    from supervision.rollup import rebuild
    from ticketing.models import Department, Ticket

    today = to_local(utcnow()).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month = last_month.strftime("%Y-%m")
    plan = {"housing": (12, 9, 6, 3), "water": (8, 8, 2, 0), "market": (5, 1, 5, 1)}  # n, signed in time, replied in time, red cards
    with app.app_context():
        ids = dict(db.session.execute(select(Department.code, Department.id)).all())
        at = to_utc_naive(datetime(last_month.year, last_month.month, 10, 9, tzinfo=CST))
        rows, k, own = [], 0, {}
        for code, (n, sign_ok, reply_ok, _red) in plan.items():
            for i in range(n):
                k += 1
                own.setdefault(code, []).append(f"2096{k:010d}")
                rows.append({"number": f"2096{k:010d}", "channel": "phone", "type": "求助", "urgency": "normal",
                             "status": "replied", "caller_name": "测试", "caller_phone": None, "confidential": False,
                             "content": "测试诉求", "main_department_id": ids[code], "received_at": at,
                             "dispatched_at": at, "sign_by": at + timedelta(days=1), "reply_by": at + timedelta(days=5),
                             "signed_at": at + timedelta(hours=2 if i < sign_ok else 30),
                             "replied_at": at + timedelta(days=3 if i < reply_ok else 8),
                             "reopen_count": 0, "created_by": "t", "created_at": at, "updated_at": at,
                             "event_count": 0, "head_hash": "", "version": 1})
        db.session.execute(Ticket.__table__.insert(), rows)
        db.session.commit()
        tickets = dict(db.session.execute(select(Ticket.number, Ticket.id)).all())
        for code, (_n, _s, _r, red) in plan.items():
            for j in range(red):
                db.session.add(DeadlineCard(ticket_id=tickets[own[code][j]], deadline_kind="reply", card="red",
                                            deadline_at=at + timedelta(days=j), department_id=ids[code],
                                            issued_at=at + timedelta(days=6)))
        db.session.commit()
        rebuild(db.session)
        names = {c: db.session.scalar(select(Department.name).where(Department.code == c)) for c in plan}
        db.Session.remove()

    # the test's own computation: weights 40 / 60 on 及时签收率 / 按期办结率, 2 points per red card
    expected = {code: round(100 * (40 * s / n + 60 * r / n) / 100 - 2 * red, 2) for code, (n, s, r, red) in plan.items()}
    order = sorted(expected, key=lambda c: (-expected[c], c))

    page = login(new_context(browser), live.url, "admin")
    page.get_by_role("link", name="考核").click()
    page.get_by_label("考核月份").fill(month)
    weights = {"及时签收率权重": 40, "按期办结率权重": 60, "退回率权重": 0, "延期率权重": 0, "回访率权重": 0,
               "满意率权重": 0, "解决率权重": 0, "直接办结率权重": 0, "重办率权重": 0, "重复来电率权重": 0,
               "红牌每次扣分": 2, "通报每次扣分": 0, "不当退回每次扣分": 0, "回访不满意每次扣分": 0}
    for label, value in weights.items():
        page.get_by_label(label, exact=True).fill(str(value))
    page.get_by_role("button", name="保存方案").click()
    expect(page.locator("#toasts")).to_contain_text("考核方案已保存")
    page.get_by_role("button", name="查询").click()
    table = page.locator("#as-table tbody tr")
    expect(table.first).to_have_attribute("data-code", order[0])
    for code in order:  # the figures under the new scheme (the page re-reads the month after saving)
        expect(page.locator(f'#as-table tr[data-code="{code}"] [data-col=score]')).to_have_text(f"{expected[code]:.2f}")
    got = table.evaluate_all("rows => rows.map(r => [r.dataset.code, r.querySelector('[data-col=rank]').textContent,"
                             " r.querySelector('[data-col=score]').textContent])")
    assert [(c, int(rank), float(score)) for c, rank, score in got] == \
        [(c, i + 1, expected[c]) for i, c in enumerate(order)]
    expect(page.locator('#as-table tr[data-code="housing"] [data-deduction="red_card"]')).to_have_text("3")
    expect(page.locator("#as-state")).to_have_text("未发布（实时计算）")
    screenshot(page, "assessment")

    # XLSX: the page's figures
    from openpyxl import load_workbook

    x = page.request.get(f"{live.url}/api/v1/assessment/export.xlsx?month={month}")
    ws = load_workbook(BytesIO(x.body())).active
    assert [(r[2], r[0], r[-1]) for r in ws.iter_rows(min_row=3, values_only=True)] == \
        [(c, i + 1, expected[c]) for i, c in enumerate(order)]

    # publish (confirm dialog), then the printable page shows the frozen figures
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="发布本月考核").click()
    expect(page.locator("#as-state")).to_contain_text("已发布")
    expect(page.get_by_role("button", name="发布本月考核")).to_be_hidden()
    printable = page.context.new_page()
    printable.goto(f"{live.url}/console/assessment/print?month={month}")
    expect(printable.locator("#state")).to_contain_text("已发布")
    for i, code in enumerate(order):
        row = printable.locator(f'#print-table tr[data-code="{code}"] td')
        expect(row.first).to_have_text(str(i + 1))
        expect(row.nth(1)).to_have_text(names[code])
        expect(row.last).to_have_text(f"{expected[code]:.2f}")
