"""报表 (reports) in real Chromium on PostgreSQL: every figure on the page equals the figure this test
computes from the seeded ticket rows itself (tests/report_helpers.py), a figure's drill-down lists
exactly the tickets it counts, the CSV and XLSX exports hold the page's figures, the charts (Apache
ECharts, served from this server) have data tables that say the same.
"""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from hotline.clock import to_local, utcnow
from hotline.extensions import db
from tests.console_helpers import browser, live, login, new_context, screenshot  # noqa: F401 (fixtures)
from tests.report_helpers import RATES, counters, seed, shown

COLUMNS = ("received",) + tuple(RATES)


def _seeded(app):
    from supervision.rollup import rebuild

    with app.app_context():
        specs = seed(db.session)
        rebuild(db.session)
        db.Session.remove()
    end = to_local(utcnow()).date()
    return specs, end - timedelta(days=25), end


def _table(page) -> dict[str, dict[str, str]]:
    """The report table as {row key: {column: text}} (the totals row under "total")."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#report-table tr[data-key]')].map(tr =>
        [tr.dataset.key, Object.fromEntries([...tr.querySelectorAll('td[data-col]')].map(td => [td.dataset.col, td.textContent]))]))""")


def _drilled(page) -> list[str]:
    """Every ticket number of the drill-down list, following its pages."""
    from playwright.sync_api import expect

    drill = page.locator("#drill-list")
    numbers = []
    while True:
        numbers += drill.locator("li[data-number]").evaluate_all("els => els.map(e => e.dataset.number)")
        nxt = drill.get_by_role("button", name="下一页")
        if nxt.is_disabled():
            return numbers
        before = drill.get_attribute("data-loaded")
        nxt.click()
        expect(drill).not_to_have_attribute("data-loaded", before)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.browser
def test_reports_page_figures_drilldown_exports(app, live, browser):
    from openpyxl import load_workbook
    from playwright.sync_api import expect

    specs, start, end = _seeded(app)
    want = counters(specs, start, end)
    page = login(new_context(browser), live.url, "supervisor")
    page.get_by_role("link", name="报表").click()
    expect(page.locator("#report-table tbody tr").first).to_be_visible()
    page.get_by_label("开始日期").fill(start.isoformat())
    page.get_by_label("结束日期").fill(end.isoformat())
    status = page.locator("#report-status")
    page.get_by_role("button", name="查询").click()
    expect(status).to_contain_text(f"{start.isoformat()} 至 {end.isoformat()}")

    # every figure of every unit row equals the independent computation
    table = _table(page)
    assert set(table) - {"total"} == set(want["unit"]), table.keys()
    for unit, c in want["unit"].items():
        for col in COLUMNS:
            assert table[unit][col] == shown(c, col), (unit, col)
    total = {k: set().union(*(c[k] for c in want["unit"].values())) for k in
             ("received", "holding", "signed_on_time", "replied_on_time", "extended", "callback_due", "called_back",
              "satisfied", "has_phone", "repeat_call", "dispatched", "returned")}
    for col in COLUMNS:
        assert table["total"][col] == shown(total, col), col
    assert table["total"]["answer_rate"] == "—"  # no calls seeded
    # definitions on hover: each KPI header carries its one definition
    th = page.locator('#report-table th[data-col="on_time_rate"]')
    assert "分母" in th.get_attribute("title")
    expect(page.locator("#definitions")).to_contain_text(th.get_attribute("title"))
    screenshot(page, "reports-units")

    # drill-down: housing's 按期办结率 -> its denominator, then its numerator: exactly the counted tickets
    page.locator('#report-table tr[data-key="housing"] td[data-col="on_time_rate"] button').click()
    expect(page.locator("#drill-title")).to_contain_text("分母")
    expect(page.locator("#drill-list [data-role=count]")).to_have_text(f"共 {len(want['unit']['housing']['holding'])} 件")
    assert sorted(_drilled(page)) == sorted(want["unit"]["housing"]["holding"])
    page.locator("#drill").get_by_role("button", name="分子").click()
    expect(page.locator("#drill-title")).to_contain_text("分子")
    expected = want["unit"]["housing"]["replied_on_time"]
    expect(page.locator("#drill-list [data-role=count]")).to_have_text(f"共 {len(expected)} 件")
    assert sorted(_drilled(page)) == sorted(expected)
    # the totals row's 回访率 numerator: every called-back ticket of the period
    page.locator('#report-table tr[data-key="total"] td[data-col="callback_rate"] button').click()
    page.locator("#drill").get_by_role("button", name="分子").click()
    expect(page.locator("#drill-list [data-role=count]")).to_have_text(f"共 {len(total['called_back'])} 件")
    assert sorted(_drilled(page)) == sorted(total["called_back"])

    # 退回率's denominator counts holdings (the returning unit's and the current one's): water's list
    q = f"from={start}&to={end}&group_by=unit&key=water&kpi=return_rate&part=denominator&per_page=200"
    listed = page.request.get(f"{live.url}/api/v1/reports/tickets?{q}").json()
    assert listed["total"] == listed["figure"] == len(want["unit"]["water"]["dispatched"])
    assert sorted(i["number"] for i in listed["items"]) == sorted(n.split("/")[0] for n in want["unit"]["water"]["dispatched"])

    # ranking: sort by 及时签收率 (server-side), ranks follow the values
    page.locator('#report-table th[data-col="sign_rate"] button').click()
    expect(page.locator('#report-table th[data-col="sign_rate"]')).to_have_attribute("aria-sort", "descending")
    ranked = page.evaluate("""() => [...document.querySelectorAll('#report-table tbody tr')].map(tr =>
        [tr.dataset.key, tr.querySelector('td[data-col=rank]').textContent, tr.querySelector('td[data-col=sign_rate]').textContent])""")
    values = [float(v.rstrip("%")) for _k, r, v in ranked if v != "—"]
    assert values == sorted(values, reverse=True) and ranked[0][1] == "1"

    # exports: the same rows, order and figures as the page
    header = page.evaluate("() => [...document.querySelectorAll('#report-table thead th')].map(t => t.textContent.replace(/ [↑↓]$/, ''))")
    body = page.evaluate("""() => [...document.querySelectorAll('#report-table tbody tr, #report-table tfoot tr')].map(tr =>
        [...tr.children].map(td => td.textContent))""")
    csv_text = page.request.get(live.url + page.locator("#export-csv").get_attribute("href")).text()
    lines = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert lines[0] == header and lines[1:] == body
    xlsx = page.request.get(live.url + page.locator("#export-xlsx").get_attribute("href")).body()
    ws = load_workbook(io.BytesIO(xlsx)).active
    got = [[_as_shown(cell) for cell in row] for row in ws.iter_rows(min_row=3)]
    assert [c.value for c in ws[2]] == header and got == body

    # charts: ECharts drew them from this server; their data tables say the page's figures
    assert page.evaluate("() => typeof echarts") == "object"
    expect(page.locator("#dist-chart canvas")).to_have_count(1)
    page.get_by_label("图表指标").select_option("sign_rate")
    expect(page.locator("#dist-title")).to_contain_text("及时签收率")
    dist = page.evaluate("() => [...document.querySelectorAll('#dist-table tbody tr')].map(tr => [...tr.children].map(c => c.textContent))")
    col = header.index("及时签收率")
    by_label = {r[1]: r[col] for r in body}
    assert dist and all(by_label[label] == value for label, value in dist)
    page.get_by_text("趋势数据表").click()  # the chart's text version: one row per day, the same figures
    expect(page.locator("#trend-title")).to_contain_text("及时签收率")
    trend = page.evaluate("() => [...document.querySelectorAll('#trend-table tbody tr')].map(tr => [...tr.children].map(c => c.textContent))")
    assert {d: v for d, v in trend if v != "—"} == {d: shown(c, "sign_rate") for d, c in want["day"].items()
                                                    if shown(c, "sign_rate") != "—"}

    # grouped by town: the same figures from the town rollup
    page.get_by_label("分组").select_option("town")
    expect(page.locator("#report-caption")).to_contain_text("按镇街分组")
    table = _table(page)
    assert set(table) - {"total"} == set(want["town"])
    for town, c in want["town"].items():
        for col in COLUMNS:
            assert table[town][col] == shown(c, col), (town, col)
    screenshot(page, "reports-towns")


