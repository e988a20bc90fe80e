"""Many open tickets in one unit, inserted in bulk (a working list's load, seeded in a second).

The rows are plain ticket rows without history events: the lists read tickets only. Each row's
deadlines, phone, type and town are derived from its index so a test can compute the expected list
from the returned specs itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ticketing import lifecycle as lc
from hotline.clock import utcnow
from ticketing.models import Department, Ticket, Town
from ticketing.sla import TYPES


@dataclass
class Spec:
    number: str
    status: str
    type: str
    phone: str
    content: str
    sign_by: datetime
    reply_by: datetime
    signed: bool
    town: str | None
    confidential: bool = False

    @property
    def due(self) -> datetime:
        """The running deadline, computed here independently of the code under test."""
        return self.sign_by if self.status == lc.DISPATCHED and not self.signed else self.reply_by


def bulk_tickets(session, department: str, n: int, *, prefix: str = "2099", start: int = 0,
                 now: datetime | None = None) -> list[Spec]:
    """Insert ``n`` open tickets held by ``department``; deadlines spread from 3 days overdue to
    27 days ahead in a shuffled (but reproducible) order. Commits."""
    now = now or utcnow()
    dept_id = session.scalar(select(Department.id).where(Department.code == department))
    towns = list(session.execute(select(Town.id, Town.code).order_by(Town.id)).all())[:5]
    specs, rows = [], []
    for i in range(start, start + n):
        k = (i * 7919) % 10007  # a permutation of the indexes: deadlines not in insertion order
        status = (lc.DISPATCHED, lc.IN_PROGRESS, lc.RETURNED)[i % 3]
        signed = status != lc.DISPATCHED
        reply_by = now + timedelta(minutes=(k % 2880) * 15 - 3 * 24 * 60)
        sign_by = reply_by - timedelta(days=2, minutes=i % 50)
        town = towns[i % len(towns)] if towns and i % 4 else None
        spec = Spec(number=f"{prefix}{i:010d}", status=status, type=TYPES[i % len(TYPES)],
                    phone=f"139{i:08d}", content=f"第{i}号 测试诉求 路灯不亮 编号K{i}K",
                    sign_by=sign_by, reply_by=reply_by, signed=signed, town=town[1] if town else None,
                    confidential=(i % 97 == 5))
        specs.append(spec)
        rows.append({"number": spec.number, "channel": "phone", "type": spec.type, "urgency": "normal",
                     "status": status, "caller_name": "测试市民", "caller_phone": spec.phone,
                     "confidential": spec.confidential, "content": spec.content,
                     "town_id": town[0] if town else None, "main_department_id": dept_id,
                     "received_at": now - timedelta(days=5, minutes=i), "sign_by": sign_by, "reply_by": reply_by,
                     "dispatched_at": now - timedelta(days=5), "signed_at": now - timedelta(days=4) if signed else None,
                     "reopen_count": 0, "created_by": "bulk", "created_at": now - timedelta(days=5, minutes=i),
                     "updated_at": now, "event_count": 0, "head_hash": "", "version": 1})
    session.execute(Ticket.__table__.insert(), rows)
    session.commit()
    return specs


def most_urgent_first(specs: list[Spec]) -> list[str]:
    """The expected order of ``sort=urgency`` over running tickets: earliest running deadline first."""
    order = sorted(enumerate(specs), key=lambda p: (p[1].due, -p[0]))  # ties: newest row first, as the server
    return [s.number for _, s in order]


def make_all_overdue(session, specs: list[Spec], days: int = 30) -> None:
    """Move every deadline of these tickets ``days`` back (all of them overdue). Commits."""
    from sqlalchemy import bindparam

    for s in specs:
        s.sign_by -= timedelta(days=days)
        s.reply_by -= timedelta(days=days)
    table = Ticket.__table__
    session.execute(table.update().where(table.c.number == bindparam("n")).values(
        sign_by=bindparam("s"), reply_by=bindparam("r")),
        [{"n": s.number, "s": s.sign_by, "r": s.reply_by} for s in specs])
    session.commit()
