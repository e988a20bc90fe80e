"""The department inbox holds a real unit's load: 1,000 open tickets in one unit, in real Chromium.

The inbox shows the total, the most urgent ticket first (earliest running deadline, computed here
from the seeded rows), finds any one ticket by its number or its caller's phone tail, pages on
the server, and moves with the keyboard (j/k/arrows, Enter opens).
"""
from __future__ import annotations

import re

import pytest

from hotline.extensions import db
from tests.console_helpers import browser, live, login, new_context, screenshot  # noqa: F401 (fixtures)
from tests.list_helpers import bulk_tickets, most_urgent_first

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_inbox_with_1000_open_tickets(app, live, browser):
    from playwright.sync_api import expect

    with app.app_context():
        specs = bulk_tickets(db.session, "housing", 1000)
        bulk_tickets(db.session, "water", 30, prefix="2098")  # another unit's tickets never show
        db.Session.remove()
    order = most_urgent_first(specs)
    page = login(new_context(browser), live.url, "housing")
    inbox = page.locator("#inbox")
    count = inbox.locator('[data-role="count"]')
    rows = inbox.locator("li[data-number]")

    expect(count).to_have_text("共 1000 件")
    expect(rows).to_have_count(50)
    assert rows.evaluate_all("els => els.map(e => e.dataset.number)") == order[:50]
    expect(rows.first).to_have_class(re.compile("deadline-red"))
    expect(inbox.locator('[data-role="page"]')).to_have_text("第 1 / 20 页")
    expect(inbox).to_contain_text("键盘操作")
    screenshot(page, "department-inbox-1000")

    # the last page holds the least urgent ones: nothing beyond 200 is lost
    inbox.get_by_role("button", name="下一页").click()
    expect(inbox.locator('[data-role="page"]')).to_have_text("第 2 / 20 页")
    assert rows.evaluate_all("els => els.map(e => e.dataset.number)") == order[50:100]

    # any ticket by its number, including one far down the list
    search = inbox.get_by_role("searchbox", name="搜索待办工单")
    target = next(s for s in specs if s.number == order[-1])  # the least urgent of all
    search.fill(target.number)
    expect(count).to_have_text("共 1 件")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-number", target.number)

    # by the caller's last 4 digits; the unit sees a masked number, never the full one
    other = next(s for s in specs[600:] if not s.confidential)
    expected = sorted(s.number for s in specs if s.phone.endswith(other.phone[-4:]) and not s.confidential)
    search.fill(other.phone[-4:])
    for number in expected:
        expect(inbox.locator(f'li[data-number="{number}"]')).to_have_count(1)
    expect(count).to_have_text(f"共 {len(expected)} 件")
    assert sorted(rows.evaluate_all("els => els.map(e => e.dataset.number)")) == expected
    expect(inbox).not_to_contain_text(other.phone)
    expect(inbox).to_contain_text(other.phone[:3] + "****" + other.phone[-4:])

    # filters run on the server too: overdue count equals the seeded overdue tickets (± a boundary one)
    search.fill("")
    expect(count).to_have_text("共 1000 件")
    inbox.get_by_label("时限状态").select_option("overdue")
    expect(count).not_to_have_text("共 1000 件")
    shown = int(count.get_attribute("data-total"))
    from hotline.clock import utcnow
    now = utcnow()
    assert abs(shown - sum(1 for s in specs if s.due < now)) <= 1

    # keyboard: j/k and arrows move the highlight, Enter opens the ticket
    inbox.get_by_label("时限状态").select_option("")
    expect(count).to_have_text("共 1000 件")
    listbox = inbox.get_by_role("listbox", name="待办工单")
    listbox.focus()
    page.keyboard.press("j")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("k")
    page.keyboard.press("j")
    expect(inbox.locator("li.active")).to_have_attribute("data-number", order[2])
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_contain_text(order[2])


from tests.test_supervision_lists import urged  # noqa: E402,F401 (fixture)


