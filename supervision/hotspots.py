"""Hot topics (热点诉求) and early warning.

Counts
    ``hotspot_facts`` holds what each ticket contributes: its received day (China time), town and
    catalogue matter (``routing.service.matters``: the dispatch catalogue's phrases, classified once
    when the ticket is first seen); ``hotspot_daily`` the number of tickets per day x matter x town.
    Invalid tickets (置为无效) do not count; merged ones do (many callers about one problem is what a
    hot topic is). The job (``catch_up``) is a pull like the KPI rollup's: new tickets by id, changed
    tickets by their events, each with a high-water mark in ``kpi_state`` that only advances past
    rows older than LAG (ids are allocated before commit); recomputing a ticket is idempotent (the
    difference to its stored fact is added to the counts in the same transaction).

Spikes (week-over-week, not a fixed threshold)
    For a day d and a cell (matter, town) with x tickets, the baseline is the same cell on the same
    weekday of the previous K weeks (HOTLINE_HOTSPOT_WEEKS, default 4; only weeks the rollup has
    data for), S tickets in all. If the cell's daily count were Poisson with one rate on all K + 1
    days, then given x + S the day's share is Binomial(x + S, 1 / (K + 1)): the exact conditional
    test of two Poisson rates (Przyborowski and Wilenski), which needs no estimate of the rate and
    stays valid for small counts and an empty baseline. The one-sided p-value is
    ``scipy.stats.binom.sf(x - 1, x + S, 1 / (K + 1))``. Every cell seen on the day or its baseline
    is one test; the day's p-values are corrected with Benjamini-Hochberg and a cell is a spike when
    its adjusted value (q) is at most HOTLINE_HOTSPOT_FDR and it holds at least
    HOTLINE_HOTSPOT_MIN_COUNT tickets (default 3: two calls are not a hot topic, however rare).
    The default FDR, 0.02, is bench/hotspot_quality.py's choice over 90 simulated draws: recall
    94-95 % at 0.3-0.4 false alarms a month (0.01: 91 %, 0.17; 0.05: 98 % but up to 1.7 a month).
    On a day without any real spike BH keeps the chance of any alarm at most the FDR, so fewer
    than one false alarm per month is expected (tests/test_hotspots.py measures it on simulated
    data). Why not a negative binomial test: its dispersion would have to be estimated per cell
    from four or so baseline values, which is mostly noise; real overdispersion (weekly rhythms,
    holidays) is absorbed by comparing like weekdays and by the minimum count.

Early warning
    Every scan (``run``) catches the counts up and tests today and yesterday; each spike found is
    inserted into ``hotspot_alerts`` under a UNIQUE (day, matter, town) key and, only when the row
    is new, announced as ``hotspot.detected`` in the same transaction (outbox): once per spike,
    across processes and restarts.

Clusters
    Similar requests in a window (HOTLINE_HOTSPOT_CLUSTER_DAYS, the days ending with the day
    shown): within each of the window's CLUSTER_CELLS busiest (town, matter) cells, a leader
    clustering of its CLUSTER_CELL_CAP newest tickets on the duplicate finder's text features
    (``routing.duplicates.bigrams``, cosine of character bigrams). The bounds keep a day's page a
    few seconds at 10 M tickets (bench/hotspots.py); a cluster's size is therefore at most the cap.
"""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from hotline.clock import CST, iso, to_local, to_utc_naive, utcnow
from hotline.events import publish_after_commit
from hotline.exceptions import ValidationFailed
from ticketing.lifecycle import INVALID
from ticketing.models import Department, Ticket, TicketEvent, Town

from .hotspot_models import NO_MATTER, NO_TOWN, HotspotAlert, HotspotDaily, HotspotFact
from .models import KpiState
from .rollup import _insert, let_others_write

log = logging.getLogger("hotline.supervision.hotspots")

