"""REST API /api/v1/knowledge: everyone signed in searches; supervisors and admins edit."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user

from hotline.auth import roles_required
from hotline.extensions import db
from ticketing.api import json_body
from ticketing.lifecycle import ADMIN, SUPERVISOR

from . import service
from .schemas import article_view

bp = Blueprint("knowledge_api", __name__, url_prefix="/api/v1/knowledge")
EDITORS = (SUPERVISOR, ADMIN)


@bp.get("")
@roles_required()
def search():
    include_invalid = (request.args.get("include_invalid") in ("1", "true")
                       and current_user.role in EDITORS)
    return jsonify(service.search(db.session, request.args.get("q", ""), include_invalid=include_invalid,
                                  limit=50 if include_invalid else 10))


@bp.get("/<int:article_id>")
@roles_required()
def get(article_id):
    return jsonify(article_view(service.get(db.session, article_id)))


@bp.post("")
@roles_required(*EDITORS)
def create():
    article = service.create(db.session, json_body(), current_user.username)
    return jsonify(article_view(article)), 201


@bp.patch("/<int:article_id>")
@roles_required(*EDITORS)
def update(article_id):
    return jsonify(article_view(service.update(db.session, article_id, json_body(), current_user.username)))
