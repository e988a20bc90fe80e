"""Several `sip` processes, any one of which may die: heartbeats and the reaper.

Each ``hotline sip`` process has a row in ``sip_instances`` whose ``beat_at`` its own thread
(``Heartbeat``, never a SIP or RTP thread) writes every second. The same thread, in every process,
looks for rows whose heartbeat is older than ``HOTLINE_SIP_STALE_SECONDS`` and claims each with one
conditional UPDATE (``reaped_at IS NULL``), so exactly one survivor closes a dead process's calls:

- its queue rows end with outcome ``interrupted`` (the operator, if one was talking, goes to
  话后处理 and is ready again after ``HOTLINE_ACD_WRAPUP``; a reservation it held is released);
- each call gets its call record with the recordings found on disk, their WAV headers repaired so
  a file cut by ``kill -9`` plays up to its last written second, and its draft ticket (through
  ``service.store_call``, as a call that ended normally; with a speech model the recording is
  transcribed after the call first);
- ``call.ended`` goes out so consoles and the KPI rollup see the end;
- the 联系诉求人 calls it had claimed end as ``interrupted`` on their tickets' histories (and, in
  every look, requests that no process claimed within two minutes end as ``not_started``).

A heartbeat can be late while its process lives: a busy machine, a slow database write. A stale
row whose process runs on this host (its pid alive and started before the row was written) is not
reaped until its heartbeat is ``LIVE_GRACE`` times the stale limit old (a hung process): reaping a
live process closed its talking calls as ``interrupted`` and made it store them a second time
(bench/city_load.py at load 20: a respawned `sip` reaped the survivor). Other hosts' processes
are judged by the heartbeat alone. Beating and reaping run on two threads, so a process closing
many calls of a dead one never misses its own beats.

The reaper thread also ends system wrap-ups that are overdue: the `sip` process that started one may have
died before its timer fired (``routing.calls.store.end_overdue_wrapups``). The beat task
``telephony.reap_sip`` runs ``reap_dead`` too, for when every `sip` process is gone.
"""
from __future__ import annotations

import glob
import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone

import psutil
from sqlalchemy import select, update

from hotline.clock import iso, utcnow
from hotline.events import bus

from telephony.media.wav import repair_wav
from telephony.models import Call, SipInstance

log = logging.getLogger("telephony.reaper")

BEAT_SECONDS = 1.0
REAP_SECONDS = 2.0  # between two looks for dead processes
LIVE_GRACE = 6  # a live process of this host is reaped only when its heartbeat is this many stale limits old


def register_instance(session, sip_address: str) -> str:
    """Insert this process's heartbeat row; its id."""
    now = utcnow()
    instance = SipInstance(id=uuid.uuid4().hex[:16], host=socket.gethostname()[:100], sip_address=sip_address[:100],
                           pid=os.getpid(), started_at=now, beat_at=now)
    session.add(instance)
    session.commit()
    return instance.id


def beat(session, instance_id: str) -> None:
    session.execute(update(SipInstance).where(SipInstance.id == instance_id).values(beat_at=utcnow())
                    .execution_options(synchronize_session=False))
    session.commit()


def mark_stopped(session, instance_id: str) -> None:
    """A clean stop (SIGTERM): its calls were stored by the process itself; nothing to reap."""
    session.execute(update(SipInstance).where(SipInstance.id == instance_id).values(stopped_at=utcnow())
                    .execution_options(synchronize_session=False))
    session.commit()


