"""`hotline deploy render|up`: the production layout on one machine (`make up`)."""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/hotline"
DEFAULT_REDIS = "redis://127.0.0.1:6379/1"


def _layout(run_dir: str | None, base_port: int | None, sip_port: int | None):
    from hotline.app.deploy import Layout

    run = Path(run_dir or os.environ.get("HOTLINE_UP_DIR") or "instance/up").resolve()
    run.mkdir(parents=True, exist_ok=True)
    key_file = run / "secret_key"
    secret = os.environ.get("SECRET_KEY")
    if not secret:
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        secret = key_file.read_text().strip()
    return Layout.from_base(
        run, base_port=base_port or int(os.environ.get("HOTLINE_UP_HTTP_PORT", "8000")),
        sip_base=sip_port or int(os.environ.get("HOTLINE_UP_SIP_PORT", "5070")),
        database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE,
        redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS, secret_key=secret)


@click.group("deploy")
def deploy() -> None:
    """The production layout (Procfile, nginx, Kamailio) on one machine."""


_run_dir = click.option("--run-dir", help="where the generated files go (HOTLINE_UP_DIR, default instance/up)")
_http = click.option("--http-port", type=int, help="nginx's port (HOTLINE_UP_HTTP_PORT, default 8000)")
_sip = click.option("--sip-port", type=int, help="Kamailio's UDP port (HOTLINE_UP_SIP_PORT, default 5070)")


@deploy.command("render")
@_run_dir
@_http
@_sip
def render_cmd(run_dir, http_port, sip_port) -> None:
    """Write nginx.conf, kamailio.cfg, dispatcher.list, Procfile and layout.env."""
    from hotline.app.deploy import render

    for name, path in render(_layout(run_dir, http_port, sip_port)).items():
        click.echo(f"{name}: {path}")


@deploy.command("up")
@_run_dir
@_http
@_sip
def up_cmd(run_dir, http_port, sip_port) -> None:
    """Check PostgreSQL and Redis, create and migrate the database, render, run everything with
    honcho in the foreground (Ctrl-C stops it)."""
    from hotline.app.deploy import ROOT, missing_tools, render
    from hotline.app.layout import check_services, prepare_database, published_demo_logins

    layout = _layout(run_dir, http_port, sip_port)
    problems = check_services(layout.database_url, layout.redis_url)
    missing = missing_tools()
    if missing:
        problems.append(f"missing programs: {', '.join(missing)} (apt-get install -y {' '.join(missing)})")
    if problems:
        raise click.ClickException("cannot start the layout:\n  " + "\n  ".join(problems) +
                                   "\n(set DATABASE_URL / REDIS_URL to reachable servers)")
    prepare_database(layout.database_url)
    demo = published_demo_logins(layout.database_url)
    if demo:
        raise click.ClickException(
            f"demo accounts with their published passwords are active: {', '.join(demo)}. Change them "
            "(hotline users set-password NAME) or deactivate them (hotline users deactivate NAME) first.")
    files = render(layout)
    click.echo(f"layout in {layout.run_dir}: web {layout.url}, SIP 12345 at {layout.host}:{layout.kamailio_port}")
    click.echo("no staff account yet? hotline users create NAME --role admin")
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    honcho = os.path.join(venv_bin, "honcho")
    os.chdir(ROOT)
    os.execv(honcho, [honcho, "start", "--no-colour", "-f", str(files["Procfile"]), "-e", str(files["layout.env"]),
                      "-d", str(ROOT)])
