"""The production layout on one machine (`make up`, `hotline deploy render|up`): the one place that
writes the nginx and Kamailio configurations and the Procfile honcho runs, from the settings.

``Layout`` holds what differs between deployments (ports, URLs, how many processes of each kind);
``render`` writes into its run directory:

- ``nginx.conf``      nginx in front: sticky ``web`` for Socket.IO, bearer API requests to ``api``,
                      static files (template ``hotline/app/nginx.conf.tmpl``);
- ``kamailio.cfg``    Kamailio with the dispatcher in front of the ``sip`` processes, plus
                      ``dispatcher.list`` (template ``telephony/sip/kamailio/kamailio.cfg.tmpl``);
- ``Procfile``        one line per process: the commands of the repository's ``Procfile`` with each
                      instance's port, under ``deploy/respawn.sh`` (restarts a process that died,
                      as ``Restart=on-failure`` does in the systemd units of ``deploy/systemd``);
- ``layout.env``      the environment every process shares (``honcho -e``).

``hotline.app.layout`` starts and stops a rendered layout with honcho.
"""
from __future__ import annotations

import getpass
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from telephony.sip.proxy import KAMAILIO, dispatcher_list, kamailio_command
from telephony.sip.proxy import render as render_kamailio

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.tmpl"
PROCFILE = ROOT / "Procfile"
RESPAWN = ROOT / "deploy" / "respawn.sh"
NGINX = "/usr/sbin/nginx"
#: settings passed from the caller's environment to every process when set
PASSED = ("VOSK_MODEL_DIR", "HOTLINE_MAX_LIVE_TRANSCRIPTIONS", "HOTLINE_ACD_STRATEGY", "HOTLINE_ACD_RING_TIMEOUT",
          "HOTLINE_ACD_WRAPUP", "HOTLINE_ACD_MAX_WAIT", "HOTLINE_ACD_ANNOUNCE_SECONDS", "HOTLINE_SERVICE_HOURS",
          "HOTLINE_SIP_STALE_SECONDS", "HOTLINE_EMERGENCY_NUMBERS", "SESSION_COOKIE_SECURE",
          "HOTLINE_ANSWER_TARGET_SECONDS", "SIP_ANSWER_DELAY_MS", "SIP_RTP_TIMEOUT_SECONDS")


@dataclass
class Layout:
    """Where each process of the layout listens. ``from_base`` numbers everything from one port."""

    run_dir: Path
    database_url: str
    redis_url: str
    secret_key: str
    http_port: int
    web_ports: list[int]
    api_port: int
    sip_ports: list[int]
    kamailio_port: int
    rtp_low: int = 20000
    rtp_per_sip: int = 2000
    host: str = "127.0.0.1"
    workers: int = 2
    worker_concurrency: int = 2
    api_workers: int = 2
    recordings_dir: str = ""
    env: dict[str, str] = field(default_factory=dict)  # more settings for every process

    @classmethod
    def from_base(cls, run_dir, *, base_port: int = 8000, sip_base: int = 5070, webs: int = 2, sips: int = 2,
                  **kwargs) -> "Layout":
        """nginx on ``base_port``, ``web`` on the next ports, ``api`` on base+10; Kamailio on
        ``sip_base`` (UDP) and the ``sip`` processes after it."""
        return cls(run_dir=Path(run_dir), http_port=base_port, web_ports=[base_port + 1 + i for i in range(webs)],
                   api_port=base_port + 10, kamailio_port=sip_base,
                   sip_ports=[sip_base + 1 + i for i in range(sips)], **kwargs)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def rtp_range(self, i: int) -> tuple[int, int]:
        low = self.rtp_low + i * self.rtp_per_sip
        return low, low + self.rtp_per_sip - 2


def procfile_commands(path: Path = PROCFILE) -> dict[str, str]:
    """The repository Procfile's process kinds and commands, in order."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def _line(name: str, exports: dict[str, object], command: str, respawn: bool = True) -> str:
    """``name: export ...; exec respawn.sh env <command>`` (exported first so that the command's
    own ``${PORT}`` expands to this instance's value)."""
    head = "export " + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in exports.items()) + "; " if exports else ""
    body = f"exec {shlex.quote(str(RESPAWN))} env {command}" if respawn else f"exec {command}"
    return f"{name}: {head}{body}"


