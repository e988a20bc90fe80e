"""Supervisors' analysis pages: 热点 (hot topics) and 考核 (department assessment), plus the
assessment's printable page. Shells like every console page (data from supervision's REST API,
built with textContent), except the printable page, which Jinja renders (autoescaped) from the
same month view the API and the XLSX export serve."""
from __future__ import annotations

from flask import current_app, render_template, request

from hotline.auth import roles_required
from hotline.clock import to_local, utcnow
from hotline.extensions import db

from .views import SUPERVISORS, _page, bp


@bp.get("/console/hotspots")
@roles_required(*SUPERVISORS)
def hotspots():
    # the centre's day (China time), not the browser's: at 00:30 in the centre a browser on UTC is
    # still on the day before; the date is in the page, so a script loading late never overwrites
    # a date the supervisor has already typed
    return _page("console/hotspots.html", "hotspots", today=to_local(utcnow()).date().isoformat())


@bp.get("/console/assessment")
@roles_required(*SUPERVISORS)
def assessment():
    from supervision import assessment as scoring

    # the last month that has ended in the centre (China time), filled in by the server: the browser's
    # own clock gave the month before that in the early morning (toISOString is UTC)
    month = scoring.parse_month(None, to_local(utcnow()).date()).strftime("%Y-%m")
    return _page("console/assessment.html", "assessment", default_month=month)


@bp.get("/console/assessment/print")
@roles_required(*SUPERVISORS)
def assessment_print():
    from supervision import assessment as scoring

    month = scoring.parse_month(request.args.get("month"), to_local(utcnow()).date())
    view = scoring.month_view(db.session, month, answer_target=current_app.config["HOTLINE"].answer_target_seconds)
    header, lines = scoring.table(view)
    n_kpis = len(view["scheme"]["weights"])
    return render_template("console/assessment_print.html", view=view, header=header, lines=lines,
                           kpi_cols=range(4, 4 + n_kpis))
