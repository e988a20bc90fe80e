"""A Kamailio registrar/proxy on loopback for tests and development (``hotline sip-proxy``).

Operators' phones, departments' phones and the hotline endpoint register there; the endpoint
calls operators through it by extension (docs: README "Operators' phones"). In production any
PBX or proxy that routes by extension takes its place (SIP_MODE=register, SIP_SERVER=...).
The configuration is the template ``telephony/sip/kamailio/kamailio.cfg.tmpl``.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "kamailio" / "kamailio.cfg.tmpl"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"


class ProxyError(RuntimeError):
    pass


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def render(*, host: str, port: int, run_dir: str, password: str = "secret", ring_limit: int = 60,
           service_user: str = "hotline", service_number: str = "12345", ds_ping: int = 1,
           ds_timeout_ms: int = 2000) -> str:
    """The configuration text. The dispatcher settings apply when Kamailio runs with
    ``-A WITH_DISPATCHER`` and ``<run_dir>/dispatcher.list`` lists the `sip` processes
    (``dispatcher_list``)."""
    values = {"HOST": host, "PORT": str(port), "RUN_DIR": run_dir, "PASSWORD": password,
              "RING_LIMIT_MS": str(int(ring_limit * 1000)), "RING_LIMIT_S": str(ring_limit),
              "SERVICE_USER": service_user, "SERVICE_NUMBER": service_number,
              "DS_LIST": os.path.join(run_dir, "dispatcher.list"), "DS_PING_S": str(ds_ping),
              "DS_FR_MS": str(ds_timeout_ms)}
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def dispatcher_list(destinations: list[tuple[str, int]]) -> str:
    """Kamailio's dispatcher list: every `sip` process in set 1, probed with OPTIONS (flag 8)."""
    lines = ["# setid destination flags priority attrs  (written by `hotline deploy render`)"]
    lines += [f"1 sip:{host}:{port} 8 0 duid=sip{i + 1}" for i, (host, port) in enumerate(destinations)]
    return "\n".join(lines) + "\n"


def kamailio_command(cfg: str, run_dir: str, *, auth: bool = False, dispatcher: bool = False) -> list[str]:
    """The command line that runs Kamailio in the foreground with ``cfg`` (tests, `hotline deploy`)."""
    cmd = [KAMAILIO, "-f", cfg, "-DD", "-E", "-m", "32", "-M", "4", "-Y", run_dir,
           "-w", run_dir, "-P", os.path.join(run_dir, "kamailio.pid")]
    if auth:
        cmd += ["-A", "WITH_AUTH"]
    if dispatcher:
        cmd += ["-A", "WITH_DISPATCHER"]
    return cmd


def sip_request(host: str, port: int, method: str, uri: str, from_uri: str, to_uri: str, *,
                headers: tuple[str, ...] = (), timeout: float = 0.5) -> str | None:
    """Send one out-of-dialog request (OPTIONS, a third-party REGISTER) over UDP from a fresh
    local port; the response's status line, or None when none came within `timeout`."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host if host != "localhost" else "127.0.0.1", 0))
        s.settimeout(timeout)
        me = s.getsockname()
        call_id = uuid.uuid4().hex
        text = "\r\n".join([
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {me[0]}:{me[1]};branch=z9hG4bK{call_id[:16]};rport",
            "Max-Forwards: 70", f"From: <{from_uri}>;tag={call_id[:8]}",
            f"To: <{to_uri}>", f"Call-ID: {call_id}", f"CSeq: 1 {method}", *headers,
            "Content-Length: 0"]) + "\r\n\r\n"
        s.sendto(text.encode(), (host, port))
        try:
            return s.recv(65535).decode("utf-8", "replace").split("\r\n", 1)[0]
        except (socket.timeout, ConnectionRefusedError):
            return None


def sip_options(host: str, port: int, timeout: float = 0.5) -> str | None:
    """Send one OPTIONS to host:port; the response's status line, or None."""
    local = host if host != "localhost" else "127.0.0.1"
    return sip_request(host, port, "OPTIONS", f"sip:{host}:{port}", f"sip:probe@{local}", f"sip:{host}:{port}",
                       timeout=timeout)


def start_kamailio(cmd: list[str], host: str, port: int, log_path: str | Path,
                   timeout: float = 10.0) -> subprocess.Popen:
    """Start Kamailio (``cmd``: ``kamailio_command``) in a session of its own, its output appended to
    ``log_path``, and wait until it answers OPTIONS on ``host:port`` with 200. ``ProxyError`` with the
    log's tail if it exits or does not answer within ``timeout``; stopped if the wait fails."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ProxyError(f"kamailio exited with {proc.returncode}: {log_tail(log_path)}")
            if (sip_options(host, port, 0.2) or "").startswith("SIP/2.0 200"):
                return proc
        raise ProxyError(f"kamailio did not answer on {host}:{port}: {log_tail(log_path)}")
    except BaseException:  # also a bench's SIGTERM or ^C while waiting: its own session outlives us
        stop_kamailio(proc)
        raise


def stop_kamailio(proc: subprocess.Popen | None) -> None:
    """Stop the process group ``start_kamailio`` started (its main process and its children)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def log_tail(log_path: str | Path, chars: int = 3000) -> str:
    try:
        return Path(log_path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""


class KamailioProxy:
    """One Kamailio process with its own run directory (config, pid, control socket, log)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *, run_dir: str | None = None,
                 auth: bool = False, password: str = "secret", ring_limit: int = 60) -> None:
        self.host, self.port = host, port or free_udp_port(host)
        self.run_dir = run_dir or tempfile.mkdtemp(prefix="hotline-kamailio-")
        self.auth, self.password, self.ring_limit = auth, password, ring_limit
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.run_dir, "kamailio.log")

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self, timeout: float = 10.0) -> "KamailioProxy":
        if not os.path.exists(KAMAILIO):
            raise ProxyError("kamailio not installed (apt-get install -y kamailio)")
        os.makedirs(self.run_dir, exist_ok=True)
        cfg = os.path.join(self.run_dir, "kamailio.cfg")
        Path(cfg).write_text(render(host=self.host, port=self.port, run_dir=self.run_dir,
                                    password=self.password, ring_limit=self.ring_limit))
        cmd = kamailio_command(cfg, self.run_dir, auth=self.auth)
        self.proc = start_kamailio(cmd, self.host, self.port, self.log_path, timeout)
        return self

    def stop(self) -> None:
        """Stop the process group this proxy started (its main process and its children)."""
        proc, self.proc = self.proc, None
        stop_kamailio(proc)

    def log_tail(self, chars: int = 3000) -> str:
        return log_tail(self.log_path, chars)

    def __enter__(self) -> "KamailioProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
