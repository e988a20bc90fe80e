"""The SIP endpoint: answers calls, owns their sessions, publishes call events, stores records.

Threads: pyVoIP's SIP receive loop (signalling), the RTP receive thread and the 20 ms media clock
(``telephony.media.rtp``), the ``call-facts`` worker that hands call facts to the event bus
(``telephony.facts``: subscribers may write to the database or publish on Redis), and a small pool
that finishes calls (flushes transcription, writes the call record and the draft ticket). Signalling
and media never wait on the database or Redis.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pyVoIP.VoIP import InvalidStateError

from hotline.events import bus
from hotline.clock import iso

from telephony.facts import FactQueue
from telephony.media.bridge import default_hold_music
from telephony.media.session import CallSession
from telephony.media.wav import load_greeting
from telephony.sip.dialer import Dialer
from telephony.sip.pyvoip.phone import HardenedCall, HardenedPhone
from telephony.speech.loading import load_speech

log = logging.getLogger("telephony.endpoint")


def parse_emergency_numbers(raw: str) -> dict[str, str]:
    """"110=8110,119=8119" -> {"110": "8110", ...}: where the proxy reaches each emergency service."""
    out = {}
    for part in (p.strip() for p in (raw or "").split(",")):
        if "=" in part:
            kind, number = (x.strip() for x in part.split("=", 1))
            if kind and number:
                out[kind] = number
    return out


class Endpoint:
    def __init__(self, app, config, *, speech=None, greeting: bytes | None = None,
                 answer_delay: float | None = None, publish=None) -> None:
        self.app, self.config = app, config
        self.speech = speech if speech is not None else load_speech(config)
        if greeting is None:
            from telephony.assets import GREETING_ZH

            greeting = load_greeting(GREETING_ZH)
        self.greeting = greeting
        from telephony import tasks

        tasks.share_engine(self.speech)
        self.answer_delay = config.sip_answer_delay_ms / 1000 if answer_delay is None else answer_delay
        self.publish = publish or bus.publish
        self.facts = FactQueue(self.publish)  # what the SIP/RTP/speech threads report goes here
        self.acd = None  # routing.calls.queue.CallQueue when operators are reachable through a proxy
        self.sessions: dict[str, CallSession] = {}
        self.finished: list[dict] = []  # the last call records (tests and benches read them)
        self._pending = 0
        self._pending_lock = threading.Condition()
        # finishing waits for live decoding to catch up (<= FINISH_TIMEOUT): one worker per live slot
        self._pool = ThreadPoolExecutor(max_workers=max(4, config.max_live_transcriptions + 2),
                                        thread_name_prefix="call-finish")
        os.makedirs(config.recordings_dir, exist_ok=True)
        self.phone = HardenedPhone(
            host=config.sip_host, port=config.sip_port, rtp_low=config.sip_rtp_low,
            rtp_high=config.sip_rtp_high, mode=config.sip_mode, server=config.sip_server,
            server_port=config.sip_server_port, user=config.sip_user, password=config.sip_password,
            listener=self)
        # calls we place through the proxy (operators, departments, emergency numbers: issue 7)
        self.dialer = Dialer(self.phone)
        self.hold_audio = default_hold_music()  # what a held or transferred citizen hears
        self.emergency_numbers = parse_emergency_numbers(config.emergency_numbers)
        self.readback_audio = None  # telephony.queue_audio.readback.ReadBack, loaded on first use

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "Endpoint":
        self.phone.start()
        if self.config.sip_mode == "register" and self.phone.get_status().name != "REGISTERED":
            log.warning("sip.not_registered server=%s:%s status=%s (retrying in the background; "
                        "check SIP_SERVER, SIP_USER and SIP_PASSWORD)", self.config.sip_server,
                        self.config.sip_server_port, self.phone.get_status().name)
        log.info("sip.listening %s:%s mode=%s rtp=%s-%s", self.config.sip_host, self.config.sip_port,
                 self.config.sip_mode, self.config.sip_rtp_low, self.config.sip_rtp_high)
        return self

    def stop(self) -> None:
        self.phone.stop()
        self.wait_idle(10)
        self._pool.shutdown(wait=True)
        self.facts.stop()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every ended call has been stored and every call fact published (tests,
        shutdown)."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pending_lock.wait(left)
        return self.facts.wait_idle(max(0.0, deadline - time.monotonic()))

    # -- pyVoIP listener (SIP thread: return quickly) ------------------------------------------------
    def on_incoming(self, call: HardenedCall) -> None:
        session = CallSession(call, recordings_dir=self.config.recordings_dir, speech=self.speech,
                              publish=self._safe_publish, media=self.phone.media, dialer=self.dialer,
                              hold_audio=self.hold_audio, emergency_numbers=self.emergency_numbers)
        call.app = session
        session.on_key = self._on_key
        self.sessions[call.call_id] = session
        self._safe_publish("call.ringing", {"call_id": session.call_uuid, "caller": session.caller,
                                            "called": session.called})
        timer = threading.Timer(self.answer_delay, self._answer, [call])
        timer.daemon = True
        timer.start()

    def _answer(self, call: HardenedCall) -> None:
        session: CallSession = call.app
        if call.state.name != "RINGING":
            return  # cancelled while ringing (F3)
        try:
            session.prepare(self.greeting)
            call.answer(on_answered=session.answered)
        except InvalidStateError:
            return  # cancelled meanwhile: finish() discards the prepared recording
        except Exception:  # disk full, speech engine...: refuse the call, release port + recorder
            log.exception("call.answer_failed call=%s", session.call_uuid)
            try:
                call.deny(500, "Server Internal Error")
            except InvalidStateError:
                pass
            return
        self._safe_publish("call.answered", {"call_id": session.call_uuid, "caller": session.caller,
                                             "called": session.called,
                                             "transcription": session.transcription,
                                             "transcription_note": session.transcription_note})
        if self.acd is not None:
            self.acd.enqueue(session)

    def on_call_ended(self, call: HardenedCall, cause: str) -> None:
        session: CallSession | None = self.sessions.pop(call.call_id, None)
        if session is None:
            return
        session.ended(cause)
        facts = self.acd.on_ended(session, cause) if self.acd is not None else {}
        facts = {("extension" if k == "operator_extension" else k): v for k, v in facts.items()}
        self._safe_publish("call.ended", {"call_id": session.call_uuid, "caller": session.caller,
                                          "duration": session.duration, "cause": cause,
                                          "ringing_at": iso(session.ringing_at), "answered_at": iso(session.answered_at),
                                          "ended_at": iso(session.ended_at), **facts})
        with self._pending_lock:
            self._pending += 1
        self._pool.submit(self._finish, session)

    def on_tick(self) -> None:
        """Once a second on the media clock: end calls that ran too long or went silent."""
        now = time.monotonic()
        for session in list(self.sessions.values()):
            call = session.caller_leg.call
            if session.answered_mono is None:
                continue
            cause = None
            if now - session.answered_mono > self.config.sip_max_call_seconds:
                cause = "max_duration"
            elif 0 < self.config.sip_rtp_timeout_seconds < now - call.stream.last_rx:
                cause = "rtp_timeout"
            if cause:
                log.warning("call.hangup call=%s cause=%s", session.call_uuid, cause)
                try:
                    call.hangup(cause)
                except InvalidStateError:
                    pass
                continue
            for leg in session.live_legs():  # an operator/department phone whose audio stopped
                if 0 < self.config.sip_rtp_timeout_seconds < now - leg.call.stream.last_rx:
                    log.warning("call.leg_hangup call=%s leg=%s cause=rtp_timeout", session.call_uuid, leg.name)
                    try:
                        leg.call.hangup("rtp_timeout")
                    except InvalidStateError:
                        pass

    # -- voice intake: "#" ends the message and the caller hears the ticket number -------------------
    def _on_key(self, session: CallSession, digit: str) -> None:
        """RTP thread: only decide; the number is reserved (database) on a worker thread."""
        if digit != "#" or session.readback is not None or session.live_legs():
            return
        if self.acd is not None and not self.acd.in_intake(session.call_uuid):
            return  # waiting in the queue or talking to an operator: "#" means nothing
        session.readback = "pending"
        self._pool.submit(self._read_back, session)

    def _read_back(self, session: CallSession) -> None:
        """Reserve the ticket number (the draft stored at hang-up gets it), play it digit by digit,
        then hang up once it has been heard. The SMS with the number follows the ticket."""
        from hotline.extensions import db
        from ticketing import service as tickets

        from telephony.queue_audio.readback import ReadBack

        try:
            with self.app.app_context(), db.session_scope() as s:
                number = tickets.reserve_number(s, session.ringing_at)
                s.commit()
            session.readback = number
            readback = self.readback_audio or ReadBack.load()
            self.readback_audio = readback
            call = session.caller_leg.call
            audio = readback.audio(number)
            call.stream.clear_output()
            call.stream.play(audio)
            log.info("intake.readback call=%s number=%s", session.call_uuid, number)
            played = len(audio) / 16000
            deadline = time.monotonic() + played + 30
            time.sleep(min(played, 60))
            while call.stream.queued_frames and time.monotonic() < deadline and call.state.name == "ANSWERED":
                time.sleep(0.1)
            if call.state.name == "ANSWERED":
                time.sleep(0.5)  # the last packets reach the caller
                call.hangup("intake_done")
        except InvalidStateError:
            pass  # the caller hung up while listening
        except Exception:
            log.exception("intake.readback_failed call=%s", session.call_uuid)

    # -- after the call ------------------------------------------------------------------------------
    def _finish(self, session: CallSession) -> None:
        from hotline import jobs
        from hotline.extensions import db

        from telephony import service, tasks

        try:
            record = session.finish()
            if session.readback and session.readback.isdigit():
                record["reserved_number"] = session.readback
            with self.app.app_context(), db.session_scope() as s:
                call = service.store_call(s, record, max_content=self.config.max_content_chars)
                record["db_id"], record["ticket_number"] = call.id, call.ticket_number
                if call.transcription == "pending":
                    jobs.enqueue(tasks.transcribe_call, call.id)
            record["final_event_times"] = session.final_event_times
            record["final_latencies"] = session.final_latencies
            record["last_voice"] = session.caller_leg.last_voice
            record["ended_mono"] = session.ended_mono
            self.finished.append(record)
            del self.finished[:-500]
        except Exception:
            log.exception("call.finish_failed call=%s", session.call_uuid)
        finally:
            with self._pending_lock:
                self._pending -= 1
                self._pending_lock.notify_all()

    def _safe_publish(self, name: str, payload: dict) -> None:
        """Report a call fact: queued for the ``call-facts`` worker, never blocks the caller."""
        self.facts.put(name, payload)