LAG = timedelta(seconds=60)
BATCH = 2000
SCAN_ROWS = 40_000  # tickets and events one scan's catch-up handles at most (about 20-40 s)
TICKETS_STATE, EVENTS_STATE = "hotspots.tickets", "hotspots.events"
CLUSTER_SIMILARITY = 0.5
CLUSTER_MIN_SIZE = 3
CLUSTER_CELL_CAP = 200  # newest tickets of one cell that are clustered (bounds the work per day)
CLUSTER_CELLS = 40  # busiest (matter, town) cells of the window that are clustered
NO_MATTER_LABEL = "未归类"
NO_TOWN_LABEL = "未指明镇街"


@dataclass(frozen=True)
class HotspotSettings:
    weeks: int = 4
    fdr: float = 0.02
    min_count: int = 3
    cluster_days: int = 3

    @classmethod
    def from_config(cls, config) -> "HotspotSettings":
        try:
            fdr = float(config.hotspot_fdr)
        except ValueError:
            fdr = -1.0
        if not 0 < fdr < 1:
            raise ValueError("HOTLINE_HOTSPOT_FDR must be a number between 0 and 1")
        return cls(weeks=max(1, config.hotspot_weeks), fdr=fdr, min_count=max(1, config.hotspot_min_count),
                   cluster_days=max(1, config.hotspot_cluster_days))


# -- the rollup ----------------------------------------------------------------------------------
def recompute(session, ticket_ids) -> int:
    """Bring the facts and counts of these tickets up to date (idempotent); no commit."""
    from routing.service import matters

    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    rows = session.execute(
        select(Ticket.id, Ticket.received_at, Ticket.town_id, Ticket.status, Ticket.content, Department.code)
        .outerjoin(Department, Department.id == Ticket.main_department_id).where(Ticket.id.in_(ids))).all()
    old = {f.ticket_id: (f.day, f.matter, f.town_id, f.counted)
           for f in session.execute(select(HotspotFact).where(HotspotFact.ticket_id.in_(ids))).scalars()}
    fresh = [r for r in rows if r.id not in old]
    classified = dict(zip([r.id for r in fresh], matters(session, [(r.content or "", r.code) for r in fresh])))
    delta: dict[tuple, int] = defaultdict(int)
    facts = []
    for r in rows:
        matter = old[r.id][1] if r.id in old else classified[r.id]
        new = (to_local(r.received_at).date(), matter, r.town_id or NO_TOWN, int(r.status != INVALID))
        if old.get(r.id) == new:
            continue
        if r.id in old:
            o = old[r.id]
            delta[o[:3]] -= o[3]
        delta[new[:3]] += new[3]
        facts.append({"ticket_id": r.id, "day": new[0], "matter": new[1], "town_id": new[2], "counted": new[3]})
    conn = session.connection()  # Core executemany: one cached statement, rows sent in batches
    if facts:
        stmt = _insert(session, HotspotFact)
        conn.execute(stmt.on_conflict_do_update(index_elements=["ticket_id"], set_={
            c: getattr(stmt.excluded, c) for c in ("day", "matter", "town_id", "counted")}), facts)
    cells = [{"day": d, "matter": m, "town_id": t, "count": n} for (d, m, t), n in delta.items() if n]
    if cells:
        stmt = _insert(session, HotspotDaily)
        conn.execute(stmt.on_conflict_do_update(index_elements=["day", "matter", "town_id"],
                                                set_={"count": HotspotDaily.count + stmt.excluded.count}), cells)
    return len(facts)


def _state(session, name: str) -> KpiState:
    # the events' mark starts at the newest event: the tickets' pass reads every existing ticket as
    # it is now, so the history before the first run need not be read a second time
    start = 0 if name == TICKETS_STATE else select(func.coalesce(func.max(TicketEvent.id), 0)).scalar_subquery()
    session.execute(_insert(session, KpiState).values(name=name, last_event_id=start, updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["name"]))
    return session.scalar(select(KpiState).where(KpiState.name == name).with_for_update()
                          .execution_options(populate_existing=True))


