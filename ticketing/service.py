"""The only code that changes a ticket.

Every change goes through ``perform``: it locks the ticket, checks visibility, role and transition,
applies the action, appends a hash-chained ``TicketEvent``, commits, and only then publishes the
domain event. A failed check or a lost race leaves nothing written.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from hotline.clock import to_local, to_utc_naive, utcnow
from hotline.events import bus, publish_after_commit
from hotline.extensions import driver_execute, loaded_instance
from hotline.outbox import TABLE as OUTBOX
from hotline.exceptions import Conflict, Forbidden, IllegalAction, NotFound, ValidationFailed
from hotline.identity import Actor

from . import attachments, deadlines, directory, lifecycle, listing
from .actions import HANDLERS, holders
from .audit import CHAIN_VERSION, GENESIS, append_event, seal
from .lifecycle import DEPARTMENT
from .models import Ticket, TicketEvent, TicketSequence, ticket_co_departments
from .schemas import ACTION_SCHEMAS, TicketIn, parse

log = logging.getLogger("hotline.ticketing")


# -- numbers ------------------------------------------------------------------------------------
#: On PostgreSQL numbers are reserved NUMBER_BLOCK at a time in a short transaction of their own, so
#: the per-day counter row is never locked for the length of a ticket's transaction (that lock
#: serialised all creations behind each commit). Unused numbers of a block are skipped when the
#: process stops: numbers stay unique and increasing per process, with possible gaps.
NUMBER_BLOCK = 20
_blocks: dict[str, tuple[int, int]] = {}
_blocks_lock = threading.Lock()


def reset_number_blocks() -> None:
    """Forget reserved blocks (tests that wipe the database between cases)."""
    with _blocks_lock:
        _blocks.clear()


def _reserve(conn, dialect: str, day: str, count: int) -> int:
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(TicketSequence)
    stmt = ins.values(day=day, last=count).on_conflict_do_update(
        index_elements=[TicketSequence.day], set_={"last": TicketSequence.last + count}
    ).returning(TicketSequence.last)
    return conn.execute(stmt).scalar_one()


def _next_number(session, received_utc: datetime) -> str:
    day = to_local(received_utc).strftime("%Y%m%d")
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        # SQLite serialises writers anyway; a second connection would wait on our own lock
        return f"{day}{_reserve(session, engine.dialect.name, day, 1):06d}"
    with _blocks_lock:
        nxt, end = _blocks.get(day, (0, 0))
        if nxt >= end:
            with engine.connect() as conn:
                last = _reserve(conn, "postgresql", day, NUMBER_BLOCK)
                conn.commit()
            nxt, end = last - NUMBER_BLOCK + 1, last + 1
        _blocks[day] = (nxt + 1, end)
    return f"{day}{nxt:06d}"


# -- lookups -------------------------------------------------------------------------------------
def visible_filter(actor: Actor):
    """SQL condition restricting tickets to what the actor may see."""
    if actor.role != DEPARTMENT:
        return None
    co = select(ticket_co_departments.c.ticket_id).where(
        ticket_co_departments.c.department_id == actor.department_id)
    return or_(Ticket.main_department_id == actor.department_id, Ticket.id.in_(co))


def can_see(ticket: Ticket, actor: Actor) -> bool:
    return actor.role != DEPARTMENT or (actor.department_id in ticket.department_ids())


def get_ticket(session, number: str, actor: Actor, *, lock: bool = False) -> Ticket:
    stmt = select(Ticket).where(Ticket.number == number)
    if lock:
        stmt = stmt.with_for_update()
    ticket = session.scalar(stmt)
    if ticket is None or not can_see(ticket, actor):
        # departments get the same answer for "not yours" as for "does not exist"
        raise NotFound(f"ticket {number} not found")
    return ticket


# Statements of the creation path, built once: their SQL compilation is cached by SQLAlchemy either
# way, but building a statement (and its cache key) per request cost as much CPU as running it.
_INSERT_TICKET = Ticket.__table__.insert().returning(Ticket.__table__.c.id)
_INSERT_EVENT = TicketEvent.__table__.insert()


@lru_cache(maxsize=8)
def _insert_ticket_with_event(ticket_keys: tuple, event_keys: tuple, outbox_keys: tuple):
    """PostgreSQL: the ticket, its first event and (``outbox_keys``) the outbox row of its
    ``ticket.created`` in ONE statement (data-modifying CTEs): one round trip instead of three.
    Event parameters are prefixed ``e_``, outbox parameters ``o_``."""
    t, e = Ticket.__table__, TicketEvent.__table__
    new = (t.insert().values({k: bindparam(k, type_=t.c[k].type) for k in ticket_keys})
           .returning(t.c.id).cte("new_ticket"))
    first = select(new.c.id, *[bindparam(f"e_{k}", type_=e.c[k].type) for k in event_keys])
    stmt = e.insert().from_select(["ticket_id", *event_keys], first).returning(e.c.ticket_id)
    if outbox_keys:
        o = OUTBOX
        stmt = stmt.add_cte(o.insert().values({k: bindparam(f"o_{k}", type_=o.c[k].type) for k in outbox_keys})
                            .cte("outbox_row"))
    return stmt


#: columns every new ticket has NULL (no column default): left out of the INSERT, so that the one
#: statement stays within psycopg's limits for caching its parsed query (50 parameters, 4 KiB);
#: beyond them it re-parses the SQL on every execution
_NULL_ON_CREATE = frozenset({"main_department_id", "merged_into_id", "dispatched_at", "signed_at", "replied_at",
                             "closed_at", "satisfaction", "solved", "reply_text", "direct_answer"})


def _insert_ticket(session, row: dict, event: dict, envelope: dict) -> int:
    """Insert the ticket ``row`` and its first event (``event`` without ``ticket_id``); its id.
    On PostgreSQL the outbox row of ``envelope`` (the queued ``ticket.created``) goes with them."""
    row = {k: v for k, v in row.items() if k not in _NULL_ON_CREATE or v is not None}
    if session.get_bind().dialect.name != "postgresql":
        ticket_id = session.execute(_INSERT_TICKET, row).scalar_one()
        session.execute(_INSERT_EVENT, {**event, "ticket_id": ticket_id})
        return ticket_id
    params = dict(row)
    params.update({f"e_{k}": v for k, v in event.items()})
    outbox = bus.claim_outbox_row(envelope) or {}
    params.update({f"o_{k}": v for k, v in outbox.items()})
    sql, processors = _driver_sql(tuple(row), tuple(event), tuple(outbox), session.get_bind().dialect)
    for name, process in processors:
        params[name] = process(params[name])
    return driver_execute(session.connection(), sql, params).fetchone()[0]


@lru_cache(maxsize=8)
def _driver_sql(ticket_keys: tuple, event_keys: tuple, outbox_keys: tuple, dialect):
    """The creation statement compiled once for ``driver_execute``, with the bind processors
    SQLAlchemy's own execution would apply (the JSON columns' serialisation)."""
    compiled = _insert_ticket_with_event(ticket_keys, event_keys, outbox_keys).compile(dialect=dialect)
    return compiled.string, tuple(compiled._bind_processors.items())


# -- creation ------------------------------------------------------------------------------------
def reserve_number(session, received_utc: datetime) -> str:
    """A ticket number for a ticket created later (``create_ticket(number=...)``): voice intake
    reads it to the caller before the call, and so its ticket, is stored. On SQLite the caller
    commits; an unused reservation leaves a gap, never a duplicate."""
    return _next_number(session, received_utc)


def create_ticket(session, data: dict, actor: Actor, *, max_content: int = 4000, commit: bool = True,
                  call_uuid: str | None = None, number: str | None = None) -> Ticket:
    """A new draft ticket. ``call_uuid``: the call it is registered from (one ticket per call: use
    ``register``, which adopts that call's ticket instead). ``commit=False``: part of the caller's
    transaction, the ticket in ``session``; else committed and returned detached, to be read (its
    history is not loaded). ``number``: one ``reserve_number`` gave out (else the next one)."""
    if actor.role == DEPARTMENT:
        raise Forbidden("departments cannot register tickets")
    inp: TicketIn = parse(TicketIn, data)
    if len(inp.content) > max_content:
        raise ValidationFailed("content too long", {"content": f"at most {max_content} characters"})
    town = None
    if inp.town:
        town = directory.town_by_code(session, inp.town)
        if town is None:
            raise ValidationFailed(f"unknown town {inp.town!r}", {"town": f"unknown town {inp.town!r}"})
    now = utcnow()
    received = to_utc_naive(inp.received_at) if inp.received_at else now
    if received > now:
        raise ValidationFailed("received_at is in the future", {"received_at": "must not be in the future"})
    sign, reply = deadlines.compute(session, inp.type, inp.urgency, received)
    number = number or _next_number(session, received)
    event_data = {"channel": inp.channel, "type": inp.type, "urgency": inp.urgency}
    digest, salts = seal(number, 1, "create", actor.username, actor.role, None, lifecycle.DRAFT, None,
                         event_data, now, GENESIS, ticket=SimpleNamespace(
        caller_name=inp.caller.name, caller_phone=inp.caller.phone, caller_id_number=inp.caller.id_number,
        address=inp.address))
    # Two Core INSERTs instead of a unit-of-work flush (about a third less CPU per ticket): creation is
    # the hot path of the API's throughput target, and a new ticket has no relations to cascade yet.
    row = dict(
        number=number, channel=inp.channel, type=inp.type, urgency=inp.urgency, status=lifecycle.DRAFT,
        caller_name=inp.caller.name, caller_phone=inp.caller.phone, caller_id_number=inp.caller.id_number,
        confidential=inp.caller.confidential, content=inp.content, address=inp.address,
        town_id=town.id if town else None, received_at=received, sign_by=sign.at, reply_by=reply.at,
        deadline_estimated_years=sorted(sign.estimated_years | reply.estimated_years) or None,
        created_by=actor.username, reopen_count=0, call_uuid=call_uuid,
        routing_suggestion=inp.routing_suggestion.model_dump() if inp.routing_suggestion else None,
        created_at=now, updated_at=now, event_count=1, head_hash=digest, version=1,
        main_department_id=None, merged_into_id=None, dispatched_at=None, signed_at=None, replied_at=None,
        closed_at=None, satisfaction=None, solved=None, reply_text=None, direct_answer=None)
    envelope = publish_after_commit(session, "ticket.created", {
        "number": number, "status": lifecycle.DRAFT, "type": inp.type, "channel": inp.channel,
        "caller_phone": inp.caller.phone})
    row["id"] = _insert_ticket(session, row, dict(  # parameters, not literals: one cached statement
        seq=1, action="create", actor=actor.username, actor_role=actor.role,
        from_status=None, to_status=lifecycle.DRAFT, note=None, data=event_data, created_at=now,
        prev_hash=GENESIS, hash=digest, chain_version=CHAIN_VERSION, pii_salts=salts), envelope)
    ticket = loaded_instance(Ticket, row)  # it is in the database now: no unit-of-work INSERT
    if not commit:
        session.add(ticket)  # the caller's transaction goes on with it (dispatch, an Open311 request)
    # else it is returned detached (every relation but its history known): the caller only reads it,
    # and attaching it (the session's save-update cascade over its relations) cost a twentieth of a
    # creation on the API's hot path
    for name, value in (("town", town), ("main_department", None), ("merged_into", None),
                        ("co_departments", []), ("extensions", []), ("urgings", []), ("merged", [])):
        set_committed_value(ticket, name, value)  # known, not cascaded: no lazy loads when serialized
    if commit:
        session.commit()
    log.info("ticket.created number=%s type=%s channel=%s actor=%s", ticket.number, ticket.type,
             ticket.channel, actor.username)
    return ticket


# -- a ticket from a call --------------------------------------------------------------------------
#: what the operator may do in the same request as registering (``register``'s ``then``)
REGISTER_THEN = ("dispatch", "answer_directly", "merge", "invalidate")


def lock_call(session, call_uuid: str) -> None:
    """Serialise everything that makes or adopts the ticket of one call (the operator's
    registration, the hang-up's draft) for the rest of the transaction. SQLite already has one
    writer at a time; PostgreSQL takes a transaction-level advisory lock on the call id."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(call_uuid.encode(), digest_size=8).digest(), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))


def ticket_of_call(session, call_uuid: str) -> Ticket | None:
    """The ticket registered from this call, locked (call ``lock_call`` first)."""
    return session.scalar(select(Ticket).where(Ticket.call_uuid == call_uuid).with_for_update())


def register(session, data: dict, actor: Actor, *, max_content: int = 4000,
             call_link: dict | None = None) -> tuple[Ticket, bool]:
    """Register a ticket, from a call or not, and take the operator's next step, as ONE transaction
    published as one change: ``data`` is a ticket (``TicketIn``) plus optional ``call_id`` (the
    call it comes from) and ``then`` ({"action": dispatch|answer_directly|merge|invalidate, ...the
    action's fields}). When the call already has a ticket (the draft made at hang-up) that draft is
    adopted: completed with the operator's type, urgency and wording instead of a second ticket.
    A call whose ticket the operator already registered answers 409. ``call_link``: what the
    console knows of the live call, recorded as ``call_linked`` on a ticket new to the call.
    Returns (ticket, created)."""
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object", {"": "expected an object"})
    data = dict(data)
    call_id, then = data.pop("call_id", None), data.pop("then", None)
    if call_id is not None and (not isinstance(call_id, str) or not 1 <= len(call_id) <= 32):
        raise ValidationFailed("call_id must be a call's id", {"call_id": "1 to 32 characters"})
    if then is not None and (not isinstance(then, dict) or then.get("action") not in REGISTER_THEN):
        raise ValidationFailed("then.action is not a step that can follow registration",
                               {"then.action": f"one of {', '.join(REGISTER_THEN)}"})
    inp: TicketIn = parse(TicketIn, data)
    action = then.pop("action") if then else None
    try:
        existing = None
        if call_id:
            lock_call(session, call_id)
            existing = ticket_of_call(session, call_id)
        if existing is not None and existing.status != lifecycle.DRAFT:
            raise Conflict(f"通话已登记为工单 {existing.number}（{lifecycle.STATUS_LABELS[existing.status]}）",
                           ticket=existing.number)
        if existing is None:
            ticket = create_ticket(session, data, actor, max_content=max_content, commit=False, call_uuid=call_id)
            if call_id and call_link:
                record_event(session, ticket.number, "call_linked", actor, data=call_link, commit=False)
            accept = {}
        else:
            ticket = existing
            accept = _adopt_draft(session, ticket, inp, max_content)
        steps = [] if action == "invalidate" else [("accept", accept)]
        if action:
            steps.append((action, then))
        if steps:
            ticket = perform_steps(session, ticket.number, actor, steps, commit=False)
        if call_id:  # telephony files later records of the live call (transfers) under this ticket
            publish_after_commit(session, "call.ticket", {"call_id": call_id, "number": ticket.number,
                                                          "source": "console", "operator": actor.username})
        session.commit()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise Conflict(f"the ticket of call {call_id} was registered at the same moment; reload") from None
    except Exception:
        session.rollback()
        raise
    log.info("ticket.registered number=%s call=%s adopted=%s then=%s actor=%s", ticket.number, call_id,
             existing is not None, action, actor.username)
    return ticket, existing is None


def _adopt_draft(session, ticket: Ticket, inp: TicketIn, max_content: int) -> dict:
    """The operator's form completes the call's draft: its accept step carries type and urgency,
    and a note with the operator's wording and caller details when they differ from the draft."""
    if len(inp.content) > max_content:
        raise ValidationFailed("content too long", {"content": f"at most {max_content} characters"})
    changes = []
    if inp.content != ticket.content:
        changes.append(f"话务员整理诉求：{inp.content}")
        ticket.content = inp.content
    if inp.caller.name and inp.caller.name != ticket.caller_name:
        changes.append(f"来电人：{inp.caller.name}")
        ticket.caller_name = inp.caller.name
    if inp.caller.phone and not ticket.caller_phone:
        ticket.caller_phone = inp.caller.phone
    if inp.address and inp.address != ticket.address:
        changes.append(f"地址：{inp.address}")
        ticket.address = inp.address
    if inp.town:
        town = session.scalar(_TOWN_BY_CODE, {"code": inp.town})
        if town is None:
            raise ValidationFailed(f"unknown town {inp.town!r}", {"town": f"unknown town {inp.town!r}"})
        ticket.town = town
    if inp.routing_suggestion:
        ticket.routing_suggestion = inp.routing_suggestion
    return {"type": inp.type, "urgency": inp.urgency, "note": "\n".join(changes)[:2000] or None}


# -- actions -------------------------------------------------------------------------------------
def perform(session, number: str, action: str, actor: Actor, data: dict | None = None, *,
            commit: bool = True, attachments_dir=None) -> Ticket:
    """Apply one lifecycle action. ``commit=False``: the caller owns the transaction (the ticket
    is one part of a larger decision, e.g. registering a ticket from a call); a failed check still
    rolls back the session. ``attachments_dir``: where uploads are stored (a reply citing uploads
    is checked against it; without it a reply may not cite any)."""
    ticket, change = _apply(session, number, action, actor, data, attachments_dir)
    publish_after_commit(session, "ticket.changed", change)
    if commit:
        _commit(session, number)
    return ticket


def perform_steps(session, number: str, actor: Actor, steps: list[tuple[str, dict | None]], *,
                  commit: bool = True) -> Ticket:
    """One decision of the user that takes several lifecycle steps (回访 不满意 → 重办): every step
    checked and hash-chained as usual, all in one transaction, published as one ``ticket.changed``
    (the last step's action and data, the first ``from_status``, the last ``to_status``, and
    ``steps`` naming every action). A failing step leaves nothing written, and no console sees a
    passing state (closed, then reopened)."""
    if not steps:
        raise ValueError("no steps")
    ticket, changes = None, []
    for action, data in steps:
        ticket, change = _apply(session, number, action, actor, data)
        changes.append(change)
    publish_after_commit(session, "ticket.changed", dict(
        changes[-1], from_status=changes[0]["from_status"], steps=[c["action"] for c in changes],
        departments=sorted({code for c in changes for code in c["departments"]})))
    if commit:
        _commit(session, number)
    return ticket


def _apply(session, number: str, action: str, actor: Actor, data: dict | None,
           attachments_dir=None) -> tuple[Ticket, dict]:
    """Check and apply one action and append its event, without committing; returns the ticket
    and the ``ticket.changed`` payload to publish after the commit."""
    if not lifecycle.is_known(action):
        raise NotFound(f"unknown action {action!r}; known: {', '.join(lifecycle.ACTIONS)}")
    try:
        ticket = get_ticket(session, number, actor, lock=True)
        status = ticket.status
        transition = lifecycle.transition_for(action)
        allowed_now = lifecycle.allowed(status, actor.role)
        if actor.role not in transition.roles:
            raise Forbidden(f"role {actor.role} may not {action}", allowed_actions=allowed_now)
        if status not in transition.sources:
            raise IllegalAction(
                f"cannot {action} a ticket that is {status}; allowed now: "
                f"{', '.join(allowed_now) or 'none'}", ticket_status=status, allowed_actions=allowed_now)
        if transition.main_department_only and ticket.main_department_id != actor.department_id:
            raise Forbidden(f"only the main department may {action}", allowed_actions=allowed_now)
        payload = parse(ACTION_SCHEMAS[action], data if data is not None else {})
        if getattr(payload, "attachments", None):
            payload = payload.model_copy(
                update={"attachments": attachments.resolve(attachments_dir, actor, payload.attachments)})
        target = transition.target or status
        note, event_data = HANDLERS[action](session, ticket, actor, payload)
        ticket.status = target
        append_event(session, ticket, actor, action, status, target, note, event_data)
        session.flush()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise _concurrent_change(number) from None
    except Exception:
        session.rollback()
        raise
    log.info("ticket.%s number=%s from=%s to=%s actor=%s", action, number, status, target, actor.username)
    return ticket, _change(ticket, actor, action, status, target, event_data)


def _commit(session, number: str) -> None:
    try:
        session.commit()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise _concurrent_change(number) from None
    except Exception:
        session.rollback()
        raise


def _concurrent_change(number: str) -> Conflict:
    return Conflict(f"ticket {number} was changed by someone else at the same time; reload and retry")


def _record(session, ticket: Ticket, actor: Actor, action: str, from_status, to_status, note, data) -> None:
    """Append the event to the chain and queue ``ticket.changed`` for after the commit."""
    append_event(session, ticket, actor, action, from_status, to_status, note, data)
    publish_after_commit(session, "ticket.changed", _change(ticket, actor, action, from_status, to_status, data))


def _change(ticket: Ticket, actor: Actor, action: str, from_status, to_status, data) -> dict:
    """The ``ticket.changed`` payload of one action."""
    return {"number": ticket.number, "action": action, "from_status": from_status, "to_status": to_status,
            "actor": actor.username, "departments": _concerned(ticket, data or {}), "data": data or {},
            "confidential": ticket.confidential}


def _concerned(ticket: Ticket, data: dict) -> list[str]:
    """Every unit a change concerns: the holders after it, and the units the action's data names
    (the unit that returned it, the holders a re-dispatch replaced), so they hear it is gone."""
    codes = {d.code for d in holders(ticket)}
    previous = data.get("previous") if isinstance(data.get("previous"), dict) else {}
    refs = [data.get("department"), data.get("main_department"), *(data.get("co_departments") or ()),
            previous.get("main"), *(previous.get("co") or ())]
    codes.update(ref["code"] for ref in refs if isinstance(ref, dict) and ref.get("code"))
    return sorted(codes)




def record_event(session, number: str, action: str, actor: Actor, *, note: str | None = None,
                 data: dict | None = None, commit: bool = True) -> Ticket:
    """Append a status-neutral system event (see ``lifecycle.SYSTEM_EVENTS``) to a ticket's chain.

    With ``commit=False`` the caller owns the transaction (e.g. to write its own rows atomically
    with the event); the domain event is still published only after that commit.
    """
    if action not in lifecycle.SYSTEM_EVENTS or action == "create":
        raise ValueError(f"{action!r} is not a system event")
    ticket = session.scalar(select(Ticket).where(Ticket.number == number).with_for_update())
    if ticket is None:
        raise NotFound(f"ticket {number} not found")
    if action == "routing_suggested":
        ticket.routing_suggestion = data
    _record(session, ticket, actor, action, ticket.status, ticket.status, note, data)
    if commit:
        try:
            session.commit()
        except (StaleDataError, IntegrityError):
            session.rollback()
            raise _concurrent_change(number) from None
    return ticket


# -- queries -------------------------------------------------------------------------------------
def list_tickets(session, actor: Actor, *, page=1, per_page=50, sort="-created", **criteria):
    """One page of the tickets the actor may see, filtered and sorted on the server (``listing``)."""
    return listing.list_tickets(session, actor, visible=visible_filter(actor), sort=sort, page=page,
                                per_page=per_page, **criteria)


def caller_history(session, phone: str, *, exclude: str | None = None, limit: int = 20) -> list[Ticket]:
    stmt = select(Ticket).where(Ticket.caller_phone == phone).order_by(Ticket.id.desc()).limit(limit)
    if exclude:
        stmt = stmt.where(Ticket.number != exclude)
    return list(session.scalars(stmt))
