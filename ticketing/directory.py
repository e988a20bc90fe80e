"""The department and town directory: seed, add, rename, retire. History is never rewritten:
tickets point at a unit's id, events keep the name it had at the time, and every directory change
is kept in ``department_changes``."""
from __future__ import annotations

import re
import threading
import time
from importlib import resources

import yaml
from sqlalchemy import bindparam, select

from hotline.clock import utcnow
from hotline.exceptions import Conflict, NotFound, ValidationFailed
from hotline.extensions import loaded_instance
from .models import Department, DepartmentChange, Town

CODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")


# -- the towns a ticket names, cached ---------------------------------------------------------------
#: A town is never renamed, re-coded or deleted at run time (``add_town`` only adds), so what a code
#: names can be kept; the TTL bounds how long a process trusts it anyway (a database restored under a
#: running process), and unknown codes are always looked up (a town another process just added).
#: Looking the town up cost a round trip and about 7 % of a ticket's creation.
TOWN_TTL = 60.0
_town_rows: dict[str, tuple[float, dict]] = {}
_town_lock = threading.Lock()
_TOWN_ROW = select(*Town.__table__.c).where(Town.__table__.c.code == bindparam("code"))


def forget_towns() -> None:
    """Drop the cached towns (a new app: tests build one per fresh database; a town added)."""
    with _town_lock:
        _town_rows.clear()


def town_by_code(session, code: str) -> Town | None:
    """The town with ``code`` (a detached instance, every column loaded), or None."""
    now = time.monotonic()
    hit = _town_rows.get(code)
    if hit is None or now - hit[0] > TOWN_TTL:
        row = session.execute(_TOWN_ROW, {"code": code}).mappings().first()
        if row is None:
            return None
        hit = (now, dict(row))
        with _town_lock:
            _town_rows[code] = hit
    return loaded_instance(Town, hit[1])  # an existing row: never inserted, nothing lazy-loaded


def _load_yaml(name: str) -> list[dict]:
    return yaml.safe_load(resources.files("ticketing.data").joinpath(name).read_text("utf-8"))


def seed(session, actor: str = "seed") -> int:
    """Create missing units and towns from the shipped lists; existing rows are left alone (a town
    without a location gets the shipped one)."""
    created = 0
    known = set(session.scalars(select(Department.code)))
    for row in _load_yaml("departments.yaml"):
        if row["code"] not in known:
            _add(session, row["code"], row["name"], "county", actor)
            created += 1
    towns = {t.code: t for t in session.scalars(select(Town))}
    for row in _load_yaml("towns.yaml"):
        town = towns.get(row["code"])
        if town is None:
            town = _add_town(session, row["code"], row["name"], actor)
            created += 1
        if town.center_lat is None and row.get("lat") is not None:  # a location once, never overwritten
            town.center_lat, town.center_long, town.radius_km = row["lat"], row["long"], row["radius_km"]
    session.commit()
    forget_towns()
    return created


def _add(session, code: str, name: str, kind: str, actor: str) -> Department:
    dept = Department(code=code, name=name, kind=kind, active=True)
    session.add(dept)
    session.flush()
    session.add(DepartmentChange(department_id=dept.id, change="created", new_value=name, actor=actor))
    return dept


def _add_town(session, code: str, name: str, actor: str) -> Town:
    gov = _add(session, f"town-{code}", f"{name}人民政府" if name.endswith("镇") else f"{name}办事处",
               "town", actor)
    town = Town(code=code, name=name, department_id=gov.id)
    session.add(town)
    return town


def _check(code: str | None, name: str | None, what: str = "department") -> None:
    fields = {}
    if code is not None and not CODE_RE.match(code):
        fields["code"] = "2-40 lowercase letters, digits or '-', starting with a letter"
    if name is not None and not (1 <= len(name.strip()) <= 100):
        fields["name"] = "1-100 characters"
    if fields:
        raise ValidationFailed(f"invalid {what}", fields)


def list_departments(session, include_retired: bool = False) -> list[Department]:
    stmt = select(Department).order_by(Department.kind, Department.id)
    if not include_retired:
        stmt = stmt.where(Department.active.is_(True))
    return list(session.scalars(stmt))


def add_department(session, code, name, actor: str, kind: str = "county") -> Department:
    if not isinstance(code, str) or not isinstance(name, str):
        raise ValidationFailed("code and name are required", {"code": "required string", "name": "required string"})
    _check(code, name)
    if kind not in ("county", "town"):
        raise ValidationFailed("invalid kind", {"kind": "county or town"})
    if session.scalar(select(Department).where(Department.code == code)):
        raise Conflict(f"department code {code!r} already exists")
    dept = _add(session, code, name.strip(), kind, actor)
    session.commit()
    return dept


def update_department(session, code: str, actor: str, *, name=None, active=None) -> Department:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"department {code} not found")
    if name is not None:
        if not isinstance(name, str):
            raise ValidationFailed("invalid name", {"name": "must be a string"})
        _check(None, name)
        if name.strip() != dept.name:
            session.add(DepartmentChange(department_id=dept.id, change="renamed", old_value=dept.name,
                                         new_value=name.strip(), actor=actor))
            dept.name = name.strip()
    if active is not None:
        if not isinstance(active, bool):
            raise ValidationFailed("invalid active flag", {"active": "must be true or false"})
        if active != dept.active:
            dept.active = active
            dept.retired_at = None if active else utcnow()
            session.add(DepartmentChange(department_id=dept.id, change="reactivated" if active else "retired",
                                         actor=actor))
    session.commit()
    return dept


def department_history(session, code: str) -> list[DepartmentChange]:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"department {code} not found")
    return list(session.scalars(select(DepartmentChange).where(DepartmentChange.department_id == dept.id)
                                .order_by(DepartmentChange.id)))


def list_towns(session) -> list[Town]:
    return list(session.scalars(select(Town).where(Town.active.is_(True)).order_by(Town.id)))


def add_town(session, code, name, actor: str) -> Town:
    if not isinstance(code, str) or not isinstance(name, str):
        raise ValidationFailed("code and name are required", {"code": "required string", "name": "required string"})
    _check(code, name, "town")
    # its government unit is "town-<code>" named "<name>人民政府" (department code 40, name 100)
    fields = {k: v for k, v in (("code", len(code) > 34 and "at most 34 characters"),
                                ("name", len(name.strip()) > 95 and "at most 95 characters")) if v}
    if fields:
        raise ValidationFailed("invalid town", fields)
    if session.scalar(select(Town).where(Town.code == code)):
        raise Conflict(f"town {code!r} already exists")
    town = _add_town(session, code, name.strip(), actor)
    session.commit()
    forget_towns()
    return town


def department_by_code(session, code: str, field: str) -> Department:
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise ValidationFailed(f"unknown department {code!r}", {field: f"unknown department {code!r}"})
    if not dept.active:
        raise ValidationFailed(f"department {code!r} is retired", {field: f"department {code!r} is retired"})
    return dept
