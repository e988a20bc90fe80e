"""Background work of telephony: post-call transcription and recording retention.

Tasks take ids, reload rows and are safe to retry (a call already transcribed is left alone).
"""
from __future__ import annotations

import logging
import os

from hotline.extensions import celery

log = logging.getLogger("telephony.tasks")

_engine = None


def share_engine(engine) -> None:
    """In-process jobs (embedded default) reuse the endpoint's engine instead of loading another."""
    global _engine
    _engine = engine


def _speech(config):
    """One speech engine (one loaded model) per worker process."""
    global _engine
    if _engine is None:
        from telephony.speech.loading import load_speech

        _engine = load_speech(config, prewarm=0)
    return _engine


def _config():
    from flask import current_app

    return current_app.config["HOTLINE"]


@celery.task(name="telephony.transcribe_call", bind=True, max_retries=3, default_retry_delay=30)
def transcribe_call(self, call_id: int) -> str:
    """Transcribe a recording after the call (the live limit was reached), then make the draft."""
    from hotline.extensions import db

    from telephony import service
    from telephony.models import Call

    config = _config()
    session = db.session
    call = session.get(Call, call_id)
    if call is None or call.transcription != "pending":
        return "skipped"
    path = os.path.join(config.recordings_dir, call.recording_path or "")
    engine = _speech(config)
    failure, segments = None, None
    if not engine.enabled:
        failure = f"转写服务无模型：{engine.reason}"
    elif not call.recording_path or not os.path.isfile(path):
        failure = "录音文件不存在"
    else:
        from telephony.speech.engine import transcribe_wav

        segments = transcribe_wav(engine, path)
    service.complete_offline_transcription(session, call_id, segments, failure,
                                           max_content=config.max_content_chars)
    return "failed" if failure else "done"


@celery.task(name="telephony.cleanup_recordings")
def cleanup_recordings() -> int:
    from hotline.extensions import db

    from telephony import service

    config = _config()
    return service.cleanup_recordings(db.session, config.recordings_dir, config.recording_retention_days)


@celery.task(name="telephony.reap_sip")
def reap_sip() -> int:
    """Close the calls of `sip` processes whose heartbeat went stale and end overdue wrap-ups:
    what every `sip` process's heartbeat thread does, for when none is left (``telephony.reaper``)."""
    from hotline.extensions import db
    from routing.calls import store

    from telephony import reaper

    config = _config()
    reaped = reaper.reap_dead(db.session, config, "beat", transcribe=transcribe_call.delay)
    store.end_overdue_wrapups(db.session, config.acd_wrapup)
    return sum(len(r["calls"]) for r in reaped)
