"""End-to-end walks through the REST API, on SQLite and on PostgreSQL."""
from __future__ import annotations

from .conftest import both_databases
from .ticket_helpers import COMPLAINT


def actions_of(ticket):
    return [e["action"] for e in ticket["events"]]


@both_databases
def test_complaint_walks_to_closed(api):
    op, dept, sup = api("operator1"), api("housing"), api("supervisor")
    r = op.post("/api/v1/tickets", json=COMPLAINT)
    assert r.status_code == 201
    t = r.get_json()
    number = t["number"]
    assert t["status"] == "draft" and t["deadlines"]["reply_by"] and t["deadlines"]["sign_by"]
    assert op.act(number, "accept").get_json()["status"] == "accepted"
    t = op.act(number, "dispatch", {"main_department": "housing", "co_departments": ["market"]}).get_json()
    assert t["status"] == "dispatched"
    assert t["main_department"] == {"code": "housing", "name": "县住房和城乡规划建设局"}
    assert [d["code"] for d in t["co_departments"]] == ["market"]
    assert dept.act(number, "sign").get_json()["status"] == "in_progress"
    t = dept.act(number, "reply", {"text": "已责令餐馆安装油烟净化器"}).get_json()
    assert t["status"] == "replied" and t["reply"] == "已责令餐馆安装油烟净化器"
    assert sup.act(number, "approve_reply").get_json()["status"] == "callback"
    t = op.act(number, "callback", {"satisfaction": "满意", "solved": True}).get_json()
    assert t["status"] == "closed" and t["satisfaction"] == "满意" and t["solved"] is True
    full = op.get(f"/api/v1/tickets/{number}").get_json()
    assert actions_of(full) == ["create", "accept", "dispatch", "sign", "reply", "approve_reply", "callback"]
    assert [e["seq"] for e in full["events"]] == list(range(1, 8))
    assert full["events"][3]["actor"] == "housing"


@both_databases
def test_return_redispatch_extension_unsatisfied_reopen(api):
    op, housing, water, sup = api("operator1"), api("housing"), api("water"), api("supervisor")
    number = op.post("/api/v1/tickets", json={**COMPLAINT, "type": "求助",
                                              "content": "家里停水两天了，没人来修"}).get_json()["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing"})
    t = housing.act(number, "return", {"note": "供水属水务局职责"}).get_json()
    assert t["status"] == "returned" and t["main_department"] is None
    assert housing.get(f"/api/v1/tickets/{number}").status_code == 404  # no longer held
    op.act(number, "dispatch", {"main_department": "water"})
    water.act(number, "sign")
    t = water.act(number, "request_extension", {"workdays": 5, "reason": "需更换主管道"}).get_json()
    before = t["deadlines"]["reply_by"]
    assert t["extensions"][0]["status"] == "pending"
    t = sup.act(number, "approve_extension", {"note": "同意"}).get_json()
    assert t["extensions"][0]["status"] == "approved"
    assert t["deadlines"]["reply_by"] > before
    water.act(number, "reply", {"text": "已修复"})
    op.act(number, "approve_reply")
    t = op.act(number, "callback", {"satisfaction": "不满意", "solved": False}).get_json()
    assert t["status"] == "closed" and t["satisfaction"] == "不满意"
    t = op.act(number, "reopen", {"note": "市民反映仍然停水"}).get_json()
    assert t["status"] == "dispatched" and t["reopen_count"] == 1
    assert t["main_department"]["code"] == "water"
    assert t["satisfaction"] is None
    assert water.act(number, "sign").status_code == 200
    full = op.get(f"/api/v1/tickets/{number}").get_json()
    assert actions_of(full) == ["create", "accept", "dispatch", "return", "dispatch", "sign",
                                "request_extension", "approve_extension", "reply", "approve_reply",
                                "callback", "reopen", "sign"]


@both_databases
def test_duplicate_is_merged(api):
    op = api("operator1")
    first = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    second = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    assert first != second
    op.act(first, "accept")
    t = op.act(second, "merge", {"into": first, "note": "同一诉求"}).get_json()
    assert t["status"] == "merged" and t["merged_into"] == first
    master = op.get(f"/api/v1/tickets/{first}").get_json()
    assert master["events"][-1]["data"] == {"merged_from": second}
    assert master["merged_tickets"] == [second]
    assert op.act(second, "accept").status_code == 409
    assert op.act(first, "merge", {"into": first}).status_code == 422


def test_answer_directly_cites_article(api):
    op = api("operator1")
    number = op.post("/api/v1/tickets", json={"type": "咨询", "content": "社保卡丢了怎么补办"}).get_json()["number"]
    op.act(number, "accept")
    assert op.act(number, "answer_directly", {}).status_code == 422
    t = op.act(number, "answer_directly", {"article_id": 12, "note": "按知识库答复"}).get_json()
    assert t["status"] == "closed" and t["direct_answer"]["article_id"] == 12


def test_list_filters_and_pagination(api):
    op = api("operator1")
    for i in range(3):
        op.post("/api/v1/tickets", json={**COMPLAINT, "type": "咨询" if i else "投诉"})
    r = op.get("/api/v1/tickets?type=咨询&per_page=1&page=2").get_json()
    assert r["total"] == 2 and len(r["items"]) == 1 and r["page"] == 2
    assert op.get("/api/v1/tickets?status=draft").get_json()["total"] == 3
    assert op.get("/api/v1/tickets?overdue=true").get_json()["total"] == 0
    assert op.get("/api/v1/tickets?per_page=0").status_code == 422
    assert op.get("/api/v1/tickets?department=nope").status_code == 422
    assert op.get("/api/v1/tickets?from=notadate").status_code == 422
