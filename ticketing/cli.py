"""`hotline audit verify` (the verifiable history) and `hotline privacy erase|retention` (callers'
personal data), added to the `hotline` command by ticketing/plugin.py."""
from __future__ import annotations

import sys

import click


def _app():
    from hotline.commands import load_app

    return load_app()


@click.group()
def audit() -> None:
    """The verifiable ticket history."""


@audit.command("verify")
def audit_verify() -> None:
    """Check every ticket's hash chain; exit 1 naming the first broken ticket and event."""
    from hotline.extensions import db as database

    from .audit import verify_all

    _app()
    checked = 0
    redactions: list = []
    for ticket, finding in verify_all(database.session, redactions=redactions):
        checked += 1
        if finding is not None:
            click.echo(f"BROKEN {finding}", err=True)
            sys.exit(1)
    click.echo(f"OK: {checked} tickets, every event chain intact")
    if redactions:
        click.echo(f"{len(redactions)} events had personal data erased (their digests still verify):")
        for item in redactions:
            click.echo(f"  REDACTED {item}")


@click.group()
def privacy() -> None:
    """Callers' personal data: erasure (PIPL art. 47) and the retention job."""


@privacy.command("erase")
@click.argument("ticket", required=False)
@click.option("--phone", default=None, help="erase every ticket and call of this number instead")
@click.option("--reason", default="本人申请删除个人信息", show_default=True, help="recorded in the history")
@click.option("--with-address", is_flag=True, help="also blank the ticket's address")
@click.option("--actor", default="admin", show_default=True, help="who asked (recorded as the event's actor)")
def privacy_erase(ticket, phone, reason, with_address, actor) -> None:
    """Blank a caller's name, number, ID number and recordings; the history keeps verifying."""
    from hotline.exceptions import TicketingError
    from hotline.extensions import db as database
    from hotline.identity import ADMIN, Actor

    if bool(ticket) == bool(phone):
        raise click.UsageError("give a ticket number or --phone, not both")
    who = Actor(username=actor, role=ADMIN)
    try:
        with _app().app_context():  # erasers of other packages read the app's configuration
            done = _erase(database.session, ticket, phone, who, reason, with_address)
    except TicketingError as exc:
        raise click.ClickException(exc.message)
    for item in done:
        other = ", ".join(f"{k} {v}" for k, v in item.other.items())
        click.echo(f"erased {item.ticket}: {', '.join(item.fields) or 'nothing left'}; "
                   f"{item.redacted_events} history events redacted" + (f"; {other}" if other else ""))
    if phone:
        click.echo(f"{len(done)} tickets of {phone} erased")


def _erase(session, ticket, phone, who, reason, with_address):
    from .erasure import erase_phone, erase_ticket

    if phone:
        return erase_phone(session, phone, who, reason=reason, with_address=with_address)
    return [erase_ticket(session, ticket, who, reason=reason, with_address=with_address)]


@privacy.command("retention")
@click.option("--days", type=int, default=None, help="override HOTLINE_PERSONAL_DATA_RETENTION_DAYS")
def privacy_retention(days) -> None:
    """Run the retention job once: erase callers' data of tickets finished more than N days ago."""
    from hotline.extensions import db as database
    from hotline.identity import Actor

    from .erasure import erase_expired

    app = _app()
    days = app.config["HOTLINE"].personal_data_retention_days if days is None else days
    if days <= 0:
        click.echo("retention is off (HOTLINE_PERSONAL_DATA_RETENTION_DAYS=0): nothing erased")
        return
    count = 0
    with app.app_context():
        while True:
            erased = erase_expired(database.session, days, Actor.system("retention"))
            count += erased
            if erased == 0:
                break
    click.echo(f"erased the callers' data of {count} tickets finished more than {days} days ago")


COMMANDS = [audit, privacy]
