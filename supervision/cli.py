"""CLI: ``hotline supervision scan``, ``hotline kpi catch-up|rebuild``, ``hotline demo seed``."""
from __future__ import annotations

import time

import click


def _app():
    from hotline.commands import load_app

    return load_app()


def _settings(app):
    from .schemas import Settings

    return Settings.from_config(app.config["HOTLINE"])


@click.group("supervision")
def supervision() -> None:
    """Deadline scans and 督办."""


@supervision.command("scan")
def scan_cmd() -> None:
    """Run one deadline/escalation scan now (also catches up the KPI rollups)."""
    from hotline.extensions import db
    from hotline.clock import utcnow

    from .hotspots import HotspotSettings
    from .scan import run_scan

    app = _app()
    with app.app_context():
        result = run_scan(db.session, utcnow(), _settings(app), HotspotSettings.from_config(app.config["HOTLINE"]))
    click.echo(f"cards issued: {len(result['cards'])}, escalations: {len(result['escalations'])}, "
               f"tickets rolled up: {result['rollup_tickets']}, hot-topic spikes announced: {len(result['hotspots'])}")


@click.group("kpi")
def kpi() -> None:
    """KPI rollups."""


@kpi.command("catch-up")
def kpi_catch_up() -> None:
    """Bring the rollups up to date with the ticket history (incremental)."""
    from hotline.extensions import db

    from .rollup import catch_up

    app = _app()
    started = time.perf_counter()
    with app.app_context():
        n = catch_up(db.session, settings=_settings(app))
    click.echo(f"recomputed {n} tickets in {time.perf_counter() - started:.1f} s")


@kpi.command("rebuild")
def kpi_rebuild() -> None:
    """Recompute all ticket rollups from history (after changing KPI rules or repairing data)."""
    from hotline.extensions import db

    from .rollup import rebuild

    app = _app()
    started = time.perf_counter()
    with app.app_context():
        n = rebuild(db.session, _settings(app))
    click.echo(f"rebuilt rollups from {n} tickets in {time.perf_counter() - started:.1f} s")


@click.group("demo")
def demo() -> None:
    """Demonstration data."""


@demo.command("seed")
@click.option("--tickets", "count", type=click.IntRange(1, 20_000_000), default=10_000, show_default=True)
@click.option("--days", type=click.IntRange(1, 3660), default=365, show_default=True,
              help="spread over this many days before now")
@click.option("--seed", "rng_seed", type=int, default=12345, show_default=True, help="random seed")
def demo_seed(count: int, days: int, rng_seed: int) -> None:
    """Generate COUNT tickets of realistic history (valid audit chains, rollups updated)."""
    from hotline.extensions import db

    from .demo import generate

    app = _app()
    started = time.perf_counter()
    with app.app_context():
        app.extensions["hotline.seed"](db.session, demo=True)  # the app shell's first-run seed
        result = generate(db.session, count, days=days, seed=rng_seed, echo=click.echo)
    click.echo(f"seeded {result['tickets']} tickets and {result['events']} events "
               f"in {time.perf_counter() - started:.1f} s (rollups: {result['rollup_tickets']} tickets)")


COMMANDS = [supervision, kpi, demo]
