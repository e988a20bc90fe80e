"""Socket.IO namespace ``/console``: authenticated connections, rooms, and bus → room fan-out.

Rooms: ``user:<id>`` for everyone, ``operators`` and ``ext:<sip extension>`` for operators,
``dept:<code>`` for department users, ``supervisors`` for supervisors and admins. A department
user joins only its own unit's room, so another unit's ticket events never reach it.

Every message is one ``event`` frame ``{"id", "name", "payload", "ts"}``: ``id`` is the event's
unique id, ``ts`` the publish time (ms since the epoch) — right after the commit — so benches can
measure commit → console.

Catch-up after a socket reconnect: the browser re-fetches its state (inbox, current calls with the
transcript so far, wallboard) over HTTP on every ``connect``, not only the first: the REST read is
the truth, the socket only says "something changed, here is what". A gap on the server side (this
process's Redis listener lost its connection) is closed by the event bus itself, which replays the
outbox rows committed meanwhile (``hotline.outbox``).

Multi-process (REDIS_URL): the event bus brings every event to every process exactly once (by
event id, whether it came from this process's commit, Redis, or an outbox replay), so each web
process emits every event to *its own* connected clients only (``ignore_queue``), never through
Flask-SocketIO's message queue: that queue cannot hold what is sent while Redis is down. Every process
(web, Celery worker, SIP) builds the app with create_app, which registers the console plugin
(agent_console/plugin.py) and therefore this fan-out.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import request
from flask_login import current_user
from flask_socketio import join_room

from hotline.events import bus
from hotline.extensions import socketio
from ticketing import privacy
from ticketing.lifecycle import DEPARTMENT, SUPERVISOR

from .calls import board

log = logging.getLogger("hotline.console.realtime")

NAMESPACE = "/console"
_wiring_lock = threading.Lock()
_unsubscribe = None
_handlers_registered = False


def rooms_for(user) -> list[str]:
    rooms = [f"user:{user.id}"]
    if user.role == "operator":
        rooms.append("operators")
        if user.sip_extension:
            rooms.append(f"ext:{user.sip_extension}")
        rooms.append(f"op:{user.username}")
    elif user.role == "department":
        if user.department is not None:
            rooms.append(f"dept:{user.department.code}")
    elif user.role in ("supervisor", "admin"):
        rooms.append("supervisors")
    return rooms


def _call_rooms(payload: dict) -> list[str]:
    """A call event goes to the operator it names (``operator``: username; ``extension``: the SIP
    extension it concerns), else to every operator; always to supervisors."""
    rooms = ["supervisors"]
    target, ext = payload.get("operator"), payload.get("extension")
    if target:
        rooms.append(f"op:{target}")
    if ext:
        rooms.append(f"ext:{ext}")
    if not target and not ext:
        rooms.append("operators")
    return rooms


def rooms_for_event(name: str, payload: dict) -> list[str]:
    if name == "ticket.changed":
        # ``departments``: every unit the change concerns, holders before and after (ticketing says)
        return sorted({f"dept:{c}" for c in payload["departments"]}) + ["operators", "supervisors"]
    if name == "ticket.created":
        return ["operators", "supervisors"]
    if name.startswith("call.") or name.startswith("transcript."):
        return _call_rooms(payload)
    if name == "deadline.card":
        rooms = ["supervisors"]
        if payload.get("department"):
            rooms.append(f"dept:{payload['department']}")
        return rooms
    if name.startswith("urging."):
        rooms = ["supervisors"]
        if payload.get("department"):
            rooms.append(f"dept:{payload['department']}")
        return rooms
    if name.startswith("contact."):
        # 联系诉求人: the clerk who asked (their own room) and supervisors; no number in it
        return ["supervisors", f"user:{payload['user_id']}"]
    if name == "agent.state":
        rooms = ["supervisors"]
        if payload.get("user_id"):
            rooms.append(f"user:{payload['user_id']}")
        return rooms
    return ["supervisors"]


def on_event(name: str, payload: dict) -> None:
    """Bus subscriber: keep the call board current, then fan the event out to this process's rooms.

    Department rooms and desk rooms get separate frames, each projected by ``ticketing.privacy``.
    """
    board.apply(name, payload)
    if getattr(socketio, "server", None) is None:
        return
    if name == "user.sessions_ended":
        _drop_user_sockets(payload["user_id"])
        return
    envelope = bus.current or {}
    base = {"id": envelope.get("id"), "name": name, "ts": envelope.get("ts") or round(time.time() * 1000, 2)}
    rooms = rooms_for_event(name, payload)
    dept_rooms = [r for r in rooms if r.startswith("dept:")]
    desk_rooms = [r for r in rooms if not r.startswith("dept:")]
    if desk_rooms:
        socketio.emit("event", {**base, "payload": privacy.frame_payload(name, payload, SUPERVISOR)},
                      to=desk_rooms, namespace=NAMESPACE, ignore_queue=True)
    if dept_rooms:
        socketio.emit("event", {**base, "payload": privacy.frame_payload(name, payload, DEPARTMENT)},
                      to=dept_rooms, namespace=NAMESPACE, ignore_queue=True)


def _drop_user_sockets(user_id: int) -> None:
    """Disconnect this process's sockets of a user whose sessions ended (every process gets the
    event and drops its own; the dead session cookie cannot connect again)."""
    server = socketio.server
    for sid, _eio in list(server.manager.get_participants(NAMESPACE, f"user:{user_id}")):
        server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)
    log.info("console.sockets_dropped user_id=%s", user_id)


def _connect(auth=None):
    if not current_user.is_authenticated:
        log.info("console.connect_refused sid=%s", request.sid)
        return False
    for room in rooms_for(current_user):
        join_room(room)
    return True


def _whoami():
    if not current_user.is_authenticated:
        return None
    return {"username": current_user.username, "role": current_user.role, "rooms": rooms_for(current_user)}


def wire() -> None:
    """Register the namespace handlers and the bus subscriber; safe to call any number of times.

    Tests clear the bus between apps, so the subscriber is re-attached on every call (after
    detaching a previous one) rather than guarded by a flag.
    """
    global _unsubscribe, _handlers_registered
    with _wiring_lock:
        if not _handlers_registered:
            socketio.on_event("connect", _connect, namespace=NAMESPACE)
            socketio.on_event("whoami", _whoami, namespace=NAMESPACE)
            _handlers_registered = True
        if _unsubscribe is not None:
            _unsubscribe()
        _unsubscribe = bus.subscribe("*", on_event)
