"""The `hotline` command: run, db upgrade, seed, users, audit, and what packages add."""
from __future__ import annotations

import sys

import click

from hotline.commands import AppLoader, load_app
from hotline.config import Config


def _app():
    return load_app()


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """12345 hotline administration."""
    from .factory import create_app

    ctx.obj = AppLoader(create_app)  # package commands reach the app through hotline.commands
    ctx.call_on_close(ctx.obj.close)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (Alembic)."""
    from .dbadmin import upgrade

    url = Config.from_env().database_url
    upgrade(url)
    click.echo(f"database at head: {_safe_url(url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option("--demo", is_flag=True, help="also create the demo accounts (published passwords: never in production)")
def seed(demo: bool) -> None:
    """Seed departments, towns, the catalogue and articles (and with --demo the demo accounts)."""
    from hotline.extensions import db as database

    from .dbadmin import seed as do_seed

    _app()
    accounts = do_seed(database.session, demo=demo)
    _print_accounts(accounts)


def _print_accounts(accounts) -> None:
    if not accounts:
        return
    click.echo("Demo accounts (change or disable them before production use):")
    for username, password, role in accounts:
        click.echo(f"  {role:<11} {username:<12} password: {password}")


@main.command()
@click.option("--no-sip", is_flag=True, help="do not start the SIP endpoint in this process")
@click.option("--demo", is_flag=True, help="create the demo accounts even though the database is not new")
def run(no_sip: bool, demo: bool) -> None:
    """Migrate, seed, and serve web + Socket.IO (+ SIP) in one process.

    Demo accounts are created only in a fresh SQLite database (the embedded default) or with --demo.
    """
    from hotline.demo_accounts import DEMO_USERS, active_published_accounts
    from hotline.extensions import db as database
    from hotline.extensions import socketio

    from .dbadmin import is_fresh_database, upgrade
    from .dbadmin import seed as do_seed
    from .runtime import start_background
    from .startup import refuse_published_demo_passwords

    config = Config.from_env()
    sqlite = config.database_url.startswith("sqlite")
    fresh = is_fresh_database(config.database_url)
    upgrade(config.database_url)
    app = _app()
    do_seed(database.session, demo=demo or (fresh and sqlite))
    if not demo:  # asked for with --demo: the operator knows what this database holds
        refuse_published_demo_passwords(app)
    published = set(active_published_accounts(database.session))
    accounts = [(u[0], u[3], u[1]) for u in DEMO_USERS if u[0] in published]
    start_background(app, sip=config.sip_enabled and not no_sip)
    click.echo(f"12345 hotline on http://{config.web_host}:{config.web_port}/  (database {_safe_url(config.database_url)})")
    _print_accounts(accounts)
    socketio.run(app, host=config.web_host, port=config.web_port, allow_unsafe_werkzeug=True,
                 use_reloader=False)


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["operator", "department", "supervisor", "admin"]))
@click.option("--department", "department", default=None, help="department code (department users)")
@click.option("--display-name", default=None)
@click.option("--extension", default=None, help="SIP extension of the user's phone")
def users_create(name, role, department, display_name, extension) -> None:
    """Create a user; the password is read from standard input."""
    from hotline.auth import create_user
    from hotline.extensions import db as database
    from hotline.exceptions import TicketingError

    password = sys.stdin.readline().rstrip("\n")
    _app()
    try:
        user = create_user(database.session, name, password, role, department, display_name, extension)
    except TicketingError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc.message}{' (' + details + ')' if details else ''}")
    click.echo(f"created {user.role} {user.username}" + (f" of {department}" if department else ""))


def _user(name: str):
    from hotline.accounts import get_user
    from hotline.extensions import db as database
    from hotline.exceptions import TicketingError

    _app()
    try:
        return get_user(database.session, name)
    except TicketingError as exc:
        raise click.ClickException(exc.message)


@users.command("set-password")
@click.argument("name")
def users_set_password(name) -> None:
    """Set a user's password (read from standard input); every session and token of the user ends."""
    from hotline.accounts import set_password
    from hotline.extensions import db as database
    from hotline.exceptions import TicketingError

    password = sys.stdin.readline().rstrip("\n")
    user = _user(name)
    try:
        set_password(database.session, user, password, by="cli")
    except TicketingError as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message)
    click.echo(f"password of {name} changed; its sessions and tokens ended")


@users.command("deactivate")
@click.argument("name")
def users_deactivate(name) -> None:
    """Deactivate an account: it cannot log in, its sessions and tokens end at once."""
    from hotline.accounts import set_active
    from hotline.extensions import db as database

    user = _user(name)
    set_active(database.session, user, False, by="cli")
    click.echo(f"{name} deactivated")


@users.command("activate")
@click.argument("name")
def users_activate(name) -> None:
    """Reactivate an account."""
    from hotline.accounts import set_active
    from hotline.extensions import db as database

    user = _user(name)
    set_active(database.session, user, True, by="cli")
    click.echo(f"{name} activated")


@users.command("revoke")
@click.argument("name")
def users_revoke(name) -> None:
    """End every session and revoke every bearer token of a user."""
    from hotline.accounts import end_all_sessions
    from hotline.extensions import db as database

    user = _user(name)
    revoked = end_all_sessions(database.session, user, reason="admin_revoke", by="cli")
    click.echo(f"{name}: sessions ended, {revoked} token(s) revoked")


def _register_package_commands() -> None:
    from .plugins import PLUGINS

    for plugin in PLUGINS:
        for command in plugin.commands():
            main.add_command(command)


_register_package_commands()

from .deploy_cli import deploy as _deploy  # noqa: E402 - `hotline deploy render|up` (`make up`)

main.add_command(_deploy)

if __name__ == "__main__":
    main()
