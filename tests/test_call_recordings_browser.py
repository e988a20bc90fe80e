"""The case view plays every recording of a call, one player per speaker (real Chromium)."""
from __future__ import annotations

import pytest

from tests.console_helpers import browser, live, login, new_context  # noqa: F401 - fixtures
from tests.test_call_recordings import _set_ticket, _store_bridged

pytestmark = pytest.mark.browser


def test_ticket_page_has_one_player_per_speaker_and_they_play(live, browser, app, api):
    stored = _store_bridged(app)
    number = stored["ticket"]
    ctx = new_context(browser)
    try:
        page = login(ctx, live.url, "operator1")
        page.goto(f"{live.url}/console/tickets/{number}")
        players = page.locator(".recordings .recording")
        players.first.wait_for()
        assert players.count() == 4
        labels = [players.nth(i).locator(".speaker").inner_text() for i in range(4)]
        assert labels == ["市民", "话务员 (1001)", "承办单位 (2001)", "混音"]
        # each player loads its file through the API (Range requests) and knows its length
        durations = page.evaluate("""async () => Promise.all([...document.querySelectorAll('.recordings audio')]
            .map((a) => new Promise((ok, fail) => {
                a.addEventListener('loadedmetadata', () => ok(a.duration), {once: true});
                a.addEventListener('error', () => fail(new Error('cannot load ' + a.src)), {once: true});
                a.preload = 'metadata'; a.load(); })))""")
        assert [round(d, 1) for d in durations] == [1.0, 1.0, 1.0, 1.0]
        page.close()

        operator = api("operator1")
        operator.act(number, "accept")
        assert operator.act(number, "dispatch", {"main_department": "housing"}).status_code == 200
        _set_ticket(app, number, confidential=True)
        page = login(ctx, live.url, "housing")
        page.goto(f"{live.url}/console/tickets/{number}")
        page.get_by_text("无录音").wait_for()  # a confidential caller's voice is not offered
        assert page.locator(".recordings audio").count() == 0
    finally:
        ctx.close()
