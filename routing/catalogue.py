"""The dispatch catalogue (派单目录): seeding, editing, import and export.

Every change writes a ``CatalogueChange`` row (actor, time, before/after) in the same transaction;
the newest change id is the catalogue version the classifier is built from. An import replaces the
catalogue with the file's content as a diff, so unchanged entries keep their history.
"""
from __future__ import annotations

import csv
import io
import logging
from importlib import resources

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ticketing.models import Department

from .exceptions import Conflict, NotFound, ValidationFailed
from .models import CatalogueChange, CatalogueEntry, Example
from .schemas import EntryIn, EntryPatch, parse

log = logging.getLogger("hotline.routing")
TOWN = "town"  # every town/sub-district government


def version(session) -> int:
    return session.scalar(select(func.max(CatalogueChange.id))) or 0


def seed_data() -> dict:
    return yaml.safe_load(resources.files("routing.data").joinpath("catalogue.yaml").read_text("utf-8"))


def seed_examples() -> list[dict]:
    """Labelled requests shipped with the seed (the training part of tests/data/routing_requests.csv,
    never its held-out part), so a fresh install already knows colloquial phrasing and types."""
    text = resources.files("routing.data").joinpath("seed_examples.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def ensure_seeded(session) -> int:
    """Load the shipped seed once (the first time the catalogue has no history at all): the
    catalogue, plus the seed examples for the learned model."""
    if version(session):
        return 0
    rows = _rows_from_mapping(seed_data())
    try:
        n = _apply(session, rows, actor="seed", source="seed", known_units=None)
        for ex in seed_examples():
            session.add(Example(text=ex["text"], unit=ex["department"], type=ex["type"] or None,
                                label=1, source="seed"))
        session.commit()
    except IntegrityError:  # another process seeded at the same time
        session.rollback()
        return 0
    log.info("routing.catalogue_seeded entries=%s", n)
    return n


def list_entries(session, unit: str | None = None) -> list[CatalogueEntry]:
    stmt = select(CatalogueEntry).order_by(CatalogueEntry.unit, CatalogueEntry.id)
    if unit:
        stmt = stmt.where(CatalogueEntry.unit == unit)
    return list(session.scalars(stmt))


def history(session, limit: int = 200, entry_id: int | None = None) -> list[CatalogueChange]:
    stmt = select(CatalogueChange).order_by(CatalogueChange.id.desc()).limit(limit)
    if entry_id is not None:
        stmt = stmt.where(CatalogueChange.entry_id == entry_id)
    return list(session.scalars(stmt))


def _units(session) -> set[str]:
    return set(session.scalars(select(Department.code).where(Department.active.is_(True)))) | {TOWN}


def _check_units(units: set[str], unit: str, co: list[str], prefix: str = "") -> None:
    fields = {}
    if unit not in units:
        fields[f"{prefix}unit"] = f"unknown unit {unit!r}"
    for i, c in enumerate(co):
        if c not in units:
            fields[f"{prefix}co_units.{i}"] = f"unknown unit {c!r}"
        elif c == unit:
            fields[f"{prefix}co_units.{i}"] = "the lead unit cannot also be a co-unit"
    if fields:
        raise ValidationFailed("invalid catalogue entry", fields)


def _record(session, entry: CatalogueEntry | None, action: str, before, after, actor, source,
            unit=None, matter=None) -> None:
    session.flush()
    session.add(CatalogueChange(entry_id=entry.id if entry is not None else None, action=action,
                                unit=unit or entry.unit, matter=matter or entry.matter, before=before,
                                after=after, actor=actor, source=source))


def create_entry(session, data: dict, actor: str, source: str = "api") -> CatalogueEntry:
    inp = parse(EntryIn, data)
    _check_units(_units(session), inp.unit, inp.co_units)
    if session.scalar(select(CatalogueEntry).where(CatalogueEntry.unit == inp.unit,
                                                   CatalogueEntry.matter == inp.matter)):
        raise Conflict(f"unit {inp.unit} already has a matter {inp.matter!r}")
    entry = CatalogueEntry(unit=inp.unit, matter=inp.matter, keywords=inp.keywords, co_units=inp.co_units)
    session.add(entry)
    _record(session, entry, "create", None, _snapshot(entry), actor, source)
    session.commit()
    return entry


def update_entry(session, entry_id: int, data: dict, actor: str, source: str = "api") -> CatalogueEntry:
    patch = parse(EntryPatch, data)
    entry = session.get(CatalogueEntry, entry_id)
    if entry is None:
        raise NotFound(f"catalogue entry {entry_id} not found")
    before = _snapshot(entry)
    merged = {**before, **patch.model_dump(exclude_none=True)}
    inp = parse(EntryIn, merged)
    _check_units(_units(session), inp.unit, inp.co_units)
    entry.unit, entry.matter, entry.keywords, entry.co_units = inp.unit, inp.matter, inp.keywords, inp.co_units
    after = _snapshot(entry)
    if after == before:
        return entry
    _record(session, entry, "update", before, after, actor, source)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"unit {inp.unit} already has a matter {inp.matter!r}") from None
    return entry