def test_supervisor_lists_of_urgings_escalations_and_overdue(app, api, live, browser, urged):
    from playwright.sync_api import expect

    specs, urgings, acked, escalated = urged
    page = login(new_context(browser), live.url, "supervisor")

    # overdue: one row per ticket, its worst card first, paged (25 a page)
    overdue = page.locator("#list-overdue")
    from sqlalchemy import select

    from hotline.clock import utcnow
    from ticketing.models import Ticket
    with app.app_context():  # the tickets whose running deadline is past, counted from the rows
        rows = db.session.execute(select(Ticket.status, Ticket.signed_at, Ticket.sign_by, Ticket.reply_by)
                                  .where(Ticket.status.in_(("dispatched", "in_progress")))).all()
        now = utcnow()
        watched = [r for r in rows if r.reply_by < now or (r.status == "dispatched" and r.sign_by < now)]
        db.Session.remove()
    expect(overdue.locator('[data-role="count"]')).to_have_text(f"共 {len(watched)} 件")
    expect(page.locator('[data-kpi="overdue"]')).to_have_text(str(len(watched)))
    first = overdue.locator("li[data-number]").first
    expect(first.locator(".cards")).to_contain_text("红牌")
    numbers = overdue.locator("li[data-number]").evaluate_all("els => els.map(e => e.dataset.number)")
    assert len(numbers) == len(set(numbers)) == min(25, len(watched))

    # 督办: state, who issued it, which unit; filter by state on the server; pages
    page.get_by_role("tab", name="督办", exact=True).click()
    lst = page.locator("#list-urgings")
    count = lst.locator('[data-role="count"]')
    expect(count).to_have_text("共 30 件")
    expect(lst.locator("li[data-number]")).to_have_count(25)
    expect(lst.locator("li[data-number]").first).to_contain_text("督办人 supervisor")
    expect(lst.locator("li[data-number]").first).to_contain_text("县住房和城乡规划建设局")
    lst.get_by_role("button", name="下一页").click()
    expect(lst.locator("li[data-number]")).to_have_count(5)
    lst.get_by_label("督办状态").select_option("escalated")
    expect(count).to_have_text(f"共 {len(escalated)} 件")
    expect(lst.locator('li[data-state="escalated"]')).to_have_count(min(25, len(escalated)))
    lst.get_by_label("督办状态").select_option("open")
    expect(count).to_have_text("共 3 件")
    expect(lst.locator("li[data-number]").first).to_contain_text("待签收")

    # 通报: the unit, the urging's issuer, acknowledged or not
    page.get_by_role("tab", name="通报").click()
    esc = page.locator("#list-escalations")
    expect(esc.locator('[data-role="count"]')).to_have_text(f"共 {len(escalated)} 件")
    acked_escalated = len({e["urging_id"] for e in escalated} & set(acked))
    expect(esc.locator('li[data-state="acknowledged"]')).to_have_count(acked_escalated)
    expect(esc.locator("li[data-number]").first).to_contain_text("督办人 supervisor")
    # keyboard: Enter opens the highlighted row's ticket
    esc.get_by_role("listbox", name="通报").focus()
    page.keyboard.press("j")
    target = esc.locator("li.active").get_attribute("data-number")
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_contain_text(target)
    screenshot(page, "supervisor-escalations")


def test_operator_review_list_is_paged_on_the_server(app, live, browser):
    from playwright.sync_api import expect

    from ticketing.models import Ticket
    with app.app_context():
        specs = bulk_tickets(db.session, "housing", 30)
        db.session.execute(Ticket.__table__.update().where(Ticket.number.in_([s.number for s in specs[:12]]))
                           .values(status="callback"))
        db.session.execute(Ticket.__table__.update().where(Ticket.number.in_([s.number for s in specs[12:]]))
                           .values(status="replied"))
        db.session.commit()
        db.Session.remove()
    page = login(new_context(browser), live.url, "operator1")
    page.get_by_role("tab", name="答复审核与回访").click()
    review = page.locator("#review")
    count = review.locator('[data-role="count"]')
    expect(count).to_have_text("共 30 件")
    expect(review.locator("li[data-number]")).to_have_count(25)
    review.get_by_role("button", name="下一页").click()
    expect(review.locator("li[data-number]")).to_have_count(5)
    review.get_by_label("审核状态").select_option("callback")
    expect(count).to_have_text("共 12 件")
    review.get_by_role("searchbox").fill(specs[3].number)
    expect(count).to_have_text("共 1 件")
    expect(review.locator("li[data-number]").first).to_have_attribute("data-number", specs[3].number)
