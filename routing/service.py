"""Routing services: suggest, learn from dispatches, train, and keep the live engine current.

The live engine is keyed by the database state it was built from (catalogue version, newest
model, directory); a request compares that key (one small query) and rebuilds only when something
changed. Training happens only in ``train`` (a background job); a request that finds no trained
model uses the catalogue alone and asks for training in the background.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import func, select, text as sql
from sqlalchemy.exc import IntegrityError

from ticketing.models import Department, Ticket, Town

from hotline import jobs

from . import catalogue, learner
from .engine import Engine, live
from .exceptions import ValidationFailed
from .learner import HISTORY_WEIGHT, Sample
from .models import CatalogueEntry, Example, TrainedModel
from .schemas import SuggestIn, parse

log = logging.getLogger("hotline.routing")
DEFAULT_MAX_CHARS = 4000
_training_requested: set = set()


# -- the live engine ---------------------------------------------------------------------------------
def _state_key(session) -> tuple:
    row = session.execute(sql(
        "SELECT (SELECT max(id) FROM routing_catalogue_changes), (SELECT max(id) FROM routing_models), "
        "(SELECT max(id) FROM department_changes), (SELECT count(*) FROM towns)")).one()
    return (str(session.get_bind().url),) + tuple(row)


def engine(session, train: bool = True) -> Engine:
    """The engine for this database, rebuilt only when its inputs changed (``train``: also queue
    the learned model's training when the engine has none; the catalogue part needs no model)."""
    key = _state_key(session)
    if key[1] is None:
        catalogue.ensure_seeded(session)
        key = _state_key(session)
    current = live.engine
    if current is not None and live.key == key:
        return current
    with live.lock:
        if live.engine is not None and live.key == key:
            return live.engine
        built = build_engine(session, key)
        live.swap(built, key)
    if built.model is None and train:
        _request_training(key)
    return built


def build_engine(session, key: tuple = (), model=None, model_id=None) -> Engine:
    entries = [e.as_dict() for e in catalogue.list_entries(session)]
    units = {d.code: d.name for d in session.scalars(select(Department).where(Department.active.is_(True)))}
    towns = {t.code: t.name for t in session.scalars(select(Town).where(Town.active.is_(True)))}
    if model is None:
        row = session.scalars(select(TrainedModel).order_by(TrainedModel.id.desc()).limit(1)).first()
        if row is not None:
            model, model_id = learner.load(row.blob), row.id
    return Engine(entries, units, towns, model, key, model_id)


def _request_training(key: tuple) -> None:
    if key in _training_requested:
        return
    _training_requested.add(key)
    request_retrain()


def request_retrain() -> None:
    """Queue a retraining job (Celery task / in-process thread); never waits for it."""
    from .tasks import retrain

    jobs.enqueue(retrain)


# -- suggest -----------------------------------------------------------------------------------------
def validate_text(data: dict, max_chars: int) -> SuggestIn:
    inp = parse(SuggestIn, data)
    if len(inp.text) > max_chars:
        raise ValidationFailed("text too long", {"text": f"at most {max_chars} characters (got {len(inp.text)})"})
    return inp


def suggest(session, data: dict, max_chars: int = DEFAULT_MAX_CHARS) -> dict:
    inp = validate_text(data, max_chars)
    return engine(session).suggest(inp.text, town=inp.town)


def matters(session, items: list[tuple[str, str | None]]) -> list[str]:
    """The catalogue matter of each (text, holding unit's code) pair ("" when none): what
    supervision's hot-topic rollup counts tickets by."""
    eng = engine(session, train=False)  # the catalogue's phrases only: no model needed
    return [eng.matter(text[:DEFAULT_MAX_CHARS], unit) for text, unit in items]


def suggest_for_ticket(session, number: str) -> dict | None:
    """Store a suggestion on a ticket created without one (e.g. a phone draft); idempotent."""
    from hotline.identity import Actor
    from ticketing.service import record_event

    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None or ticket.routing_suggestion is not None or not ticket.content:
        return None
    town = ticket.town.code if ticket.town is not None else None
    result = engine(session).suggest(ticket.content[:DEFAULT_MAX_CHARS], town=town)
    # a second delivery of the same task (a redelivered Celery message, a periodic sweep) may run
    # at the same time: decide again under the row lock, so the ticket gets one suggestion event
    locked = session.scalar(select(Ticket).where(Ticket.number == number).with_for_update()
                            .execution_options(populate_existing=True))
    if locked is None or locked.routing_suggestion is not None:
        session.rollback()
        return None
    record_event(session, number, "routing_suggested", Actor.system("routing"), data=result)
    return result


def tickets_without_suggestion(session, hours: int = 24, limit: int = 500) -> list[str]:
    """Numbers of tickets created in the last `hours` that have content but no suggestion yet."""
    from hotline.clock import utcnow

    since = utcnow() - timedelta(hours=hours)
    return list(session.scalars(
        select(Ticket.number).where(Ticket.created_at >= since, Ticket.routing_suggestion.is_(None),
                                    Ticket.content != "").order_by(Ticket.id).limit(limit)))


# -- learning ----------------------------------------------------------------------------------------
def learn_from_change(session, number: str, action: str, data: dict | None) -> Example | None:
    """A ``sign`` by the main unit confirms the dispatch (+1); a ``return`` counts against the
    unit that returned it (-1). Safe to run twice for the same event."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None:
        return None
    if action == "sign":
        unit = (data or {}).get("department", {}).get("code") or (
            ticket.main_department.code if ticket.main_department else None)
        label = 1
    elif action == "return":
        unit = ((data or {}).get("department") or {}).get("code")
        label = -1
    else:
        return None
    if not unit:
        return None
    exists = session.scalar(select(Example.id).where(
        Example.ticket_number == number, Example.unit == unit, Example.label == label,
        Example.source == action))
    if exists:
        return None
    ex = Example(ticket_number=number, text=ticket.content, unit=unit, type=ticket.type, label=label,
                 source=action)
    session.add(ex)
    try:
        session.commit()
    except IntegrityError:  # the same event delivered twice (several subscribed processes)
        session.rollback()
        return None
    log.info("routing.learned number=%s unit=%s label=%+d", number, unit, label)
    return ex


def add_examples(session, rows: list[dict], source: str = "import") -> int:
    """Bulk-add labelled history (text, department, type) e.g. from an older system's export."""
    n = 0
    for r in rows:
        session.add(Example(text=r["text"], unit=r["department"], type=r.get("type"), label=1, source=source))
        n += 1
    session.commit()
    return n


def training_samples(session) -> list[Sample]:
    samples: list[Sample] = []
    for e in catalogue.list_entries(session):
        samples.append(Sample(e.matter, e.unit))
        samples.append(Sample(" ".join([e.matter, *e.keywords]), e.unit))
        samples += [Sample(k, e.unit) for k in e.keywords]
    for ex in session.scalars(select(Example).order_by(Example.id)):
        samples.append(Sample(ex.text, ex.unit, ex.label, HISTORY_WEIGHT, ex.type))
    return samples


def _trained_meanwhile(session, latest, cat_version: int, last_example: int) -> bool:
    """Under a lock held until the commit: has a model of these same inputs been stored since
    ``latest``? Two concurrent trainings then store one model."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_TRAINING_LOCK)))
    return session.scalar(select(TrainedModel.id).where(
        TrainedModel.id > (latest.id if latest is not None else 0),
        TrainedModel.catalogue_version == cat_version,
        TrainedModel.last_example_id == last_example).limit(1)) is not None


#: advisory lock key that serialises storing trained models (PostgreSQL)
_TRAINING_LOCK = 0x526F7574696E67


def train(session, force: bool = False) -> TrainedModel | None:
    """Fit a model on the catalogue and the dispatch history, store it, make it live.

    Skipped when the newest model already covers the current catalogue and examples. The fitting
    (seconds of CPU) runs in a child process in the embedded default (hotline.jobs.in_child_process:
    the SIP media threads of `hotline run` keep the GIL); this process reads the samples and stores
    the result.
    """
    cat_version = catalogue.version(session)
    last_example = session.scalar(select(func.max(Example.id))) or 0
    latest = session.scalars(select(TrainedModel).order_by(TrainedModel.id.desc()).limit(1)).first()
    if (not force and latest is not None and latest.catalogue_version == cat_version
            and latest.last_example_id == last_example):
        return None
    started = time.perf_counter()
    samples = training_samples(session)
    if not samples:  # an unseeded database: no catalogue, no history; suggestions use the rules alone
        session.rollback()
        log.info("routing.train_skipped reason=no_samples")
        return None
    session.commit()  # end the read: fitting takes seconds, no transaction (SQLite: write lock) meanwhile
    blob = jobs.in_child_process(learner.train_stored, samples)
    model = learner.load(blob)
    if _trained_meanwhile(session, latest, cat_version, last_example):
        session.rollback()  # another run of this task (a redelivery, a second worker) stored it
        return None
    row = TrainedModel(catalogue_version=cat_version, last_example_id=last_example, n_examples=len(samples),
                       n_features=model.info["features"], seconds=round(time.perf_counter() - started, 2),
                       blob=blob)
    session.add(row)
    session.commit()
    key = _state_key(session)
    engine = build_engine(session, key, model=model, model_id=row.id)
    session.commit()  # end the reads before the swap and the short clean-up write
    with live.lock:
        live.swap(engine, key)
    log.info("routing.trained model=%s samples=%s features=%s seconds=%s", row.id, len(samples),
             model.info["features"], row.seconds)
    session.execute(sql("DELETE FROM routing_models WHERE id < :keep"), {"keep": row.id - 4})
    session.commit()
    return row


def model_status(session) -> dict:
    row = session.scalars(select(TrainedModel).order_by(TrainedModel.id.desc()).limit(1)).first()
    return {"catalogue_version": catalogue.version(session),
            "entries": session.scalar(select(func.count(CatalogueEntry.id))),
            "examples": {src: n for src, n in session.execute(
                select(Example.source, func.count(Example.id)).group_by(Example.source))},
            "model": None if row is None else {
                "id": row.id, "trained_at": row.created_at.isoformat(), "samples": row.n_examples,
                "features": row.n_features, "seconds": row.seconds,
                "catalogue_version": row.catalogue_version, "last_example_id": row.last_example_id}}