def delete_entry(session, entry_id: int, actor: str, source: str = "api") -> None:
    entry = session.get(CatalogueEntry, entry_id)
    if entry is None:
        raise NotFound(f"catalogue entry {entry_id} not found")
    _record(session, entry, "delete", _snapshot(entry), None, actor, source)
    session.delete(entry)
    session.commit()


def _snapshot(entry: CatalogueEntry) -> dict:
    return {"unit": entry.unit, "matter": entry.matter, "keywords": list(entry.keywords or []),
            "co_units": list(entry.co_units or [])}


# -- import / export -------------------------------------------------------------------------------
def _rows_from_mapping(data) -> list[dict]:
    if not isinstance(data, dict):
        raise ValidationFailed("catalogue file must map unit codes to lists of matters",
                               {"": "expected a mapping unit -> [matters]"})
    rows = []
    for unit, matters in data.items():
        for i, m in enumerate(matters or []):
            if not isinstance(m, dict):
                raise ValidationFailed("invalid catalogue file", {f"{unit}.{i}": "expected a mapping"})
            rows.append({"unit": str(unit), "matter": m.get("matter"),
                         "keywords": [str(k) for k in m.get("keywords") or []],
                         "co_units": [str(c) for c in m.get("co") or m.get("co_units") or []]})
    return rows


def parse_file(content: str, fmt: str) -> list[dict]:
    """Rows from a YAML (unit -> [{matter, keywords, co}]) or CSV (unit,matter,keywords,co_units;
    lists separated by '|') export."""
    if fmt == "yaml":
        try:
            return _rows_from_mapping(yaml.safe_load(content))
        except yaml.YAMLError as exc:
            raise ValidationFailed(f"invalid YAML: {exc}", {"": "invalid YAML"}) from None
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content))
        missing = {"unit", "matter", "keywords"} - set(reader.fieldnames or [])
        if missing:
            raise ValidationFailed("CSV lacks columns", {c: "missing column" for c in missing})
        return [{"unit": r["unit"].strip(), "matter": (r["matter"] or "").strip(),
                 "keywords": [k for k in (r["keywords"] or "").split("|") if k.strip()],
                 "co_units": [k.strip() for k in (r.get("co_units") or "").split("|") if k.strip()]}
                for r in reader]
    raise ValidationFailed(f"unknown format {fmt!r}", {"format": "yaml or csv"})


def export(session, fmt: str) -> str:
    entries = list_entries(session)
    if fmt == "yaml":
        data: dict[str, list] = {}
        for e in entries:
            item = {"matter": e.matter, "keywords": list(e.keywords or [])}
            if e.co_units:
                item["co"] = list(e.co_units)
            data.setdefault(e.unit, []).append(item)
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["unit", "matter", "keywords", "co_units"])
        for e in entries:
            w.writerow([e.unit, e.matter, "|".join(e.keywords or []), "|".join(e.co_units or [])])
        return out.getvalue()
    raise ValidationFailed(f"unknown format {fmt!r}", {"format": "yaml or csv"})


def import_rows(session, rows: list[dict], actor: str) -> dict:
    """Make the catalogue equal to ``rows``; all or nothing. Returns counts per action."""
    counts = _apply(session, rows, actor=actor, source="import", known_units=_units(session))
    session.commit()
    return counts


def _apply(session, rows, *, actor: str, source: str, known_units: set | None):
    wanted: dict[tuple, EntryIn] = {}
    for i, row in enumerate(rows):
        inp = parse(EntryIn, row) if isinstance(row, dict) else None
        if known_units is not None:
            _check_units(known_units, inp.unit, inp.co_units, prefix=f"{i}.")
        key = (inp.unit, inp.matter)
        if key in wanted:
            raise ValidationFailed("duplicate matter in file", {f"{i}.matter": f"{inp.matter!r} repeated for {inp.unit}"})
        wanted[key] = inp
    existing = {(e.unit, e.matter): e for e in list_entries(session)}
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    for key, entry in existing.items():
        if key not in wanted:
            _record(session, entry, "delete", _snapshot(entry), None, actor, source)
            session.delete(entry)
            counts["deleted"] += 1
    for key, inp in wanted.items():
        entry = existing.get(key)
        if entry is None:
            entry = CatalogueEntry(unit=inp.unit, matter=inp.matter, keywords=inp.keywords,
                                   co_units=inp.co_units)
            session.add(entry)
            _record(session, entry, "create", None, _snapshot(entry), actor, source)
            counts["created"] += 1
            continue
        before = _snapshot(entry)
        entry.keywords, entry.co_units = inp.keywords, inp.co_units
        if _snapshot(entry) != before:
            _record(session, entry, "update", before, _snapshot(entry), actor, source)
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts if source != "seed" else counts["created"]
