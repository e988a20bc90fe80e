"""The ticket lifecycle as data: (status, action) -> new status, and the roles allowed.

``None`` as the target means the action keeps the status (sub-records: notes, extensions, urging).
The table is the single source of truth for the service, the API's 409 messages and the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

from hotline.identity import ADMIN, DEPARTMENT, OPERATOR, ROLES, SUPERVISOR

DESK = frozenset({OPERATOR, SUPERVISOR, ADMIN})  # the hotline's own staff
SUPERVISORS = frozenset({SUPERVISOR, ADMIN})
DEPT = frozenset({DEPARTMENT})

DRAFT, ACCEPTED, DISPATCHED, IN_PROGRESS, RETURNED = "draft", "accepted", "dispatched", "in_progress", "returned"
REPLIED, CALLBACK, CLOSED, MERGED, INVALID = "replied", "callback", "closed", "merged", "invalid"
STATUSES = (DRAFT, ACCEPTED, DISPATCHED, IN_PROGRESS, RETURNED, REPLIED, CALLBACK, CLOSED, MERGED, INVALID)
OPEN_STATUSES = (DRAFT, ACCEPTED, DISPATCHED, IN_PROGRESS, RETURNED, REPLIED, CALLBACK)
FINAL_STATUSES = (CLOSED, MERGED, INVALID)

STATUS_LABELS = {
    DRAFT: "草稿", ACCEPTED: "已受理", DISPATCHED: "已派单", IN_PROGRESS: "办理中", RETURNED: "已退回",
    REPLIED: "已答复", CALLBACK: "待回访", CLOSED: "已办结", MERGED: "已并单", INVALID: "无效",
}

ACTION_LABELS = {
    "accept": "受理", "answer_directly": "直接办结", "dispatch": "派单", "sign": "签收", "return": "退回",
    "reassign": "改派", "request_extension": "申请延期", "approve_extension": "批准延期",
    "deny_extension": "驳回延期", "reply": "答复", "approve_reply": "审核通过", "reject_reply": "审核退回",
    "callback": "回访", "close": "办结", "reopen": "重办", "merge": "并单", "invalidate": "置为无效",
    "urge": "督办", "note": "备注",
}

#: Events that other packages record on a ticket without changing its status (deadline cards,
#: urging acknowledgements, calls and transfers). They go through ``service.record_event``.
SYSTEM_EVENTS = {
    "create": "登记", "yellow_card": "黄牌预警", "red_card": "红牌超期", "acknowledge_urge": "督办签收",
    "escalate": "通报", "call_linked": "关联通话", "transfer": "转接", "three_party": "三方通话",
    "routing_suggested": "智能分派建议", "privacy_erased": "个人信息删除",
    "contact_requested": "发起联系诉求人", "contact_citizen": "联系诉求人",
    "citizen_photos": "市民上传图片",
}
ACTION_LABELS.update({k: v for k, v in SYSTEM_EVENTS.items() if k not in ACTION_LABELS})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None
    roles: frozenset[str]
    main_department_only: bool = False  # a department user must hold the ticket as main unit


TRANSITIONS: tuple[Transition, ...] = (
    Transition("accept", (DRAFT,), ACCEPTED, DESK),
    Transition("answer_directly", (ACCEPTED,), CLOSED, DESK),
    Transition("dispatch", (ACCEPTED, RETURNED), DISPATCHED, DESK),
    Transition("sign", (DISPATCHED,), IN_PROGRESS, DEPT, True),
    Transition("return", (DISPATCHED, IN_PROGRESS), RETURNED, DEPT, True),
    Transition("reassign", (DISPATCHED, IN_PROGRESS, RETURNED), DISPATCHED, DESK),
    Transition("request_extension", (IN_PROGRESS,), None, DEPT, True),
    Transition("approve_extension", (IN_PROGRESS,), None, SUPERVISORS),
    Transition("deny_extension", (IN_PROGRESS,), None, SUPERVISORS),
    Transition("reply", (IN_PROGRESS,), REPLIED, DEPT, True),
    Transition("approve_reply", (REPLIED,), CALLBACK, DESK),
    Transition("reject_reply", (REPLIED,), IN_PROGRESS, DESK),
    Transition("callback", (CALLBACK,), CLOSED, DESK),
    Transition("close", (CALLBACK,), CLOSED, DESK),
    Transition("reopen", (CLOSED,), DISPATCHED, DESK),
    Transition("merge", OPEN_STATUSES, MERGED, DESK),
    Transition("invalidate", (DRAFT, ACCEPTED), INVALID, DESK),
    Transition("urge", (DISPATCHED, IN_PROGRESS, RETURNED, REPLIED), None, SUPERVISORS),
    Transition("note", STATUSES, None, frozenset(ROLES)),
)

ACTIONS = tuple(t.action for t in TRANSITIONS)
_BY_KEY = {(t.action, s): t for t in TRANSITIONS for s in t.sources}
_BY_ACTION = {t.action: t for t in TRANSITIONS}


def transition_for(action: str) -> Transition:
    """The one transition an action has (the table holds each action once)."""
    return _BY_ACTION[action]


def find(status: str, action: str) -> Transition | None:
    return _BY_KEY.get((action, status))


def is_known(action: str) -> bool:
    return action in _BY_ACTION


def allowed(status: str, role: str) -> list[str]:
    """Actions a role may take on a ticket in this status, in table order."""
    return [t.action for t in TRANSITIONS if status in t.sources and role in t.roles]


def target_of(status: str, action: str) -> str:
    t = find(status, action)
    assert t is not None
    return t.target or status
