"""Account services: ending sessions, revoking tokens, changing passwords, (de)activating users.

Ending a user's sessions is one step: the user's ``auth_epoch`` goes up (every session cookie
carries the epoch it was issued under, so all of them stop working) and every bearer token of the
user is marked revoked in the database. Each function here commits its own transaction and logs
one structured line.
"""
from __future__ import annotations

import logging
import re

from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from hotline.clock import utcnow
from hotline.exceptions import Conflict, NotFound, ValidationFailed

from .auth import ApiToken, User, _hash_token
from .events import bus

log = logging.getLogger("hotline.accounts")

MIN_PASSWORD_LENGTH = 10
#: (English for the API, Chinese for the pages)
PASSWORD_RULES = {
    "required": ("required", "请输入密码"),
    "too_short": (f"at least {MIN_PASSWORD_LENGTH} characters", f"至少 {MIN_PASSWORD_LENGTH} 个字符"),
    "too_long": ("at most 128 characters", "不能超过 128 个字符"),
    "one_kind": ("mix at least two of letters, digits and other characters", "须包含字母、数字、符号中的至少两类"),
    "has_username": ("must not contain the username", "不能包含用户名"),
    "published": ("this password is published (demo accounts); choose another", "该密码已公开（演示账号密码），请另选"),
    "unchanged": ("must differ from the current password", "新密码不能与当前密码相同"),
    "wrong_old": ("the current password is wrong", "当前密码不正确"),
}


def password_problem(password: str, username: str) -> str | None:
    """The rule a new password breaks (a key of PASSWORD_RULES), or None if it is acceptable."""
    from .demo_accounts import DEMO_PASSWORDS

    if not password:
        return "required"
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if len(password) > 128:
        return "too_long"
    kinds = sum(bool(re.search(p, password)) for p in (r"[A-Za-z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if kinds < 2:
        return "one_kind"
    if len(username) >= 3 and username.lower() in password.lower():
        return "has_username"
    if password in DEMO_PASSWORDS:
        return "published"
    return None


def _end_sessions(session, user: User, reason: str) -> int:
    """Raise the epoch and revoke every live token of ``user`` (inside the caller's transaction);
    after the commit, ``user.sessions_ended`` tells the consoles to drop the user's open sockets."""
    user.auth_epoch = (user.auth_epoch or 0) + 1
    bus.publish_after_commit(session, "user.sessions_ended",
                             {"user_id": user.id, "username": user.username, "reason": reason})
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                             .values(revoked_at=utcnow()))
    return result.rowcount or 0


def end_all_sessions(session, user: User, reason: str, by: str | None = None) -> int:
    """End every session and revoke every token of ``user``; returns the number of tokens revoked."""
    revoked = _end_sessions(session, user, reason)
    session.commit()
    log.info("auth.sessions_ended user=%s reason=%s by=%s tokens_revoked=%d", user.username, reason,
             by or user.username, revoked)
    return revoked


def revoke_token(session, user: User, token: str) -> bool:
    """Revoke one bearer token of ``user`` (the one a request came with)."""
    result = session.execute(update(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.token_hash == _hash_token(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()))
    session.commit()
    log.info("auth.token_revoked user=%s revoked=%d", user.username, result.rowcount or 0)
    return bool(result.rowcount)


def change_password(session, user: User, old_password: str, new_password: str) -> int:
    """Check the current password and the new one's strength, store it, end every session.

    Raises ValidationFailed with per-field rule keys (see PASSWORD_RULES) in ``extra['rules']``.
    """
    rules: dict[str, str] = {}
    if not isinstance(old_password, str) or not check_password_hash(user.password_hash, old_password):
        rules["old_password"] = "wrong_old"
    if not isinstance(new_password, str):
        rules["new_password"] = "required"
    else:
        problem = password_problem(new_password, user.username)
        if problem is None and isinstance(old_password, str) and new_password == old_password:
            problem = "unchanged"
        if problem:
            rules["new_password"] = problem
    if rules:
        raise ValidationFailed("password not changed", {k: PASSWORD_RULES[v][0] for k, v in rules.items()},
                               rules=rules)
    user.password_hash = generate_password_hash(new_password)
    revoked = _end_sessions(session, user, "password_changed")
    session.commit()
    log.info("auth.password_changed user=%s tokens_revoked=%d", user.username, revoked)
    return revoked


def set_password(session, user: User, new_password: str, by: str) -> None:
    """An administrator's reset (CLI): strength rules apply, every session ends."""
    problem = password_problem(new_password, user.username)
    if problem:
        raise ValidationFailed("password not changed", {"password": PASSWORD_RULES[problem][0]})
    user.password_hash = generate_password_hash(new_password)
    _end_sessions(session, user, "password_set")
    session.commit()
    log.info("auth.password_set user=%s by=%s", user.username, by)


def set_active(session, user: User, active: bool, by: str) -> User:
    """Deactivate (every session and token ends at once) or reactivate an account."""
    if not active and user.username == by:
        raise Conflict("you cannot deactivate your own account")
    user.active = active
    revoked = 0 if active else _end_sessions(session, user, "deactivated")
    session.commit()
    log.info("auth.user_%s user=%s by=%s tokens_revoked=%d", "activated" if active else "deactivated",
             user.username, by, revoked)
    return user


def get_user(session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session) -> list[dict]:
    """Every account with its live token count (admin page and API)."""
    live = (select(ApiToken.user_id, func.count().label("n")).where(ApiToken.revoked_at.is_(None),
                                                                    ApiToken.expires_at >= utcnow())
            .group_by(ApiToken.user_id).subquery())
    rows = session.execute(select(User, func.coalesce(live.c.n, 0)).outerjoin(live, live.c.user_id == User.id)
                           .order_by(User.role, User.username)).all()
    return [{"username": u.username, "display_name": u.display_name, "role": u.role,
             "department": u.department.code if u.department else None, "active": u.active,
             "live_tokens": int(n)} for u, n in rows]
