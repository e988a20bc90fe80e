"""``hotline demo seed --tickets N``: realistic history, fast.

Bypasses the per-ticket service for speed (one ticket through ``perform`` costs several queries and
a commit; a million would take hours) but writes what the service would: every ticket with a full,
valid hash-chained history (``ticketing.audit.event_digest``), so ``hotline audit verify`` passes,
numbers from the same per-day sequence, deadlines from the same policy and working calendar. The
KPI rollups are then brought up to date by the normal updater (``rollup.catch_up``).

Shape (numbers from practice, see /work/shared/domain/12345-norms.md): type mix 咨询 63 %, 求助 29 %,
投诉 3 %, 举报 1.5 %, 建议 2 %, 表扬 1 %, 申请 0.5 %; most 咨询 answered directly; every active unit
gets tickets (a few units get most); ~8 % signed late, ~10 % replied late, ~5 % returned, ~3 %
extended; 90 % of replies called back, 85 % 满意 / 10 % 基本满意 / 5 % 不满意 (reopened and handled
again); callers drawn from a pool so repeat calls occur. Tickets of the last 3 days stay open.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, text

from ticketing import deadlines
from ticketing.audit import GENESIS, event_digest
from hotline.clock import to_local, utcnow
from ticketing.models import Department, Ticket, TicketEvent, TicketSequence
from ticketing.sla import WorkCalendar, deadline_after, extend

TYPE_MIX = (("咨询", 63.0), ("求助", 29.0), ("投诉", 3.0), ("举报", 1.5), ("建议", 2.0), ("表扬", 1.0), ("申请", 0.5))
CONTENT = {
    "咨询": ["咨询社保卡补办需要哪些材料", "咨询公积金提取条件", "咨询新生儿落户办理流程", "咨询不动产登记办理时间"],
    "求助": ["小区路灯损坏多日无人维修", "家中停水已超过一天", "道路井盖缺失存在安全隐患", "楼道堆放杂物影响通行"],
    "投诉": ["商户夜间施工噪音扰民", "餐馆油烟直排影响居民", "出租车拒载", "超市销售过期食品"],
    "举报": ["有人在河道非法采砂", "工地违规排放污水", "无证经营网吧接纳未成年人"],
    "建议": ["建议增加公交班次", "建议在学校门口增设红绿灯"],
    "表扬": ["表扬社区工作人员热心帮助"],
    "申请": ["申请困难群众临时救助"],
}
EVENT_COLS = ("ticket_id", "seq", "action", "actor", "actor_role", "from_status", "to_status", "note", "data",
              "created_at", "prev_hash", "hash")
TICKET_COLS = ("id", "number", "channel", "type", "urgency", "status", "caller_name", "caller_phone",
               "caller_id_number", "confidential", "content", "address", "town_id", "main_department_id",
               "received_at", "sign_by", "reply_by", "deadline_estimated_years", "dispatched_at", "signed_at",
               "replied_at", "closed_at", "satisfaction", "solved", "reply_text", "direct_answer",
               "merged_into_id", "routing_suggestion", "reopen_count", "created_by", "created_at", "updated_at",
               "event_count", "head_hash", "version")


def _json(value):
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class _Chain:
    """Builds one ticket's hash-chained events exactly as ``ticketing.service`` would."""

    def __init__(self, ticket: dict):
        self.t, self.events, self.prev = ticket, [], GENESIS

    def add(self, at: datetime, action: str, actor: str, role: str, to_status: str, note=None, data=None):
        seq = len(self.events) + 1
        from_status = self.t["status"] if seq > 1 else None
        digest = event_digest(self.t["number"], seq, action, actor, role, from_status, to_status, note, data, at,
                              self.prev)
        self.events.append({"ticket_id": self.t["id"], "seq": seq, "action": action, "actor": actor,
                            "actor_role": role, "from_status": from_status, "to_status": to_status, "note": note,
                            "data": data or None, "created_at": at, "prev_hash": self.prev, "hash": digest})
        self.prev = digest
        self.t["status"] = to_status
        self.t["event_count"], self.t["head_hash"], self.t["updated_at"] = seq, digest, at


