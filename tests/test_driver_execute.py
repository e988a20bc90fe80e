"""hotline.extensions.driver_execute: the hot path's statements run on psycopg directly, and fail
the way SQLAlchemy's own execution fails (its exception classes, nothing half-written)."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from hotline.auth import ApiToken, User, user_for_token
from hotline.extensions import db, driver_execute

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def test_statement_errors_are_sqlalchemy_errors_and_the_transaction_rolls_back(app):
    with app.app_context():
        conn = db.session.connection()
        taken = db.session.scalar(select(User.username))
        with pytest.raises(IntegrityError) as caught:  # the unique username
            driver_execute(conn, "INSERT INTO users (username, password_hash, role, active, auth_epoch, created_at) "
                                 "VALUES (%(name)s, 'x', 'operator', true, 0, now())", {"name": taken})
        assert "users_username_key" in str(caught.value.orig) or "unique" in str(caught.value).lower()
        db.session.rollback()
        with pytest.raises(ProgrammingError):
            driver_execute(db.session.connection(), "SELECT no_such_column FROM users", {})
        db.session.rollback()
        assert db.session.scalar(select(User.username).where(User.username == taken)) == taken


def test_a_dead_connection_is_invalidated_and_the_next_request_gets_a_fresh_one(app):
    with app.app_context():
        conn = db.session.connection()
        pid = driver_execute(conn, "SELECT pg_backend_pid()", {}).fetchone()[0]
        with db.engine.connect() as other:  # the server ends our backend, as a restart would
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(OperationalError) as caught:
            driver_execute(conn, "SELECT 1", {})
        assert caught.value.connection_invalidated
        db.session.rollback()
        db.Session.remove()
        assert driver_execute(db.session.connection(), "SELECT pg_backend_pid()", {}).fetchone()[0] != pid


def test_the_token_user_is_a_persistent_user_of_the_session(app, client):
    r = client.post("/api/v1/auth/token", json={"username": "operator1", "password": "operator1-pass"})
    token = r.get_json()["token"]
    with app.app_context():
        user = user_for_token(db.session, token)
        assert user.username == "operator1" and user.role == "operator"
        assert user in db.session and not db.session.dirty
        assert user_for_token(db.session, token) is user  # the identity map's instance, not a second one
        db.session.query(ApiToken).update({ApiToken.revoked_at: db.session.scalar(select(ApiToken.created_at))})
        db.session.commit()
        db.Session.remove()
        assert user_for_token(db.session, token) is None  # revoked: refused on the next lookup
        assert user_for_token(db.session, "not-a-token") is None