def _as_shown(cell) -> str:
    """An XLSX cell as Excel displays it under its number format."""
    v = cell.value
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if cell.number_format == "0.0%":
        return f"{v * 100:.1f}%"
    if cell.number_format == "0.0":
        return f"{v:.1f}"
    return str(v)


def test_report_api_groupings_and_errors(app, api):
    """Weeks and months sum the days; type grouping equals the rows; bad parameters are 422 naming
    the field; departments and operators may not read reports."""
    specs, start, end = _seeded(app)
    want = counters(specs, start, end)
    sup = api("supervisor")
    q = f"from={start}&to={end}"
    by_type = sup.get(f"/api/v1/reports?{q}&group_by=type").get_json()
    for row in by_type["rows"]:
        for col in COLUMNS:
            assert row["text"][col] == shown(want["type"][row["key"]], col), (row["key"], col)
    days = sup.get(f"/api/v1/reports?{q}&group_by=day").get_json()
    every = set().union(*(c["received"] for c in want["type"].values()))
    for group in ("week", "month"):
        rep = sup.get(f"/api/v1/reports?{q}&group_by={group}").get_json()
        assert sum(r["counts"]["received"] for r in rep["rows"]) == len(every)
        assert rep["total"]["text"] == days["total"]["text"]
        for row in rep["rows"]:  # each bucket's drill-down: the tickets received in its days
            lo = date.fromisoformat(row["key"] if group == "week" else row["key"] + "-01")
            hi = lo + timedelta(days=6) if group == "week" else (lo + timedelta(days=32)).replace(day=1)
            inside = {s.number for s in specs if s.number in every and lo <= s.day and (s.day <= hi if group == "week" else s.day < hi)}
            got, page_no = [], 1
            while True:
                drill = sup.get(f"/api/v1/reports/tickets?{q}&group_by={group}&key={row['key']}&kpi=received"
                                f"&per_page=200&page={page_no}").get_json()
                got += [i["number"] for i in drill["items"]]
                if len(got) >= drill["total"]:
                    break
                page_no += 1
            assert drill["total"] == drill["figure"] == row["counts"]["received"] == len(inside)
            assert sorted(got) == sorted(inside)
    for bad, field in (("group_by=year", "group_by"), ("sort=nope", "sort"), ("type=x", "type"),
                       ("group_by=town&type=咨询", "group_by"), ("from=2026-13-01", "from")):
        r = sup.get(f"/api/v1/reports?{bad}")
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (bad, r.get_json())
    r = sup.get(f"/api/v1/reports/tickets?{q}&kpi=answer_rate")
    assert r.status_code == 422 and "kpi" in r.get_json()["error"]["fields"]
    for who in ("housing", "operator1"):
        assert api(who).get(f"/api/v1/reports?{q}").status_code == 403
