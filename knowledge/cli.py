"""`hotline knowledge-seed`: load the bundled county articles (idempotent)."""
from __future__ import annotations

import click


@click.command("knowledge-seed")
def knowledge_seed():
    """Load the bundled knowledge articles that are not in the database yet."""
    from hotline.commands import load_app
    from hotline.extensions import db

    from .service import seed

    app = load_app()
    with app.app_context():
        click.echo(f"knowledge articles added: {seed(db.session)}")


COMMANDS = (knowledge_seed,)
