"""Build tickets in any lifecycle status through the real service, for table-driven tests."""
from __future__ import annotations

from sqlalchemy import select

from hotline.auth import User
from ticketing import lifecycle as lc
from ticketing import service
from hotline.identity import Actor

COMPLAINT = {"type": "投诉", "channel": "phone", "content": "小区门口餐馆油烟很大，晚上熏得没法开窗",
             "caller": {"name": "张先生", "phone": "13812345678", "id_number": "11010519491231002X"},
             "address": "罗阳街道北门路12号"}

#: a valid body for every action (dispatch/reassign go to housing, the demo department user's unit)
BODIES = {
    "accept": {}, "answer_directly": {"answer": "已按知识库答复"}, "dispatch": {"main_department": "housing"},
    "sign": {}, "return": {"note": "不属于本单位职责"}, "reassign": {"main_department": "housing"},
    "request_extension": {"workdays": 3, "reason": "需现场勘查"}, "approve_extension": {},
    "deny_extension": {"note": "理由不充分"}, "reply": {"text": "已责令整改"}, "approve_reply": {},
    "reject_reply": {"note": "答复不完整"}, "callback": {"satisfaction": "满意", "solved": True},
    "close": {"note": "三次回访未接通"}, "reopen": {"note": "市民不满意"}, "merge": {"into": None},
    "invalidate": {"note": "骚扰电话"}, "urge": {"note": "请尽快办理"}, "note": {"note": "补充材料"},
}

#: the path of actions (with who does them) that brings a fresh draft into each status
PATHS = {
    lc.DRAFT: [],
    lc.ACCEPTED: ["accept"],
    lc.DISPATCHED: ["accept", "dispatch"],
    lc.IN_PROGRESS: ["accept", "dispatch", "sign"],
    lc.RETURNED: ["accept", "dispatch", "return"],
    lc.REPLIED: ["accept", "dispatch", "sign", "reply"],
    lc.CALLBACK: ["accept", "dispatch", "sign", "reply", "approve_reply"],
    lc.CLOSED: ["accept", "dispatch", "sign", "reply", "approve_reply", "callback"],
    lc.MERGED: ["accept", "dispatch", "merge"],
    lc.INVALID: ["invalidate"],
}


def actors(session) -> dict[str, Actor]:
    users = {u.username: u for u in session.scalars(select(User))}
    return {"operator": users["operator1"].actor(), "supervisor": users["supervisor"].actor(),
            "admin": users["admin"].actor(), "department": users["housing"].actor()}


def body_for(action: str, master: str | None = None) -> dict:
    body = dict(BODIES[action])
    if action == "merge":
        body["into"] = master
    return body


def make_ticket(session, status: str, *, data: dict | None = None, pending_extension: bool = False) -> str:
    who = actors(session)
    number = service.create_ticket(session, data or COMPLAINT, who["operator"]).number
    master = None
    for action in PATHS[status]:
        actor = who["department"] if action in ("sign", "return", "reply") else who["operator"]
        if action == "merge":
            master = service.create_ticket(session, COMPLAINT, who["operator"]).number
        service.perform(session, number, action, actor, body_for(action, master))
    if pending_extension:
        service.perform(session, number, "request_extension", who["department"], body_for("request_extension"))
    return number
