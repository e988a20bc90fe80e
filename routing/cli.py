"""`hotline route "TEXT"`, `hotline catalogue export|import`, `hotline routing train|import-history`."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import click


def _app():
    from hotline.commands import load_app

    return load_app()


def _fail(exc) -> None:
    details = "; ".join(f"{k}: {v}" for k, v in getattr(exc, "fields", {}).items())
    raise click.ClickException(f"{exc.message}{' (' + details + ')' if details else ''}")


def _fmt(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext in (".yaml", ".yml"):
        return "yaml"
    if ext == ".csv":
        return "csv"
    raise click.ClickException("file must end in .yaml, .yml or .csv")


@click.command("route")
@click.argument("text")
@click.option("--town", default=None, help="town code, when the caller's town is known")
def route(text, town) -> None:
    """Print the routing suggestion for TEXT as JSON (same as POST /api/v1/routing/suggest)."""
    from hotline.extensions import db
    from hotline.exceptions import TicketingError

    from . import service

    from . import catalogue

    app = _app()
    with app.app_context():
        try:
            service.validate_text({"text": text, "town": town}, app.config["HOTLINE"].max_content_chars)
        except TicketingError as exc:
            _fail(exc)
        catalogue.ensure_seeded(db.session)
        if service.model_status(db.session)["model"] is None:
            # a one-off command has no background worker to wait for: train once, now
            click.echo("no trained model yet: training it once (catalogue + seed examples)...", err=True)
            service.train(db.session)
        result = service.suggest(db.session, {"text": text, "town": town},
                                 max_chars=app.config["HOTLINE"].max_content_chars)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@click.group("catalogue")
def catalogue_group() -> None:
    """The dispatch catalogue (派单目录)."""


@catalogue_group.command("export")
@click.argument("file")
def catalogue_export(file) -> None:
    """Write the catalogue to FILE (.yaml or .csv)."""
    from hotline.extensions import db

    from . import catalogue

    fmt = _fmt(file)
    with _app().app_context():
        catalogue.ensure_seeded(db.session)
        Path(file).write_text(catalogue.export(db.session, fmt), encoding="utf-8")
        click.echo(f"exported {len(catalogue.list_entries(db.session))} entries, "
                   f"version {catalogue.version(db.session)}, to {file}")


@catalogue_group.command("import")
@click.argument("file")
@click.option("--actor", required=True, help="who makes the change (kept in the history)")
@click.option("--train/--no-train", default=True, help="retrain the model right after the import")
def catalogue_import(file, actor, train) -> None:
    """Make the catalogue equal to FILE (.yaml or .csv); every change is versioned."""
    from hotline.extensions import db
    from hotline.exceptions import TicketingError

    from . import catalogue, service

    fmt = _fmt(file)
    content = Path(file).read_text(encoding="utf-8")
    with _app().app_context():
        try:
            catalogue.ensure_seeded(db.session)
            counts = catalogue.import_rows(db.session, catalogue.parse_file(content, fmt), actor)
        except TicketingError as exc:
            _fail(exc)
        click.echo(f"imported: {counts}; catalogue version {catalogue.version(db.session)}")
        if train and (counts["created"] or counts["updated"] or counts["deleted"]):
            service.train(db.session)
            click.echo("model retrained")


@click.group("routing")
def routing_group() -> None:
    """The routing model."""


@routing_group.command("train")
@click.option("--force", is_flag=True)
def routing_train(force) -> None:
    """Retrain now (normally a background job after each confirmed dispatch or return)."""
    from hotline.extensions import db

    from . import catalogue, service

    with _app().app_context():
        catalogue.ensure_seeded(db.session)
        row = service.train(db.session, force=force)
        click.echo("model is current" if row is None else
                   f"trained model {row.id}: {row.n_examples} samples, {row.n_features} features, {row.seconds}s")


@routing_group.command("import-history")
@click.argument("file")
def routing_import_history(file) -> None:
    """Add labelled past tickets (CSV with columns text, department[, type]) as examples."""
    from hotline.extensions import db

    from . import service

    with open(file, encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("split", "train") == "train"]
    with _app().app_context():
        n = service.add_examples(db.session, rows)
        click.echo(f"added {n} examples; run `hotline routing train` or wait for the background job")


COMMANDS = (route, catalogue_group, routing_group)
