"""Users, roles, web sessions (Flask-Login + CSRF) and bearer tokens for machine clients.

Sessions end for real: a session cookie carries the user's ``auth_epoch`` (in Flask-Login's user
id, ``"<id>:<epoch>"``), and logout, a password change or an admin's revocation raise the epoch and
revoke the user's tokens in the database (:mod:`hotline.accounts`), so every saved cookie and
token of that user stops working on its next request.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache, wraps

from flask import current_app, g, jsonify, redirect, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, bindparam, inspect, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from hotline.clock import utcnow
from hotline.exceptions import Conflict, ValidationFailed
from hotline.extensions import Base, db, driver_execute, loaded_instance
from hotline.identity import DEPARTMENT, ROLES, Actor

login_manager = LoginManager()
csrf = CSRFProtect()


class User(UserMixin, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    # departments belong to ticketing: the core names their table and class, never imports them
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    sip_extension: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: raised whenever all of the user's sessions must end (logout, password change, revocation)
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    department: Mapped["Department | None"] = relationship("Department")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login stores this in the session cookie
        return f"{self.id}:{self.auth_epoch}"

    def actor(self) -> Actor:
        return Actor(username=self.username, role=self.role, department_id=self.department_id)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    user: Mapped[User] = relationship()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- service functions -----------------------------------------------------------------------------
def create_user(session, username: str, password: str, role: str, department_code: str | None = None,
                display_name: str | None = None, sip_extension: str | None = None) -> User:
    fields = {}
    if not username or len(username) > 80 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        fields["username"] = "1-80 letters, digits, '.', '_' or '-'"
    if role not in ROLES:
        fields["role"] = f"one of {', '.join(ROLES)}"
    if not password or len(password) < 8:
        fields["password"] = "at least 8 characters"
    dept = None
    if role == DEPARTMENT:
        if not department_code:
            fields["department"] = "a department user needs --department CODE"
        else:
            department = inspect(User).relationships["department"].mapper.class_
            dept = session.scalar(select(department).where(department.code == department_code))
            if dept is None:
                fields["department"] = f"unknown department {department_code!r}"
    elif department_code:
        fields["department"] = "only department users are bound to a department"
    if fields:
        raise ValidationFailed("invalid user", fields)
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name or username, role=role,
                password_hash=generate_password_hash(password), department=dept,
                sip_extension=sip_extension)
    session.add(user)
    session.commit()
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password, made with the same method as real ones."""
    return generate_password_hash(secrets.token_hex(16))


def authenticate(session, username: str, password: str) -> User | None:
    """The user if the password is right and the account active.

    One password hash is checked whatever happens (against a dummy hash for an unknown name), so
    the answer takes as long for an unknown user as for a known one: names cannot be found by timing.
    """
    user = session.scalar(select(User).where(User.username == username))
    matches = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    if user is None or not matches or not user.active:
        return None
    return user


def issue_token(session, user: User, ttl_hours: int) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=ttl_hours)
    session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), expires_at=expires))
    session.commit()
    return token, expires


@lru_cache(maxsize=1)
def _token_user_query():
    """The user's columns for a valid token; built once (its cache key is memoized on the object)."""
    users, tokens = User.__table__, ApiToken.__table__
    return (select(*users.c).join(tokens, tokens.c.user_id == users.c.id)
            .where(tokens.c.token_hash == bindparam("token_hash"), tokens.c.expires_at >= bindparam("now"),
                   tokens.c.revoked_at.is_(None), users.c.active.is_(True)))


@lru_cache(maxsize=4)
def _token_user_sql(dialect) -> str:
    """The same as SQL compiled once for the dialect (neither parameter needs a bind processor:
    a string and a naive datetime)."""
    return _token_user_query().compile(dialect=dialect).string


_USER_COLUMNS = tuple(c.key for c in User.__table__.c)


def user_for_token(session, token: str) -> User | None:
    """The active user of a valid, unrevoked token, as a persistent ``User`` of ``session``.

    This runs on every machine-client request, so on PostgreSQL it is one indexed lookup with as
    little around it as possible: SQL compiled once, run on the driver (``driver_execute``), the
    instance made from the row as the ORM's loader makes one (``select(User)`` through the session
    cost 0.6 M instructions per request, about a tenth of a created ticket)."""
    conn = session.connection()
    params = {"token_hash": _hash_token(token), "now": utcnow()}
    if conn.dialect.name == "postgresql":
        values = driver_execute(conn, _token_user_sql(conn.dialect), params).fetchone()
        row = None if values is None else dict(zip(_USER_COLUMNS, values))
    else:
        row = conn.execute(_token_user_query(), params).mappings().first()
    if row is None:
        return None
    mapper = inspect(User)
    known = session.identity_map.get(mapper.identity_key_from_primary_key((row["id"],)))
    if known is not None:
        return known
    user = loaded_instance(User, row)
    session.add(user)  # persistent from here: relationships load lazily as usual
    return user


# -- Flask wiring -----------------------------------------------------------------------------------
@login_manager.user_loader
def _load_user(session_id: str):
    """The session's user while its epoch is current and the account active (else logged out)."""
    user_id, sep, epoch = session_id.partition(":")
    if not sep or not user_id.isdigit() or not epoch.isdigit():
        return None  # a cookie from before sessions carried the epoch
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.auth_epoch != int(epoch):
        return None
    return user


def authenticate_bearer() -> None:
    """A request that carries ``Authorization`` is authenticated by that header alone.

    A valid bearer token makes its user the request's user (``g.bearer_token`` is then set, which
    is what exempts the request from CSRF); any other Authorization header leaves the request
    anonymous, even when a session cookie came along, so a made-up header neither skips CSRF nor
    borrows the browser's session.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return  # cookie session (Flask-Login loads it lazily)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    user = user_for_token(db.session, token) if scheme.lower() == "bearer" and token else None
    if user is None:
        g._login_user = login_manager.anonymous_user()
        return
    g._login_user = user
    g.bearer_token = token


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/"):
        return jsonify(error={"code": "unauthorized", "message": "log in or send a valid bearer token",
                              "fields": {}}), 401
    return redirect(url_for("web.login", next=request.path))


def csrf_guard():
    """CSRF on every write of a cookie session.

    Exempt: requests a valid bearer token authenticated, and the endpoints listed in
    ``CSRF_EXEMPT_ENDPOINTS`` (the token endpoint). Anonymous writes get the 401 they deserve
    (log in first) rather than a CSRF error; the login form itself is the one anonymous write
    that is CSRF-checked.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if g.get("bearer_token") or request.endpoint in current_app.config.get("CSRF_EXEMPT_ENDPOINTS", ()):
        return None
    if not current_user.is_authenticated and request.endpoint not in CSRF_ANONYMOUS_ENDPOINTS \
            and request.endpoint not in current_app.config.get("CSRF_ANONYMOUS_ENDPOINTS", ()):
        return login_manager.unauthorized()
    csrf.protect()
    return None


#: anonymous form posts that are CSRF-checked instead of refused (login CSRF); a package adds its own
#: public forms (the citizen portal) to ``app.config["CSRF_ANONYMOUS_ENDPOINTS"]``
CSRF_ANONYMOUS_ENDPOINTS = {"web.login"}


def current_actor() -> Actor:
    return current_user.actor()


def roles_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                if request.path.startswith("/api/"):
                    return jsonify(error={"code": "forbidden", "fields": {},
                                          "message": f"requires role {' or '.join(roles)}"}), 403
                return redirect(url_for("web.home"))
            return view(*args, **kwargs)
        return wrapper
    return decorator