def reap_dead(session, config, reaper: str, transcribe=None) -> list[dict]:
    """Claim every `sip` process whose heartbeat is stale and close its calls; what was reaped.
    ``transcribe(call_id)`` queues the post-call transcription of a call left ``pending``.
    Contact requests (联系诉求人) that no process claimed in time are ended here too."""
    from ticketing import contact

    contact.end_abandoned(session)
    limit = utcnow() - timedelta(seconds=config.sip_stale_seconds)
    stale = session.scalars(select(SipInstance).where(
        SipInstance.beat_at < limit, SipInstance.stopped_at.is_(None), SipInstance.reaped_at.is_(None),
        SipInstance.id != reaper)).all()
    session.rollback()
    out = []
    for inst in stale:
        if inst.beat_at >= utcnow() - timedelta(seconds=config.sip_stale_seconds * LIVE_GRACE) and alive_here(inst):
            log.warning("sip.late_heartbeat instance=%s pid=%s last_beat=%s: the process runs, not reaped",
                        inst.id, inst.pid, iso(inst.beat_at))
            continue
        won = session.execute(update(SipInstance).where(SipInstance.id == inst.id, SipInstance.reaped_at.is_(None),
                                                        SipInstance.beat_at < limit)
                              .values(reaped_at=utcnow(), reaped_by=reaper[:32])
                              .execution_options(synchronize_session=False)).rowcount == 1
        session.commit()
        if not won:
            continue
        closed = close_calls(session, config, inst.id, inst.beat_at, transcribe)
        contact.end_abandoned(session, dead_node=inst.id)  # its 联系诉求人 calls, ended with the process
        session.execute(update(SipInstance).where(SipInstance.id == inst.id).values(reaped_calls=len(closed))
                        .execution_options(synchronize_session=False))
        session.commit()
        log.warning("sip.reaped instance=%s address=%s pid=%s last_beat=%s calls=%d by=%s", inst.id,
                    inst.sip_address, inst.pid, iso(inst.beat_at), len(closed), reaper)
        out.append({"instance": inst.id, "calls": closed})
    return out


def alive_here(inst) -> bool:
    """Does the process of ``inst`` still run on this host: its pid alive (not a zombie) and started
    before it registered (not a later process that reused the pid)?"""
    if inst.host != socket.gethostname()[:100]:
        return False
    try:
        proc = psutil.Process(inst.pid)
        if proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):  # killed, not yet waited for
            return False
        started = proc.create_time()
    except psutil.Error:
        return False
    return started <= inst.started_at.replace(tzinfo=timezone.utc).timestamp() + 1.0


def close_calls(session, config, instance_id: str, last_alive: datetime, transcribe=None) -> list[str]:
    """End every open queue row of the dead process ``instance_id`` (see the module docstring)."""
    from routing.calls import store

    from telephony import service

    closed = []
    for row in store.open_calls_of(session, instance_id):
        ended_at = max(last_alive, row.queued_at)
        files = _recordings(config.recordings_dir, row.call_uuid, row.ringing_at or row.queued_at)
        facts = store.interrupt(session, row.call_uuid, ended_at)
        if session.scalar(select(Call.id).where(Call.call_uuid == row.call_uuid)) is None:
            record = _record(config, row, ended_at, files)
            call = service.store_call(session, record, max_content=config.max_content_chars)
            if call.transcription == "pending" and transcribe is not None:
                transcribe(call.id)
        _publish_end(row, facts, ended_at)
        closed.append(row.call_uuid)
    return closed


def _recordings(recordings_dir: str, call_uuid: str, began: datetime) -> dict[str, tuple[str, float]]:
    """The call's files on disk by leg name (``caller``, ``operator``, ``mixed``...): repaired
    relative path and seconds. The session files them under the UTC day it was answered
    (``<recordings>/YYYY/MM/DD/<call>-<leg>.wav``): that day or the next."""
    out = {}
    days = {(began + timedelta(days=d)).strftime("%Y/%m/%d") for d in (0, 1)}
    paths = [p for day in sorted(days)
             for p in glob.glob(os.path.join(glob.escape(os.path.join(recordings_dir, day)), f"{call_uuid}-*.wav"))]
    for path in sorted(paths):
        leg = os.path.basename(path)[len(call_uuid) + 1:-4]
        try:
            seconds = repair_wav(path)
        except (OSError, ValueError):
            log.exception("sip.recording_unreadable path=%s", path)
            continue
        out[leg] = (os.path.relpath(path, recordings_dir), seconds)
    return out


