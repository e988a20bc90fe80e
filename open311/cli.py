"""`hotline open311 keys create NAME | revoke NAME | list`."""
from __future__ import annotations

import click


@click.group("open311")
def open311() -> None:
    """Open311 GeoReport v2 (/open311/v2)."""


@open311.group("keys")
def keys() -> None:
    """API keys of the clients that may POST service requests."""


def _session():
    from hotline.commands import load_app
    from hotline.extensions import db

    load_app()
    return db.session


@keys.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Issue a key for NAME and print it (shown this once; only its hash is stored)."""
    from .keys import create_key

    try:
        key = create_key(_session(), name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(key)
    click.echo(f"key for {name!r} created; it is not shown again (only its hash is kept)", err=True)


@keys.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke NAME's key: its requests are refused from now on."""
    from .keys import revoke_key

    try:
        revoke_key(_session(), name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"key {name!r} revoked")


@keys.command("list")
def list_() -> None:
    """Names of the keys, when created, and whether revoked."""
    from hotline.clock import iso

    from .keys import list_keys

    for row in list_keys(_session()):
        state = f"revoked {iso(row.revoked_at)}" if row.revoked_at else "active"
        click.echo(f"{row.name}\tcreated {iso(row.created_at)}\t{state}")


COMMANDS = [open311]
