"""Shared by the portal tests and bench/portal.py: a module-scoped app on a copy of the migrated
SQLite template, forms posted with their CSRF token, and the SMS outbox read like a phone would."""
from __future__ import annotations

import re
from io import BytesIO

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/submit") -> str:
    r = client.get(path)
    assert r.status_code == 200, r.status_code
    return CSRF.search(r.get_data(as_text=True)).group(1)


def last_sms(app, phone: str, template_key: str):
    """The newest message of that template queued for ``phone`` (messaging's outbox), or None."""
    from hotline.extensions import db
    from messaging.service import last_message

    with app.app_context():
        try:
            return last_message(db.session, phone, template_key=template_key)
        finally:
            db.Session.remove()


def jpeg_with_gps(size=(640, 480)) -> bytes:
    """A camera-like JPEG carrying EXIF with a GPS position and a camera model."""
    from PIL import Image

    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x0110] = "HotlinePhone 12"  # Model
    exif[0x8825] = {1: "N", 2: (23.0, 10.0, 30.0), 3: "E", 4: (114.0, 17.0, 20.0)}  # GPSInfo
    out = BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()
