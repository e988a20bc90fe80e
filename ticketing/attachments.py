"""Reply attachments: files stored under a random id with who uploaded them, for which unit.

The case record owns them because a reply cites them: ``resolve`` checks server-side that every
cited id exists and was uploaded by the replying unit, and returns the server's own metadata (a
client cannot cite another unit's file or invent a name, size or type).
"""
from __future__ import annotations

import json
import mimetypes
import re
import uuid
from pathlib import Path

from hotline.clock import iso, utcnow
from hotline.exceptions import NotFound, ValidationFailed

from . import lifecycle

MAX_SIZE = 1_500_000
ID_RE = re.compile(r"^[0-9a-f]{32}$")
ALLOWED_TYPES = ("image/png", "image/jpeg", "image/gif", "application/pdf", "text/plain",
                 "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PUBLIC = ("id", "name", "size", "type")


def store_dir(config) -> Path:
    base = Path(config.attachments_dir) if config.attachments_dir else Path(config.recordings_dir).parent / "attachments"
    base.mkdir(parents=True, exist_ok=True)
    return base


def save(base: Path, user, filename: str, content_type: str, data: bytes) -> dict:
    """Store an upload under a random id; the reply then cites ``{"id"}`` (name etc. are ours)."""
    name = Path(filename or "").name.strip()[:120]
    if not name:
        raise ValidationFailed("file name missing", {"file": "choose a file"})
    ctype = (content_type or mimetypes.guess_type(name)[0] or "").split(";")[0].strip()
    if ctype not in ALLOWED_TYPES:
        raise ValidationFailed("file type not allowed", {"file": "images, PDF, text, Word or Excel only"})
    if not data:
        raise ValidationFailed("empty file", {"file": "the file is empty"})
    if len(data) > MAX_SIZE:
        raise ValidationFailed("file too large", {"file": f"at most {MAX_SIZE // 1000} KB"})
    att_id = uuid.uuid4().hex
    (base / att_id).write_bytes(data)
    meta = {"id": att_id, "name": name, "size": len(data), "type": ctype, "uploaded_by": user.username,
            "department_id": user.department_id, "at": iso(utcnow())}
    (base / f"{att_id}.json").write_text(json.dumps(meta, ensure_ascii=False))
    return {k: meta[k] for k in PUBLIC}


def save_citizen_photo(base: Path, number: str, name: str, content_type: str, data: bytes) -> tuple[dict, Path]:
    """Store a photo the citizen sent with ticket ``number`` (already checked and re-encoded by the
    portal); the units that hold the ticket may open it (``open_for``). Returns its public metadata
    and the stored file (to remove it again when the transaction fails)."""
    att_id = uuid.uuid4().hex
    (base / att_id).write_bytes(data)
    meta = {"id": att_id, "name": name, "size": len(data), "type": content_type, "uploaded_by": "citizen",
            "department_id": None, "ticket": number, "at": iso(utcnow())}
    (base / f"{att_id}.json").write_text(json.dumps(meta, ensure_ascii=False))
    return {k: meta[k] for k in PUBLIC}, base / att_id


def metadata(base: Path, att_id: str) -> dict | None:
    if not ID_RE.match(att_id or ""):
        return None
    meta_path = base / f"{att_id}.json"
    return json.loads(meta_path.read_text()) if meta_path.exists() else None


def open_for(base: Path, user, att_id: str, holds=None) -> tuple[dict, Path]:
    """Desk staff read every attachment; a department user its own unit's uploads and the citizen's
    photos of tickets its unit holds (``holds(number)`` says whether it does)."""
    meta = metadata(base, att_id)
    if meta is not None and user.role == lifecycle.DEPARTMENT:
        own = meta.get("department_id") is not None and meta.get("department_id") == user.department_id
        citizens = bool(meta.get("ticket")) and holds is not None and holds(meta["ticket"])
        if not (own or citizens):
            meta = None
    if meta is None:
        raise NotFound("attachment not found")
    return meta, base / att_id


def resolve(base: Path | None, actor, refs) -> list[dict]:
    """The server's metadata of each cited upload; 422 naming each id that is unknown or not the
    actor's unit's own (same message for both: ids of other units are not confirmed)."""
    out, fields = [], {}
    for i, ref in enumerate(refs):
        meta = metadata(base, ref.id) if base is not None else None
        mine = meta is not None and not meta.get("ticket") and (meta.get("department_id") == actor.department_id
                                     if actor.role == lifecycle.DEPARTMENT else True)
        if not mine:
            fields[f"attachments.{i}.id"] = "no such upload of yours; upload the file first"
        else:
            out.append({k: meta[k] for k in PUBLIC})
    if fields:
        raise ValidationFailed("unknown attachments", fields)
    return out