def catch_up(session, now: datetime | None = None, max_rows: int | None = None) -> int:
    """Count every ticket created or changed since the last run; returns tickets whose fact changed.
    One short transaction per BATCH rows, so a catch-up after a bulk load lets the server write;
    ``max_rows`` bounds one run (the scan's step: the first scan after an upgrade over millions of
    tickets must not hold the deadline scan for hours; the next scans go on where it stopped)."""
    now = now or utcnow()
    changed = 0
    for name, model, col in ((TICKETS_STATE, Ticket, Ticket.created_at), (EVENTS_STATE, TicketEvent,
                                                                         TicketEvent.created_at)):
        cursor, blocked, seen = None, False, 0
        while max_rows is None or seen < max_rows:
            state = _state(session, name)
            start = state.last_event_id if cursor is None else cursor
            owner = model.id if model is Ticket else model.ticket_id
            rows = session.execute(select(model.id, owner.label("ticket_id"), col.label("at"))
                                   .where(model.id > start).order_by(model.id).limit(BATCH)).all()
            if not rows:
                session.commit()
                break
            changed += recompute(session, {r.ticket_id for r in rows})
            cursor, seen = rows[-1].id, seen + len(rows)
            for r in rows:  # the mark stops at the first row younger than LAG (it may have a gap before it)
                if blocked or r.at > now - LAG:
                    blocked = True
                    break
                state.last_event_id = r.id
            state.updated_at = now
            session.commit()
            let_others_write(session)
    return changed


# -- spike detection ------------------------------------------------------------------------------
def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Adjusted p-values (q) of Benjamini and Hochberg (1995), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return q


def cells(session, day: date, settings: HotspotSettings) -> list[dict]:
    """Every (matter, town) cell seen on ``day`` or its same-weekday baseline, with its test."""
    import numpy as np
    from scipy.stats import binom

    baseline_days = [day - timedelta(days=7 * k) for k in range(1, settings.weeks + 1)]
    have = set(session.scalars(select(HotspotDaily.day).where(HotspotDaily.day.in_(baseline_days))
                               .group_by(HotspotDaily.day)))
    weeks = len(have)
    rows = session.execute(select(HotspotDaily.day, HotspotDaily.matter, HotspotDaily.town_id, HotspotDaily.count)
                           .where(HotspotDaily.day.in_([day, *baseline_days]), HotspotDaily.count > 0)).all()
    today: dict[tuple, int] = defaultdict(int)
    base: dict[tuple, int] = defaultdict(int)
    for r in rows:
        (today if r.day == day else base)[(r.matter, r.town_id)] += r.count
    keys = sorted(set(today) | set(base))
    xs = [today.get(key, 0) for key in keys]
    ss = [base.get(key, 0) for key in keys]
    if weeks and keys:  # one vectorised call for the whole day
        ps = binom.sf(np.array(xs) - 1, np.array(xs) + np.array(ss), 1.0 / (weeks + 1))
        ps = [float(p) if x else 1.0 for p, x in zip(ps, xs)]
    else:
        ps = [1.0] * len(keys)
    out = [{"matter": key[0], "town_id": key[1], "count": x, "baseline_total": s,
            "baseline": round(s / weeks, 3) if weeks else None, "p_value": p}
           for key, x, s, p in zip(keys, xs, ss, ps)]
    for c, q in zip(out, benjamini_hochberg([c["p_value"] for c in out])):
        c["q_value"] = q
        c["spike"] = bool(weeks and q <= settings.fdr and c["count"] >= settings.min_count)
    return out


def spikes(session, day: date, settings: HotspotSettings) -> list[dict]:
    return [c for c in cells(session, day, settings) if c["spike"]]


