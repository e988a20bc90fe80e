"""Start-up checks of the processes that accept logins (`web`, `api`, `hotline run`)."""
from __future__ import annotations

import sys


def refuse_published_demo_passwords(app) -> None:
    """Exit (status 3) with the reason when a production database still has a demo login."""
    from hotline.demo_accounts import PublishedPasswordsActive, refuse_published_passwords
    from hotline.extensions import db

    with app.app_context():
        try:
            refuse_published_passwords(db.session, app.config["HOTLINE"].database_url)
        except PublishedPasswordsActive as exc:
            print(f"hotline: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(3) from None
        finally:
            db.Session.remove()