class _MemoCalendar(WorkCalendar):
    """The working calendar with per-day memo (chinese-calendar validates each date in O(holidays))."""

    def __init__(self, base: WorkCalendar):
        super().__init__(overrides=base.overrides, admin_years=base.admin_years)
        self._memo: dict = {}

    def is_workday(self, day):
        value = self._memo.get(day)
        if value is None:
            value = self._memo[day] = WorkCalendar.is_workday(self, day)
        return value


class _Deadlines:
    """The policy and calendar loaded once, computing deadlines like ``ticketing.deadlines``."""

    def __init__(self, cal, policy_rows: list[dict]):
        self.cal = _MemoCalendar(cal)
        self.policy = {(p["type"], p["urgency"]): p for p in policy_rows}

    def compute(self, ticket_type: str, urgency: str, start: datetime):
        p = self.policy[(ticket_type, urgency)]
        return (deadline_after(self.cal, start, p["sign_amount"], p["sign_unit"]),
                deadline_after(self.cal, start, p["reply_amount"], p["reply_unit"]))


def _pick_type(rng) -> str:
    return rng.choices([t for t, _ in TYPE_MIX], weights=[w for _, w in TYPE_MIX])[0]


def _life(rng, chain: _Chain, depts: list, weights: list, now: datetime, ctx: "_Deadlines") -> None:
    t = chain.t
    at = t["received_at"]
    op = rng.choice(("operator1", "operator2"))
    chain.add(at, "create", op, "operator", "draft", data={"channel": t["channel"], "type": t["type"],
                                                          "urgency": t["urgency"]})
    at += timedelta(minutes=rng.randint(2, 15))
    chain.add(at, "accept", op, "operator", "accepted")
    if t["type"] == "咨询" and rng.random() < 0.85:
        answer = "已根据知识库答复市民"
        t["direct_answer"], t["closed_at"] = {"article_id": None, "answer": answer}, at
        chain.add(at, "answer_directly", op, "operator", "closed", data={"article_id": None, "answer": answer})
        return
    open_ticket = t["received_at"] > now - timedelta(days=3)

    def dispatch(when, action="dispatch"):
        dept = rng.choices(depts, weights=weights)[0]
        t["main_department_id"], t["dispatched_at"] = dept.id, when
        chain.add(when, action, op, "operator", "dispatched",
                  data={"main_department": {"code": dept.code, "name": dept.name}, "co_departments": []})
        return dept

    at += timedelta(minutes=rng.randint(5, 60))
    dept = dispatch(at)
    if rng.random() < 0.05:
        at += timedelta(hours=rng.randint(2, 20))
        chain.add(at, "return", f"dept-{dept.code}", "department", "returned", note="非本单位职责",
                  data={"department": {"code": dept.code, "name": dept.name}, "co_departments": []})
        t["main_department_id"] = None
        at += timedelta(minutes=rng.randint(10, 120))
        dept = dispatch(at)
    if open_ticket and rng.random() < 0.5:
        return
    late_sign = rng.random() < 0.08
    at = (t["sign_by"] + timedelta(hours=rng.randint(1, 30))) if late_sign else at + (t["sign_by"] - at) * rng.random() * 0.8
    unit = f"dept-{dept.code}"
    t["signed_at"] = at
    chain.add(at, "sign", unit, "department", "in_progress", data={"department": {"code": dept.code, "name": dept.name}})
    if rng.random() < 0.03:
        at += timedelta(hours=rng.randint(1, 48))
        chain.add(at, "request_extension", unit, "department", "in_progress", note="需协调多部门", data={"workdays": 5})
        old = t["reply_by"]
        t["reply_by"] = extend(ctx.cal, old, 5).at
        t["_extension"] = {"workdays": 5, "requested_at": at}
        at += timedelta(hours=rng.randint(1, 8))
        chain.add(at, "approve_extension", "supervisor", "supervisor", "in_progress",
                  data={"extension_id": None, "workdays": 5,
                        "reply_by": {"from": to_local(old).isoformat(), "to": to_local(t["reply_by"]).isoformat()}})
    if open_ticket and rng.random() < 0.5:
        return
    late_reply = rng.random() < 0.10
    span = max(t["reply_by"] - at, timedelta(hours=1))
    at = (t["reply_by"] + timedelta(hours=rng.randint(2, 100))) if late_reply else at + span * (0.1 + 0.8 * rng.random())
    if at > now:
        return
    reply = "已安排人员现场处理，问题已解决"
    t["replied_at"], t["reply_text"] = at, reply
    chain.add(at, "reply", unit, "department", "replied", data={"text": reply, "attachments": []})
    at += timedelta(hours=rng.randint(1, 24))
    chain.add(at, "approve_reply", op, "operator", "callback")
    if rng.random() > 0.9 or at > now - timedelta(days=1):
        return
    at += timedelta(hours=rng.randint(2, 48))
    r = rng.random()
    sat = "满意" if r < 0.85 else "基本满意" if r < 0.95 else "不满意"
    solved = sat != "不满意" and rng.random() < 0.95
    t.update(satisfaction=sat, solved=solved, closed_at=at)
    chain.add(at, "callback", op, "operator", "closed", data={"satisfaction": sat, "solved": solved})
    if sat == "不满意":
        at += timedelta(hours=1)
        t["reopen_count"] = 1
        t.update(satisfaction=None, solved=None, closed_at=None, signed_at=None, replied_at=None, dispatched_at=at)
        chain.add(at, "reopen", op, "operator", "dispatched", note="回访不满意，重办",
                  data={"department": {"code": dept.code, "name": dept.name}, "reopen_count": 1})
        sign_d, reply_d = ctx.compute(t["type"], t["urgency"], at)
        t["sign_by"], t["reply_by"] = sign_d.at, reply_d.at