def announce(session, day: date, settings: HotspotSettings, now: datetime | None = None) -> list[dict]:
    """Store each spike of ``day`` once and publish ``hotspot.detected`` for the new ones only."""
    now = now or utcnow()
    found = spikes(session, day, settings)
    if not found:
        return []
    names = _town_names(session)
    new = []
    for c in found:
        alert_id = session.execute(_insert(session, HotspotAlert).values(
            day=day, matter=c["matter"], town_id=c["town_id"], count=c["count"], baseline=c["baseline"] or 0.0,
            p_value=c["p_value"], q_value=c["q_value"], detected_at=now)
            .on_conflict_do_nothing(index_elements=["day", "matter", "town_id"]).returning(HotspotAlert.id)).scalar()
        if alert_id is None:
            continue
        town = names.get(c["town_id"])
        payload = {"alert_id": alert_id, "day": day.isoformat(), "matter": c["matter"] or NO_MATTER_LABEL,
                   "town": town["code"] if town else None, "town_name": town["name"] if town else NO_TOWN_LABEL,
                   "count": c["count"], "baseline": c["baseline"] or 0.0, "p_value": c["p_value"],
                   "q_value": c["q_value"]}
        publish_after_commit(session, "hotspot.detected", payload)
        new.append(payload)
        log.info("hotspot.detected day=%s matter=%s town=%s count=%s baseline=%s q=%.2g", day, c["matter"],
                 payload["town"], c["count"], c["baseline"], c["q_value"])
    session.commit()
    return new


def run(session, now: datetime | None = None, settings: HotspotSettings | None = None) -> list[dict]:
    """The scan's step: catch the counts up, then announce new spikes of today and yesterday."""
    now = now or utcnow()
    settings = settings or HotspotSettings()
    catch_up(session, now, max_rows=SCAN_ROWS)
    today = to_local(now).date()
    return announce(session, today - timedelta(days=1), settings, now) + announce(session, today, settings, now)


# -- clusters -------------------------------------------------------------------------------------
def _cosine(a: dict, na: float, b: dict, nb: float) -> float:
    if not na or not nb:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0) for k, v in a.items()) / (na * nb)


def clusters(session, day: date, settings: HotspotSettings, limit: int = 20) -> list[dict]:
    """Groups of at least CLUSTER_MIN_SIZE similar requests of one town and matter in the window."""
    from routing.duplicates import bigrams

    first = day - timedelta(days=settings.cluster_days - 1)
    # the busiest cells of the window (from the counts), then only their newest tickets' text: the
    # work stays bounded by CLUSTER_CELLS x CLUSTER_CELL_CAP whatever the day's volume
    busy = session.execute(
        select(HotspotDaily.matter, HotspotDaily.town_id, func.sum(HotspotDaily.count).label("n"))
        .where(HotspotDaily.day >= first, HotspotDaily.day <= day)
        .group_by(HotspotDaily.matter, HotspotDaily.town_id)
        .having(func.sum(HotspotDaily.count) >= CLUSTER_MIN_SIZE)
        .order_by(func.sum(HotspotDaily.count).desc(), HotspotDaily.matter, HotspotDaily.town_id)
        .limit(CLUSTER_CELLS)).all()
    cells_wanted = {(c.matter, c.town_id) for c in busy}
    newest: dict[tuple, list[int]] = defaultdict(list)
    for r in session.execute(select(HotspotFact.ticket_id, HotspotFact.matter, HotspotFact.town_id)
                             .where(HotspotFact.day >= first, HotspotFact.day <= day, HotspotFact.counted == 1)):
        if (r.matter, r.town_id) in cells_wanted:
            newest[(r.matter, r.town_id)].append(r.ticket_id)
    cell_of = {}
    for key, ids in newest.items():
        for tid in sorted(ids)[-CLUSTER_CELL_CAP:]:
            cell_of[tid] = key
    by_cell: dict[tuple, list] = defaultdict(list)
    chosen = sorted(cell_of)
    for k in range(0, len(chosen), 2000):
        for r in session.execute(select(Ticket.id, Ticket.number, Ticket.content, Ticket.received_at)
                                 .where(Ticket.id.in_(chosen[k:k + 2000])).order_by(Ticket.id)):
            by_cell[cell_of[r.id]].append(r)
    names = _town_names(session)
    found = []
    for (matter, town_id), items in by_cell.items():
        if len(items) < CLUSTER_MIN_SIZE:
            continue
        leaders: list[tuple[dict, float, list]] = []
        for r in items:
            vec = bigrams(r.content or "")
            norm = math.sqrt(sum(v * v for v in vec.values()))
            for lvec, lnorm, members in leaders:
                if _cosine(vec, norm, lvec, lnorm) >= CLUSTER_SIMILARITY:
                    members.append(r)
                    break
            else:
                leaders.append((vec, norm, [r]))
        for _vec, _norm, members in leaders:
            if len(members) >= CLUSTER_MIN_SIZE:
                town = names.get(town_id)
                found.append({"matter": matter or NO_MATTER_LABEL, "town": town["code"] if town else None,
                              "town_name": town["name"] if town else NO_TOWN_LABEL, "size": len(members),
                              "sample": (members[0].content or "")[:120],
                              "numbers": [m.number for m in members[:50]],
                              "first_at": iso(min(m.received_at for m in members)),
                              "last_at": iso(max(m.received_at for m in members))})
    found.sort(key=lambda c: (-c["size"], c["matter"], c["town"] or ""))
    return found[:limit]