def _record(config, row, ended_at: datetime, files: dict) -> dict:
    """The call record ``service.store_call`` takes, from the queue row and the files: what the
    dead process would have stored, less its live transcript."""
    answered = row.queued_at  # the endpoint answers before the call joins the queue
    caller = files.pop("caller", (None, None))
    mixed = files.pop("mixed", (None, None))
    legs = [{"leg": name, "speaker": "operator" if name.startswith("operator") else name.split("-")[0],
             "extension": row.operator_extension if name.startswith("operator") else None,
             "recording_path": path, "recording_seconds": seconds,
             "offset": max((row.connected_at - answered).total_seconds(), 0.0)
             if row.connected_at and name.startswith("operator") else 0.0}
            for name, (path, seconds) in files.items()]
    speech = bool(config.vosk_model_dir) and caller[0] is not None
    return {
        "call_uuid": row.call_uuid, "sip_call_id": row.call_uuid, "caller": row.caller, "called": row.called or "",
        "codec": None, "ringing_at": row.ringing_at or row.queued_at, "answered_at": answered, "ended_at": ended_at,
        "duration": round(max((ended_at - answered).total_seconds(), 0.0), 3), "cause": "interrupted",
        "recording_path": caller[0], "recording_seconds": caller[1],
        "transcription": "pending" if speech else "off",
        "transcription_note": None if speech else "通话所在的 SIP 进程中断，通话已结束，实时转写未保存",
        "segments": [], "dtmf": [], "stats": {"interrupted": True}, "legs": legs,
        "mixed_recording_path": mixed[0], "mixed_seconds": mixed[1], "mixed_offset": 0.0,
    }


def _publish_end(row, facts: dict, ended_at: datetime) -> None:
    payload = {"call_id": row.call_uuid, "caller": row.caller, "cause": "interrupted",
               "duration": round(max((ended_at - row.queued_at).total_seconds(), 0.0), 3),
               "ringing_at": row.ringing_at, "answered_at": row.queued_at, "ended_at": ended_at,
               **{k: v for k, v in facts.items() if v is not None}}
    try:
        bus.publish("call.ended", {k: iso(v) if isinstance(v, datetime) else v for k, v in payload.items()})
    except Exception:  # noqa: BLE001 - the rows are closed; a console re-reads them
        log.exception("sip.reaped_event_failed call=%s", row.call_uuid)


class Heartbeat:
    """This process's heartbeat thread: beat every second, reap dead processes, end overdue wrap-ups."""

    def __init__(self, app, config, transcribe=None) -> None:
        self.app, self.config, self.transcribe = app, config, transcribe
        self.instance_id: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _scope(self):
        from hotline.extensions import db

        return db.session_scope()

    def start(self) -> "Heartbeat":
        with self.app.app_context(), self._scope() as s:
            self.instance_id = register_instance(s, f"{self.config.sip_host}:{self.config.sip_port}")
        self._threads = [threading.Thread(target=self._run, name="sip-heartbeat", daemon=True),
                         threading.Thread(target=self._reap, name="sip-reaper", daemon=True)]
        for thread in self._threads:
            thread.start()
        log.info("sip.instance id=%s pid=%s", self.instance_id, os.getpid())
        return self

    def _run(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            try:
                with self.app.app_context(), self._scope() as s:
                    beat(s, self.instance_id)
            except Exception:  # noqa: BLE001 - the database may be down: beat again next second
                log.warning("sip.heartbeat_failed", exc_info=True)

    def _reap(self) -> None:
        from routing.calls import store

        while not self._stop.wait(REAP_SECONDS):
            try:
                with self.app.app_context(), self._scope() as s:
                    reap_dead(s, self.config, self.instance_id, self.transcribe)
                    store.end_overdue_wrapups(s, self.config.acd_wrapup)
            except Exception:  # noqa: BLE001 - the database may be down: look again later
                log.warning("sip.reap_failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        for thread in getattr(self, "_threads", ()):
            thread.join(2)
        if self.instance_id:
            try:
                with self.app.app_context(), self._scope() as s:
                    mark_stopped(s, self.instance_id)
            except Exception:  # noqa: BLE001
                log.warning("sip.stop_unrecorded", exc_info=True)