#: tickets per write transaction: each batch holds the database's write lock for about 0.1 s
#: (SQLite has one writer), the same whether 2,000 or 2,000,000 tickets are seeded
BATCH = 500


def generate(session, tickets: int, *, days: int = 365, seed: int = 12345, batch: int = BATCH,
             now: datetime | None = None, echo=None, update_rollups: bool = True) -> dict:
    """Write ``tickets`` tickets received over the last ``days`` days; returns counts.

    Each batch takes two short transactions: its numbers from the shared per-day sequence, then its
    rows, built in between with no transaction open. A server using the same database (the
    embedded SQLite default above all) writes between them; rollups catch up in small steps too.
    """
    from .rollup import catch_up, let_others_write

    rng = random.Random(seed)
    now = now or utcnow()
    ctx = _Deadlines(deadlines.calendar(session), deadlines.policy_table(session))
    depts = session.scalars(select(Department).where(Department.active.is_(True)).order_by(Department.id)).all()
    session.commit()  # end the read (objects stay loaded): no transaction open while rows are built
    if not depts:
        raise RuntimeError("no departments: run `hotline seed` first")
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(depts))]
    rng.shuffle(weights)
    phones = [f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}" for _ in range(max(10, int(tickets * 0.7)))]
    start = now - timedelta(days=days)
    received = sorted(start + timedelta(seconds=rng.random() * days * 86400 - 3 * 3600) for _ in range(tickets))
    written = Counter()
    for i in range(0, tickets, batch):
        chunk = received[i:i + batch]
        numbers = _reserve_numbers(session, chunk)
        session.commit()
        rows = _build_batch(rng, chunk, numbers, depts, weights, phones, ctx, now)
        _insert_batch(session, rows, written)
        session.commit()
        let_others_write(session)
        if echo and ((i // batch) % 10 == 9 or i + batch >= tickets):
            echo(f"  {min(i + batch, tickets)}/{tickets} tickets, {written['events']} events")
    rolled = catch_up(session, lag=timedelta(0)) if update_rollups else 0
    return {"tickets": written["tickets"], "events": written["events"], "rollup_tickets": rolled}


def _reserve_numbers(session, received: list[datetime]) -> list[str]:
    """Numbers for a batch from the shared per-day sequence (the service numbers on after them)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    per_day = Counter(to_local(r).strftime("%Y%m%d") for r in received)
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(TicketSequence)
    next_seq = {}
    for day, k in per_day.items():
        last = session.execute(ins.values(day=day, last=k).on_conflict_do_update(
            index_elements=[TicketSequence.day], set_={"last": TicketSequence.last + k})
            .returning(TicketSequence.last)).scalar_one()
        next_seq[day] = last - k + 1
    numbers = []
    for r in received:
        day = to_local(r).strftime("%Y%m%d")
        numbers.append(f"{day}{next_seq[day]:06d}")
        next_seq[day] += 1
    return numbers


def _reserve_ids(session, n: int) -> list[int]:
    """Ticket ids, taken inside the transaction that inserts the rows (SQLite: the max id is only
    stable while we hold the write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text("SELECT nextval('tickets_id_seq') FROM generate_series(1, :n)"), {"n": n}))
    top = session.scalar(select(func.max(Ticket.id))) or 0
    return list(range(top + 1, top + 1 + n))


def _build_batch(rng, received, numbers, depts, weights, phones, ctx, now) -> list[tuple[dict, list, dict | None]]:
    """Each ticket of the batch with its events and extension; ids are filled in at insert."""
    out = []
    for number, rec in zip(numbers, received):
        ttype = _pick_type(rng)
        urgency = "urgent" if rng.random() < 0.02 else "normal"
        sign_d, reply_d = ctx.compute(ttype, urgency, rec)
        t = {c: None for c in TICKET_COLS}
        t.update(number=number, channel="phone" if rng.random() < 0.85 else "web", type=ttype,
                 urgency=urgency, status="draft", caller_name=rng.choice(("张先生", "李女士", "王先生", "陈女士", None)),
                 caller_phone=rng.choice(phones) if rng.random() < 0.95 else None, confidential=False,
                 content=rng.choice(CONTENT[ttype]), received_at=rec, sign_by=sign_d.at, reply_by=reply_d.at,
                 reopen_count=0, created_by="demo-seed", created_at=rec, updated_at=rec, version=1)
        years = sorted(sign_d.estimated_years | reply_d.estimated_years)
        t["deadline_estimated_years"] = years or None
        chain = _Chain(t)
        _life(rng, chain, depts, weights, now, ctx)
        ext = t.pop("_extension", None)
        if ext:
            ext = {"department_id": t["main_department_id"], "workdays": ext["workdays"],
                   "reason": "需协调多部门", "status": "approved", "requested_by": "demo-seed",
                   "requested_at": ext["requested_at"], "decided_by": "supervisor",
                   "decided_at": ext["requested_at"]}
        out.append((t, chain.events, ext))
    return out


def _insert_batch(session, rows: list[tuple[dict, list, dict | None]], written) -> None:
    ids = _reserve_ids(session, len(rows))
    tickets, events, extensions = [], [], []
    for tid, (t, evs, ext) in zip(ids, rows):
        t["id"] = tid
        tickets.append(t)
        for ev in evs:
            ev["ticket_id"] = tid
        events.extend(evs)
        if ext:
            extensions.append(dict(ext, ticket_id=tid))
    _bulk(session, Ticket.__table__, TICKET_COLS, tickets, json_cols={"deadline_estimated_years", "direct_answer",
                                                                      "routing_suggestion"})
    _bulk(session, TicketEvent.__table__, EVENT_COLS, events, json_cols={"data"})
    if extensions:
        from ticketing.models import Extension

        session.execute(insert(Extension), extensions)
    written["tickets"] += len(tickets)
    written["events"] += len(events)


def _bulk(session, table, cols, rows, json_cols) -> None:
    """COPY on PostgreSQL, executemany elsewhere; JSON columns serialised like ``JSONText``."""
    if session.get_bind().dialect.name == "postgresql":
        conn = session.connection().connection.driver_connection
        with conn.cursor().copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_json(row[c]) if c in json_cols else row[c] for c in cols])
        return
    session.execute(insert(table), [{c: r[c] for c in cols} for r in rows])
