"""Exports of a report (``supervision.reports.report``) exactly as the page shows it: the same rows
in the same order, the same columns, the same figures (CSV writes each cell's display text; XLSX
writes the value with a number format that displays that same text), and the definitions."""
from __future__ import annotations

import csv
import io


def _title(rep: dict) -> str:
    return f"统计期间 {rep['from']} 至 {rep['to']}（按受理日期），按{rep['group_label']}分组"


def table(rep: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows (display text) of the report table, totals last."""
    ranked = any("rank" in r for r in rep["rows"])
    header = (["排名"] if ranked else []) + [rep["group_label"]] + [c["label"] for c in rep["columns"]]
    lines = []
    for r in rep["rows"] + [rep["total"]]:
        rank = [("" if r.get("rank") is None else str(r["rank"]))] if ranked else []
        lines.append(rank + [r["label"]] + [r["text"][c["key"]] for c in rep["columns"]])
    return header, lines


def to_csv(rep: dict) -> str:
    header, lines = table(rep)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(lines)
    return "\ufeff" + buf.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


def to_xlsx(rep: dict) -> bytes:
    from openpyxl import Workbook

    formats = {"rate": "0.0%", "seconds": "0.0", "count": "0"}
    ranked = any("rank" in r for r in rep["rows"])
    header, _ = table(rep)
    wb = Workbook()
    ws = wb.active
    ws.title = "报表"
    ws.append([_title(rep)])
    ws.append(header)
    for r in rep["rows"] + [rep["total"]]:
        values = [r["values"][c["key"]] for c in rep["columns"]]
        ws.append(([r.get("rank")] if ranked else []) + [r["label"]] + ["—" if v is None else v for v in values])
        first = 1 + (1 if ranked else 0)
        for cell, c in zip(ws[ws.max_row][first:], rep["columns"]):
            if not isinstance(cell.value, str):
                cell.number_format = formats[c["kind"]]
    defs = wb.create_sheet("指标定义")
    defs.append(["指标", "分子", "分母", "定义"])
    for c in rep["columns"]:
        defs.append([c["label"], c["numerator"], c["denominator"] or "", c["description"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
