"""Access records (PIPL art. 51): who saw an unmasked number or ID number, who played a recording
or read a transcript; listed for admins over the API and on a zh-CN page in a real browser."""
from __future__ import annotations

from tests.conftest import both_databases
from tests.console_helpers import browser, live, login, new_context, screenshot  # noqa: F401 (fixtures)
from tests.test_privacy_projection import _store_call
from tests.ticket_helpers import COMPLAINT


def _records(admin, **query):
    r = admin.get("/api/v1/privacy/access-records", query_string=query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _kinds(admin, **query):
    return sorted((i["actor"], i["kind"], i["ticket"]) for i in _records(admin, **query)["items"])


@both_databases
def test_unmasked_views_and_playbacks_are_recorded(app, api, client):
    op, sup, housing, admin = api("operator1"), api("supervisor"), api("housing"), api("admin")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    assert _records(admin)["total"] == 0  # registering is not a disclosure: the author typed it
    assert op.act(number, "accept").status_code == 200
    assert op.act(number, "dispatch", {"main_department": "housing"}).status_code == 200
    before = _records(admin)["total"]
    assert before == 2 * 2  # the two action answers showed operator1 the number and the ID

    assert op.get(f"/api/v1/tickets/{number}").status_code == 200
    assert sup.get(f"/api/v1/tickets/{number}").status_code == 200
    assert housing.get(f"/api/v1/tickets/{number}").status_code == 200  # masked: not recorded
    via = f"GET /api/v1/tickets/{number}"
    items = [i for i in _records(admin, ticket=number)["items"] if i["via"] == via]
    assert sorted((i["actor"], i["actor_role"], i["kind"]) for i in items) == [
        ("operator1", "operator", "id_number"), ("operator1", "operator", "phone"),
        ("supervisor", "supervisor", "phone")]
    assert {i["kind_label"] for i in items} == {"查看完整号码", "查看完整证件号"}

    # a list answer writes one row per ticket shown unmasked
    other = op.post("/api/v1/tickets", json={**COMPLAINT, "caller": {"phone": "13900001111"}}).get_json()["number"]
    assert sup.get("/api/v1/tickets").status_code == 200
    listed = [i for i in _records(admin, actor="supervisor")["items"] if i["via"] == "GET /api/v1/tickets"]
    assert sorted(i["ticket"] for i in listed) == sorted([number, other])

    # recordings: a playback is recorded once, a seek inside it is not
    call = _store_call(app)
    assert op.act(call["ticket"], "accept").status_code == 200
    assert op.act(call["ticket"], "dispatch", {"main_department": "housing"}).status_code == 200
    url = f"/api/v1/calls/{call['call_id']}/recording"
    assert housing.get(url).status_code == 200
    assert client.get(url, headers={**housing.headers, "Range": "bytes=100-199"}).status_code == 206
    assert client.get(url, headers={**housing.headers, "Range": "bytes=0-99"}).status_code == 206
    played = _records(admin, kind="recording")["items"]
    assert [(i["actor"], i["ticket"], i["call_id"]) for i in played] == [
        ("housing", call["ticket"], call["call_id"])] * 2
    assert housing.get(f"/api/v1/calls/{call['call_id']}").status_code == 200
    assert _kinds(admin, actor="housing", kind="transcript") == [("housing", "transcript", call["ticket"])]
    assert op.get(f"/api/v1/calls/{call['call_id']}").status_code == 200
    assert ("operator1", "phone", call["ticket"]) in _kinds(admin, actor="operator1", ticket=call["ticket"])


def test_only_admins_list_access_records_and_filters_are_checked(app, api):
    admin = api("admin")
    for who in ("operator1", "supervisor", "housing"):
        assert api(who).get("/api/v1/privacy/access-records").status_code == 403
    bad = admin.get("/api/v1/privacy/access-records", query_string={"kind": "everything"})
    assert bad.status_code == 422 and "kind" in bad.get_json()["error"]["fields"]
    assert admin.get("/api/v1/privacy/access-records", query_string={"from": "yesterday"}).status_code == 422
    assert admin.get("/api/v1/privacy/access-records", query_string={"per_page": "0"}).status_code == 422
    doc = admin.get("/api/v1/openapi.json").get_json()
    assert "get" in doc["paths"]["/api/v1/privacy/access-records"]


def test_admin_reads_access_records_on_the_page(live, browser, api):  # noqa: F811
    from playwright.sync_api import expect

    op = api("operator1")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    assert op.get(f"/api/v1/tickets/{number}").status_code == 200
    ctx = new_context(browser)
    try:
        page = login(ctx, live.url, "admin")
        page.get_by_role("link", name="访问记录").click()
        table = page.get_by_role("table", name="访问记录")
        expect(table).to_contain_text("查看完整证件号")
        expect(table.get_by_role("link", name=number).first).to_be_visible()
        page.get_by_label("访问类型").select_option("recording")
        page.get_by_role("button", name="查询").click()
        expect(table).to_contain_text("没有访问记录")
        page.get_by_label("访问类型").select_option("phone")
        page.get_by_label("用户名").fill("operator1")
        page.get_by_role("button", name="查询").click()
        expect(table).to_contain_text("查看完整号码")
        expect(table).not_to_contain_text("查看完整证件号")
        screenshot(page, "privacy-access-records")
        other = login(ctx, live.url, "supervisor")
        expect(other.get_by_role("link", name="访问记录")).to_have_count(0)
        assert other.goto(live.url + "/console/privacy").url.endswith("/console/privacy") is False
    finally:
        ctx.close()
