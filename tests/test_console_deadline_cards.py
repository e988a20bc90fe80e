"""The consoles show the server's deadline card (ticketing.cards), not a rule of their own, in a
real Chromium. Urgent tickets count natural hours and warn HOTLINE_WARNING_HOURS (4 h) before the
deadline: a reply due in 10 h is no card for the server, though the old 24 h page rule said yellow."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tests.console_helpers import browser, live, login, new_context  # noqa: F401 (fixtures)


def _urgent_ticket(api, hours_left: int) -> tuple[str, dict]:
    """An urgent 求助 signed by housing, its 24-hour reply deadline ``hours_left`` hours from now."""
    op = api("operator1")
    received = datetime.now(timezone.utc) - timedelta(hours=24 - hours_left)
    r = op.post("/api/v1/tickets", json={"type": "求助", "urgency": "urgent", "content": f"紧急：还剩{hours_left}小时",
                                         "received_at": received.isoformat()})
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["number"]
    assert op.act(number, "accept").status_code == 200
    assert op.act(number, "dispatch", {"main_department": "housing"}).status_code == 200
    assert api("housing").act(number, "sign").status_code == 200
    return number, api("housing").get(f"/api/v1/tickets/{number}").get_json()


def test_department_inbox_shows_the_servers_card_only(live, browser, api):
    from playwright.sync_api import expect

    yellow, t_yellow = _urgent_ticket(api, 3)
    quiet, t_quiet = _urgent_ticket(api, 10)
    assert t_yellow["deadline_state"]["card"] == "yellow" and t_yellow["deadline_state"]["kind"] == "reply"
    assert t_quiet["deadline_state"]["card"] == "none"
    left = datetime.fromisoformat(t_quiet["deadlines"]["reply_by"]) - datetime.now(timezone.utc)
    assert timedelta(hours=5) < left < timedelta(hours=24)  # the old page rule (< 24 h left) said yellow

    dept = login(new_context(browser), live.url, "housing")
    inbox = dept.locator("#inbox")
    row_yellow, row_quiet = inbox.locator(f'li[data-number="{yellow}"]'), inbox.locator(f'li[data-number="{quiet}"]')
    expect(row_yellow).to_have_class(re.compile(r"\bdeadline-yellow\b"))
    expect(row_yellow.locator(".badge.yellow")).to_have_text("即将超期")
    expect(row_quiet).to_be_visible()
    expect(row_quiet.locator(".badge.yellow")).to_have_count(0)
    expect(row_quiet.locator(".badge.red")).to_have_count(0)
    assert "deadline-" not in (row_quiet.get_attribute("class") or "")
    dept.context.close()