def procfile(layout: Layout) -> str:
    """The layout's Procfile: every instance of every kind of the repository's Procfile, plus
    Kamailio and nginx."""
    cmds = procfile_commands()
    run = layout.run_dir
    lines = [f"# written by `hotline deploy render` from {PROCFILE} - run with: honcho start -f {run}/Procfile "
             f"-e {run}/layout.env -d {ROOT}"]
    for i, port in enumerate(layout.web_ports, 1):
        lines.append(_line(f"web{i}", {"PORT": port}, cmds["web"]))
    lines.append(_line("api", {"API_PORT": layout.api_port, "API_WORKERS": layout.api_workers}, cmds["api"]))
    for i in range(1, layout.workers + 1):
        lines.append(_line(f"worker{i}", {}, cmds["worker"].replace("--concurrency 2", f"--concurrency "
                                                                      f"{layout.worker_concurrency} -n worker{i}@%h")))
    lines.append(_line("beat", {}, cmds["beat"] + f" --schedule {run}/celerybeat-schedule"))
    for i, port in enumerate(layout.sip_ports):
        low, high = layout.rtp_range(i)
        lines.append(_line(f"sip{i + 1}", {"SIP_PORT": port, "SIP_RTP_LOW": low, "SIP_RTP_HIGH": high,
                                           "SIP_USER": f"hotline-sip{i + 1}"}, cmds["sip"]))
    kam = kamailio_command(str(run / "kamailio.cfg"), str(run), dispatcher=True)
    lines.append(_line("kamailio", {}, shlex.join(kam), respawn=False))
    lines.append(_line("nginx", {}, shlex.join([NGINX, "-c", str(run / "nginx.conf"), "-p", str(run),
                                                "-e", str(run / "nginx-error.log")]), respawn=False))
    return "\n".join(lines) + "\n"


def environment(layout: Layout, source: dict | None = None) -> dict[str, str]:
    """What every process of the layout shares."""
    source = os.environ if source is None else source
    env = {
        "DATABASE_URL": layout.database_url, "REDIS_URL": layout.redis_url, "SECRET_KEY": layout.secret_key,
        "HOTLINE_INSTANCE_DIR": str(layout.run_dir / "instance"),
        "HOTLINE_RECORDINGS_DIR": layout.recordings_dir or str(layout.run_dir / "instance" / "recordings"),
        "BIND_HOST": layout.host, "SIP_HOST": layout.host, "SIP_MODE": "register", "SIP_SERVER": layout.host,
        "SIP_SERVER_PORT": str(layout.kamailio_port), "SIP_PASSWORD": "", "PYTHONUNBUFFERED": "1",
    }
    env.update({k: source[k] for k in PASSED if k in source})
    env.update(layout.env)
    return env


def nginx_conf(layout: Layout) -> str:
    values = {
        "RUN_DIR": str(layout.run_dir), "ROOT": str(ROOT), "HTTP_HOST": layout.host, "HTTP_PORT": str(layout.http_port),
        "WEB_SERVERS": "\n".join(f"        server {layout.host}:{p} max_fails=1 fail_timeout=5s;"
                                 for p in layout.web_ports),
        "API_SERVERS": f"        server {layout.host}:{layout.api_port};",
        # workers of an nginx started as root would switch to "nobody": keep the starting user
        "USER_LINE": f"user {getpass.getuser()};" if os.geteuid() == 0 else "",
        "PROXY_HEADERS": "proxy_set_header Host $http_host; proxy_set_header X-Real-IP $remote_addr; "
                         "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; "
                         "proxy_set_header X-Forwarded-Proto $scheme;",
    }
    text = NGINX_TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def kamailio_files(host: str, port: int, run_dir: Path, sip_ports: list[int]) -> dict[str, str]:
    """Kamailio's configuration with the dispatcher in front of the ``sip`` processes on
    ``sip_ports`` (run it with ``kamailio_command(..., dispatcher=True)``). ``render`` writes these;
    the benches (bench/common.py ``DispatcherFront``) start Kamailio from the same text."""
    return {"kamailio.cfg": render_kamailio(host=host, port=port, run_dir=str(run_dir)),
            "dispatcher.list": dispatcher_list([(host, p) for p in sip_ports])}


def render(layout: Layout, source_env: dict | None = None) -> dict[str, Path]:
    """Write the layout's files into its run directory; their paths by name."""
    run = layout.run_dir
    for sub in ("nginx-tmp", "instance"):
        (run / sub).mkdir(parents=True, exist_ok=True)
    files = {
        "nginx.conf": nginx_conf(layout),
        **kamailio_files(layout.host, layout.kamailio_port, run, layout.sip_ports),
        "Procfile": procfile(layout),
        "layout.env": "".join(f"{k}={v}\n" for k, v in environment(layout, source_env).items()),
    }
    out = {}
    for name, text in files.items():
        path = run / name
        path.write_text(text)
        out[name] = path
    os.chmod(run / "layout.env", 0o600)  # holds SECRET_KEY and the database URL
    return out


def missing_tools() -> list[str]:
    return [name for name, path in (("nginx", NGINX), ("kamailio", KAMAILIO)) if not os.path.exists(path)]
