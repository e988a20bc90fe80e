"""Supervision settings and request bodies."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from ticketing.cards import WarningRule, parse_by_type
from ticketing.schemas import SATISFACTION, SaneDatetime, Strict


@dataclass(frozen=True)
class Settings:
    """The knobs of the scans and KPIs, taken from ``hotline.config.Config``."""

    warning_workdays: int = 1
    warning_by_type: dict[str, int] = field(default_factory=dict)
    warning_hours: int = 4
    escalate_workdays: int = 5
    repeat_days: int = 30

    @classmethod
    def from_config(cls, config) -> "Settings":
        return cls(warning_workdays=config.supervision_warning_workdays,
                   warning_by_type=parse_by_type(config.supervision_warning_by_type),
                   warning_hours=config.supervision_warning_hours,
                   escalate_workdays=config.supervision_escalate_workdays,
                   repeat_days=config.kpi_repeat_days)

    def warning_for(self, ticket_type: str) -> int:
        return self.rule.workdays_for(ticket_type)

    @property
    def rule(self) -> WarningRule:
        """The card rule's knobs, as ticketing defines them (one rule for scans and ticket views)."""
        return WarningRule(workdays=self.warning_workdays, by_type=dict(self.warning_by_type),
                           hours=self.warning_hours)


class UrgeIn(Strict):
    note: str = Field(min_length=1, max_length=2000)
    due_at: SaneDatetime | None = None


class UnitUrgeIn(UrgeIn):
    department: str = Field(min_length=1, max_length=40)


class CallbackIn(Strict):
    satisfaction: Literal[SATISFACTION]  # type: ignore[valid-type]
    solved: bool
    note: str | None = Field(default=None, max_length=2000)


def openapi_paths() -> dict:
    """OpenAPI path items of supervision/api.py (KPIs, 督办, callbacks); the paged working lists' GET
    operations come from ``lists.openapi_paths`` (merged per method by hotline/openapi.py)."""
    from hotline.openapi import ERROR as err, NSTR, STR, array, body, obj, response as resp
    from ticketing.sla import TYPES

    from .kpis import GROUPS, RANKING_KPIS, TICKET_KPIS

    date = {"type": "string", "format": "date"}
    period = [{"name": "from", "in": "query", "schema": date}, {"name": "to", "in": "query", "schema": date}]
    report_q = period + [{"name": "group_by", "in": "query", "schema": {"enum": list(GROUPS)}},
                         {"name": "department", "in": "query", "schema": STR},
                         {"name": "type", "in": "query", "schema": {"enum": list(TYPES)}}]
    report = obj(group_by=STR, rows=array(), totals={"type": "object"}, kpis=array())
    report["properties"].update({"from": STR, "to": STR})
    number = {"name": "number", "in": "path", "required": True, "schema": STR}
    items = resp("list", obj(items=array()))
    e = {str(c): resp(t, err) for c, t in ((400, "invalid JSON"), (401, "not authenticated"),
                                           (403, "role not allowed"), (404, "not found"),
                                           (409, "illegal for the ticket's status"), (422, "invalid"))}

    def errs(*codes):
        return {str(c): e[str(c)] for c in codes}

    def binary(mime):
        return {"description": "file", "content": {mime: {"schema": {"type": "string", "format": "binary"}}}}

    urge_ticket = {"type": "object", "required": ["number", "note"], "properties": {
        "number": STR, "note": {"type": "string", "minLength": 1, "maxLength": 2000},
        "due_at": {"type": "string", "format": "date-time"}}}
    return {
        "/api/v1/kpis": {"get": {"summary": "KPI report by department, type or day (departments: own unit)",
                                 "parameters": report_q, "responses": {"200": resp("report", report),
                                                                       **errs(401, 403, 422)}}},
        "/api/v1/kpis/export.csv": {"get": {"summary": "The KPI report as CSV", "parameters": report_q,
                                            "responses": {"200": binary("text/csv"), **errs(401, 403, 422)}}},
        "/api/v1/kpis/export.xlsx": {"get": {
            "summary": "The KPI report as Excel", "parameters": report_q, "responses": {
                "200": binary("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                **errs(401, 403, 422)}}},
        "/api/v1/kpis/trend": {"get": {"summary": "Per-day series (at most 366 days)",
                                       "parameters": period + [{"name": "department", "in": "query", "schema": STR}],
                                       "responses": {"200": resp("series", {"type": "object"}),
                                                     **errs(401, 403, 422)}}},
        "/api/v1/kpis/ranking": {"get": {
            "summary": "Units ranked by one KPI or by the mean score (supervisor, admin)",
            "parameters": period + [{"name": "kpi", "in": "query", "schema": {
                "enum": sorted({k for k, *_ in TICKET_KPIS} | set(RANKING_KPIS))}}],
            "responses": {"200": resp("ranking", {"type": "object"}), **errs(401, 403, 422)}}},
        "/api/v1/supervision/near-deadline": {"get": {"summary": "Open tickets near their deadline",
                                                      "responses": {"200": items, **errs(401, 403)}}},
        "/api/v1/supervision/overdue": {"get": {"summary": "Open tickets past their deadline",
                                                "responses": {"200": items, **errs(401, 403)}}},
        "/api/v1/supervision/escalations": {"get": {"summary": "Red cards escalated (supervisor, admin)",
                                                    "responses": {"200": items, **errs(401, 403)}}},
        "/api/v1/supervision/tickets/{number}/cards": {"get": {
            "summary": "A ticket's yellow and red cards", "parameters": [number],
            "responses": {"200": items, **errs(401, 403, 404)}}},
        "/api/v1/supervision/scan": {"post": {"summary": "Run the deadline scan now (admin)",
                                              "responses": {"200": resp("scan result", {"type": "object"}),
                                                            **errs(401, 403)}}},
        "/api/v1/supervision/urgings": {
            "post": {"summary": "督办: urge one ticket ({number, note}) or a unit's overdue tickets ({department, note})",
                     "requestBody": body({"oneOf": [urge_ticket, UnitUrgeIn.model_json_schema()]}),
                     "responses": {"201": resp("urging(s)", {"type": "object"}), **errs(400, 401, 403, 404, 409, 422)}},
            "get": {"summary": "Urgings (open=true: unacknowledged); departments: their own",
                    "parameters": [{"name": "open", "in": "query", "schema": {"type": "boolean"}}],
                    "responses": {"200": items, **errs(401, 403)}}},
        "/api/v1/urgings/{urging_id}/acknowledge": {"post": {
            "summary": "The urged unit acknowledges an urging",
            "parameters": [{"name": "urging_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}],
            "requestBody": body(obj(note=NSTR), required=False),
            "responses": {"200": resp("urging", obj(id={"type": "integer"}, note=NSTR, acknowledged_at=NSTR)),
                          **errs(401, 403, 404, 409)}}},
        "/api/v1/supervision/callbacks": {"get": {"summary": "Tickets waiting for the satisfaction callback",
                                                  "responses": {"200": resp("queue", {"type": "object"}),
                                                                **errs(401, 403)}}},
        "/api/v1/supervision/callbacks/{number}": {"post": {
            "summary": "Record the callback's satisfaction (closes the ticket)", "parameters": [number],
            "requestBody": body(CallbackIn.model_json_schema()),
            "responses": {"200": resp("recorded", {"type": "object"}), **errs(400, 401, 403, 404, 409, 422)}}},
    }