# -- the page's answer ----------------------------------------------------------------------------
def _town_names(session) -> dict[int, dict]:
    return {t.id: {"code": t.code, "name": t.name} for t in session.scalars(select(Town))}


def parse_day(raw: str | None, today: date) -> date:
    if not raw:
        return today
    try:
        value = date.fromisoformat(raw[:10]) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None or not 2000 <= value.year < 2100:
        raise ValidationFailed("invalid day", {"day": "expected YYYY-MM-DD between 2000 and 2100"})
    return value


def report(session, day: date, settings: HotspotSettings, top: int = 30) -> dict:
    """The 热点 page for one day: the busiest cells with their week-over-week test, the spikes,
    the clusters, and the alerts announced for that day."""
    names = _town_names(session)
    all_cells = cells(session, day, settings)

    def shown(c: dict) -> dict:
        town = names.get(c["town_id"])
        return {"matter": c["matter"] or NO_MATTER_LABEL, "town": town["code"] if town else None,
                "town_name": town["name"] if town else NO_TOWN_LABEL, "count": c["count"],
                "baseline": c["baseline"], "p_value": c["p_value"], "q_value": c["q_value"], "spike": c["spike"]}

    busiest = sorted((c for c in all_cells if c["count"]), key=lambda c: (-c["count"], c["matter"], c["town_id"]))
    by_matter: dict[str, int] = defaultdict(int)
    for c in all_cells:
        by_matter[c["matter"] or NO_MATTER_LABEL] += c["count"]
    alerts = session.scalars(select(HotspotAlert).where(HotspotAlert.day == day).order_by(HotspotAlert.id)).all()
    return {
        "day": day.isoformat(), "weeks": settings.weeks, "fdr": settings.fdr, "min_count": settings.min_count,
        "total": sum(c["count"] for c in all_cells),
        "tested": len(all_cells),
        "matters": [{"matter": m, "count": n} for m, n in sorted(by_matter.items(), key=lambda p: (-p[1], p[0])) if n][:top],
        "cells": [shown(c) for c in busiest[:top]],
        "spikes": [shown(c) for c in sorted((c for c in all_cells if c["spike"]), key=lambda c: c["q_value"])],
        "clusters": clusters(session, day, settings),
        "alerts": [{"id": a.id, "matter": a.matter or NO_MATTER_LABEL,
                    "town": (names.get(a.town_id) or {}).get("code"),
                    "town_name": (names.get(a.town_id) or {"name": NO_TOWN_LABEL})["name"], "count": a.count,
                    "baseline": a.baseline, "q_value": a.q_value, "detected_at": iso(a.detected_at)} for a in alerts],
        "method": "同一镇街、同一事项当日件数与前几周同一星期几的件数比较（泊松率条件二项检验，Benjamini-Hochberg 校正）",
    }


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A China-time day as the naive UTC interval the database stores."""
    start = datetime(day.year, day.month, day.day, tzinfo=CST)
    return to_utc_naive(start), to_utc_naive(start + timedelta(days=1))


def latest_day(session) -> date | None:
    return session.scalar(select(func.max(HotspotDaily.day)))
