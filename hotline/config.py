"""One configuration object, read from the environment with typed parsing.

Every variable documented in README.md is read here and nowhere else.
"""
from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, replace
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("HOTLINE_INSTANCE_DIR", Path.cwd() / "instance"))


class ConfigError(ValueError):
    """A configuration value that cannot be parsed; the message names the variable."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _secret_key() -> str:
    """A stable development key kept in the instance dir so sessions survive restarts.

    The file is readable by its owner only (0600); a looser file found from an older release is
    tightened on the spot.
    """
    path = INSTANCE_DIR / "secret_key"
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
        return path.read_text().strip()
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _rate_limit(name: str, raw: str) -> None:
    from limits import parse_many

    try:
        if parse_many(raw):
            return
    except ValueError:
        pass
    raise ConfigError(f"{name} must be a rate such as '10 per 15 minutes', got {raw!r}")


def parse_service_hours(raw: str) -> list[tuple[int, int]]:
    """"08:00-12:00,13:30-21:00" -> [(480, 720), (810, 1260)] minutes of the day; "" -> whole day."""
    spans = []
    for part in (p.strip() for p in (raw or "").split(",")):
        if not part:
            continue
        try:
            lo, hi = (t.strip() for t in part.split("-"))
            times = [tuple(int(x) for x in t.split(":")) for t in (lo, hi)]
            if any(len(t) != 2 or not 0 <= t[1] < 60 for t in times):
                raise ValueError(part)
            start, end = (h * 60 + m for h, m in times)
        except ValueError:
            raise ConfigError(f"HOTLINE_SERVICE_HOURS must look like 08:00-20:00[,...], got {raw!r}") from None
        if not 0 <= start < end <= 24 * 60:
            raise ConfigError(f"HOTLINE_SERVICE_HOURS: {part!r} is not a span within one day")
        spans.append((start, end))
    return spans or [(0, 24 * 60)]


@dataclass(frozen=True)
class Config:
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 5000
    token_ttl_hours: int = 12
    max_content_chars: int = 4000
    page_size_max: int = 200
    background_jobs: str = "inprocess"  # "inprocess" or "celery"
    web_role: str = "full"  # "full" (pages, API, Socket.IO) or "api" (REST API only; see Procfile)
    sip_enabled: bool = True
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    sip_rtp_low: int = 10000
    sip_rtp_high: int = 20000
    sip_mode: str = "peer"  # "peer" (trunk/proxy sends INVITEs) or "register"
    sip_server: str = ""
    sip_server_port: int = 5060
    sip_user: str = ""
    sip_password: str = ""
    vosk_model_dir: str = ""
    max_live_transcriptions: int = 8
    recordings_dir: str = ""
    recording_retention_days: int = 180
    personal_data_retention_days: int = 0  # erase callers' data of finished tickets after N days; 0 = keep
    duplicate_window_hours: int = 72  # routing: window for merge candidates (并单)
    sip_answer_delay_ms: int = 200
    sip_max_call_seconds: int = 4 * 3600
    sip_rtp_timeout_seconds: int = 60
    sip_stale_seconds: int = 10  # a `sip` process whose heartbeat is older than this is dead: its calls are reaped
    attachments_dir: str = ""  # reply attachments; default: next to recordings_dir
    supervision_scan_seconds: int = 60
    supervision_warning_workdays: int = 1
    supervision_warning_by_type: str = ""  # e.g. "投诉=2,举报=2" (working days per ticket type)
    supervision_warning_hours: int = 4  # warning window of hour-based (urgent) deadlines
    supervision_escalate_workdays: int = 5
    kpi_repeat_days: int = 30
    kpi_live_rollup: bool = True
    hotspot_weeks: int = 4  # same-weekday baseline weeks of the hot-topic spike test
    hotspot_fdr: str = "0.02"  # false discovery rate of the spike test (Benjamini-Hochberg), per day
    hotspot_min_count: int = 3  # a cell with fewer tickets on the day is never a spike
    hotspot_cluster_days: int = 3  # window of the similar-request clusters (days ending with the day shown)
    acd_strategy: str = "longest_idle"  # longest_idle | round_robin | fewest_calls
    acd_ring_timeout: int = 15  # seconds an operator's phone rings before the call moves on
    acd_wrapup: int = 30  # seconds of 话后处理 after a call, then back to ready
    acd_max_wait: int = 60  # seconds in the queue before the caller is offered voice intake
    acd_announce_seconds: int = 20  # repeat the queue position this often
    answer_target_seconds: int = 15  # a call answered within this many seconds of ringing counts as on time
    emergency_numbers: str = ""  # "110=...,119=...,120=...,122=...": where the proxy reaches them
    service_hours: str = ""  # e.g. "08:00-12:00,13:30-21:00" (China time); empty = 24 h
    session_cookie_secure: bool = False  # send the session cookie over HTTPS only
    outbox_retention_hours: int = 24  # relayed outbox rows are deleted after this long
    db_connect_timeout: int = 5  # seconds to wait for a PostgreSQL connection before answering 503
    celery_visibility_timeout: int = 600  # seconds before a task of a dead worker is delivered again
    login_failures_per_user: str = "10 per 15 minutes"  # then that username is locked (429)
    login_failures_per_address: str = "50 per 15 minutes"  # then that client address is locked
    open311_posts_per_address: str = "20 per hour"  # Open311 POST requests from one client address
    public_base_url: str = "http://127.0.0.1:5000"  # how citizens reach the portal (links in SMS)
    sms_kannel_url: str = ""  # Kannel's sendsms URL; "" = messages stay in the outbox (未发送)
    sms_kannel_username: str = ""
    sms_kannel_password: str = ""
    sms_sender: str = ""  # the "from" of SMS (the hotline's short code), "" = Kannel's default
    sms_dlr_base_url: str = ""  # our base URL as Kannel reaches it, for delivery reports; "" = none
    sms_inbound_token: str = ""  # secret in Kannel's get-url for citizens' replies (TD = opt out)
    sms_retry_base_seconds: int = 30  # first retry after this, doubling, at most an hour
    sms_give_up_hours: int = 48  # a message not accepted by the gateway by then is marked expired
    sms_sweep_seconds: int = 15  # how often queued/retrying messages are looked at
    sms_rating_link_days: int = 30  # how long the rating link in the reply SMS works
    contact_daily_limit: int = 3  # 联系诉求人: calls a department may place per ticket per (China) day
    contact_ring_seconds: int = 30  # how long the clerk's phone, then the citizen's, may ring
    caller_id: str = "12345"  # the number citizens see (From) when the hotline calls them
    portal_submissions_per_address: str = "10 per hour"  # citizen portal submissions from one address
    portal_submissions_per_phone: str = "5 per hour"  # citizen portal submissions for one phone number
    portal_codes_per_address: str = "20 per hour"  # one-time SMS codes requested from one address
    portal_codes_per_phone: str = "5 per hour"  # one-time SMS codes sent to one phone number
    testing: bool = False

    ENV = {
        "database_url": ("DATABASE_URL", str),
        "redis_url": ("REDIS_URL", str),
        "secret_key": ("SECRET_KEY", str),
        "session_cookie_secure": ("SESSION_COOKIE_SECURE", bool),
        "login_failures_per_user": ("HOTLINE_LOGIN_FAILURES_PER_USER", str),
        "login_failures_per_address": ("HOTLINE_LOGIN_FAILURES_PER_ADDRESS", str),
        "open311_posts_per_address": ("HOTLINE_OPEN311_POSTS_PER_ADDRESS", str),
        "public_base_url": ("HOTLINE_PUBLIC_BASE_URL", str),
        "sms_kannel_url": ("HOTLINE_SMS_KANNEL_URL", str),
        "sms_kannel_username": ("HOTLINE_SMS_KANNEL_USERNAME", str),
        "sms_kannel_password": ("HOTLINE_SMS_KANNEL_PASSWORD", str),
        "sms_sender": ("HOTLINE_SMS_SENDER", str),
        "sms_dlr_base_url": ("HOTLINE_SMS_DLR_BASE_URL", str),
        "sms_inbound_token": ("HOTLINE_SMS_INBOUND_TOKEN", str),
        "sms_retry_base_seconds": ("HOTLINE_SMS_RETRY_BASE_SECONDS", int),
        "sms_give_up_hours": ("HOTLINE_SMS_GIVE_UP_HOURS", int),
        "sms_sweep_seconds": ("HOTLINE_SMS_SWEEP_SECONDS", int),
        "sms_rating_link_days": ("HOTLINE_SMS_RATING_LINK_DAYS", int),
        "portal_submissions_per_address": ("HOTLINE_PORTAL_SUBMISSIONS_PER_ADDRESS", str),
        "portal_submissions_per_phone": ("HOTLINE_PORTAL_SUBMISSIONS_PER_PHONE", str),
        "portal_codes_per_address": ("HOTLINE_PORTAL_CODES_PER_ADDRESS", str),
        "portal_codes_per_phone": ("HOTLINE_PORTAL_CODES_PER_PHONE", str),
        "web_host": ("HOTLINE_HOST", str),
        "web_port": ("HOTLINE_PORT", int),
        "token_ttl_hours": ("HOTLINE_TOKEN_TTL_HOURS", int),
        "max_content_chars": ("HOTLINE_MAX_CONTENT_CHARS", int),
        "background_jobs": ("HOTLINE_BACKGROUND_JOBS", str),
        "web_role": ("HOTLINE_WEB_ROLE", str),
        "sip_enabled": ("HOTLINE_SIP_ENABLED", bool),
        "sip_host": ("SIP_HOST", str),
        "sip_port": ("SIP_PORT", int),
        "sip_rtp_low": ("SIP_RTP_LOW", int),
        "sip_rtp_high": ("SIP_RTP_HIGH", int),
        "sip_mode": ("SIP_MODE", str),
        "sip_server": ("SIP_SERVER", str),
        "sip_server_port": ("SIP_SERVER_PORT", int),
        "sip_user": ("SIP_USER", str),
        "sip_password": ("SIP_PASSWORD", str),
        "vosk_model_dir": ("VOSK_MODEL_DIR", str),
        "max_live_transcriptions": ("HOTLINE_MAX_LIVE_TRANSCRIPTIONS", int),
        "recordings_dir": ("HOTLINE_RECORDINGS_DIR", str),
        "recording_retention_days": ("HOTLINE_RECORDING_RETENTION_DAYS", int),
        "personal_data_retention_days": ("HOTLINE_PERSONAL_DATA_RETENTION_DAYS", int),
        "duplicate_window_hours": ("HOTLINE_DUPLICATE_WINDOW_HOURS", int),
        "sip_answer_delay_ms": ("SIP_ANSWER_DELAY_MS", int),
        "sip_max_call_seconds": ("SIP_MAX_CALL_SECONDS", int),
        "sip_rtp_timeout_seconds": ("SIP_RTP_TIMEOUT_SECONDS", int),
        "sip_stale_seconds": ("HOTLINE_SIP_STALE_SECONDS", int),
        "attachments_dir": ("HOTLINE_ATTACHMENTS_DIR", str),
        "supervision_scan_seconds": ("HOTLINE_SUPERVISION_SCAN_SECONDS", int),
        "supervision_warning_workdays": ("HOTLINE_WARNING_WORKDAYS", int),
        "supervision_warning_by_type": ("HOTLINE_WARNING_BY_TYPE", str),
        "supervision_warning_hours": ("HOTLINE_WARNING_HOURS", int),
        "supervision_escalate_workdays": ("HOTLINE_ESCALATE_WORKDAYS", int),
        "kpi_repeat_days": ("HOTLINE_KPI_REPEAT_DAYS", int),
        "kpi_live_rollup": ("HOTLINE_KPI_LIVE_ROLLUP", bool),
        "hotspot_weeks": ("HOTLINE_HOTSPOT_WEEKS", int),
        "hotspot_fdr": ("HOTLINE_HOTSPOT_FDR", str),
        "hotspot_min_count": ("HOTLINE_HOTSPOT_MIN_COUNT", int),
        "hotspot_cluster_days": ("HOTLINE_HOTSPOT_CLUSTER_DAYS", int),
        "acd_strategy": ("HOTLINE_ACD_STRATEGY", str),
        "acd_ring_timeout": ("HOTLINE_ACD_RING_TIMEOUT", int),
        "acd_wrapup": ("HOTLINE_ACD_WRAPUP", int),
        "acd_max_wait": ("HOTLINE_ACD_MAX_WAIT", int),
        "acd_announce_seconds": ("HOTLINE_ACD_ANNOUNCE_SECONDS", int),
        "answer_target_seconds": ("HOTLINE_ANSWER_TARGET_SECONDS", int),
        "service_hours": ("HOTLINE_SERVICE_HOURS", str),
        "outbox_retention_hours": ("HOTLINE_OUTBOX_RETENTION_HOURS", int),
        "db_connect_timeout": ("HOTLINE_DB_CONNECT_TIMEOUT", int),
        "celery_visibility_timeout": ("HOTLINE_CELERY_VISIBILITY_TIMEOUT", int),
        "emergency_numbers": ("HOTLINE_EMERGENCY_NUMBERS", str),
        "contact_daily_limit": ("HOTLINE_CONTACT_DAILY_LIMIT", int),
        "contact_ring_seconds": ("HOTLINE_CONTACT_RING_SECONDS", int),
        "caller_id": ("HOTLINE_CALLER_ID", str),
    }

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "Config":
        env = os.environ if environ is None else environ
        values: dict = {}
        for attr, (name, kind) in cls.ENV.items():
            if name not in env:
                continue
            raw = env[name]
            values[attr] = _bool(name, raw) if kind is bool else _int(name, raw) if kind is int else raw
        values.update(overrides)
        cfg = cls(**values)
        if not cfg.database_url:
            INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
            cfg = replace(cfg, database_url=f"sqlite:///{INSTANCE_DIR / 'hotline.db'}")
        if not cfg.secret_key:
            cfg = replace(cfg, secret_key=_secret_key())
        if not cfg.recordings_dir:
            cfg = replace(cfg, recordings_dir=str(INSTANCE_DIR / "recordings"))
        if cfg.background_jobs not in {"inprocess", "celery"}:
            raise ConfigError("HOTLINE_BACKGROUND_JOBS must be 'inprocess' or 'celery'")
        if cfg.web_role not in {"full", "api"}:
            raise ConfigError("HOTLINE_WEB_ROLE must be 'full' or 'api'")
        if cfg.web_role == "api" and not cfg.redis_url:
            raise ConfigError("HOTLINE_WEB_ROLE=api needs REDIS_URL: an API process pushes console "
                              "updates through Redis to the web process that holds the sockets")
        if cfg.sip_mode not in {"peer", "register"}:
            raise ConfigError("SIP_MODE must be 'peer' or 'register'")
        if cfg.acd_strategy not in {"longest_idle", "round_robin", "fewest_calls"}:
            raise ConfigError("HOTLINE_ACD_STRATEGY must be longest_idle, round_robin or fewest_calls")
        if cfg.personal_data_retention_days < 0:
            raise ConfigError("HOTLINE_PERSONAL_DATA_RETENTION_DAYS must be 0 (keep) or a number of days")
        if cfg.answer_target_seconds <= 0:
            raise ConfigError("HOTLINE_ANSWER_TARGET_SECONDS must be a positive number of seconds")
        parse_service_hours(cfg.service_hours)
        for name, value in (("HOTLINE_SMS_RETRY_BASE_SECONDS", cfg.sms_retry_base_seconds),
                            ("HOTLINE_SMS_GIVE_UP_HOURS", cfg.sms_give_up_hours),
                            ("HOTLINE_SMS_SWEEP_SECONDS", cfg.sms_sweep_seconds),
                            ("HOTLINE_SMS_RATING_LINK_DAYS", cfg.sms_rating_link_days)):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1")
        if cfg.sms_kannel_url and not cfg.sms_kannel_url.startswith(("http://", "https://")):
            raise ConfigError("HOTLINE_SMS_KANNEL_URL must be an http(s) URL of Kannel's sendsms")
        if cfg.sip_stale_seconds < 3:
            raise ConfigError("HOTLINE_SIP_STALE_SECONDS must be at least 3 (a heartbeat is written every second)")
        if cfg.outbox_retention_hours < 1:
            raise ConfigError("HOTLINE_OUTBOX_RETENTION_HOURS must be at least 1")
        if cfg.db_connect_timeout < 1:
            raise ConfigError("HOTLINE_DB_CONNECT_TIMEOUT must be at least 1 second")
        if cfg.celery_visibility_timeout < 2:
            raise ConfigError("HOTLINE_CELERY_VISIBILITY_TIMEOUT must be at least 2 seconds")
        for name, value in (("HOTLINE_LOGIN_FAILURES_PER_USER", cfg.login_failures_per_user),
                            ("HOTLINE_LOGIN_FAILURES_PER_ADDRESS", cfg.login_failures_per_address),
                            ("HOTLINE_OPEN311_POSTS_PER_ADDRESS", cfg.open311_posts_per_address),
                            ("HOTLINE_PORTAL_SUBMISSIONS_PER_ADDRESS", cfg.portal_submissions_per_address),
                            ("HOTLINE_PORTAL_SUBMISSIONS_PER_PHONE", cfg.portal_submissions_per_phone),
                            ("HOTLINE_PORTAL_CODES_PER_ADDRESS", cfg.portal_codes_per_address),
                            ("HOTLINE_PORTAL_CODES_PER_PHONE", cfg.portal_codes_per_phone)):
            _rate_limit(name, value)
        return cfg
