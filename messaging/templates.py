"""The message templates: keys, the context each one needs, the default wording, admins' edits.

Placeholders are ``{name}`` (``str.format_map``); an edit may use only the template's variables,
so a template can never fail at send time."""
from __future__ import annotations

import string
from dataclasses import dataclass

from sqlalchemy import select

from hotline.clock import utcnow

from .exceptions import TemplateContextError, UnknownTemplate
from .models import SmsTemplate

MAX_TEXT = 300  # characters of a template (Kannel splits long messages into concatenated parts)


@dataclass(frozen=True)
class TemplateSpec:
    key: str
    title: str  # the admin page's label
    variables: tuple[str, ...]
    default: str
    #: sent even to a phone that opted out (a code the citizen asked for right now)
    always: bool = False


SPECS: dict[str, TemplateSpec] = {s.key: s for s in (
    TemplateSpec("otp", "验证码", ("code", "minutes"),
                 "【12345热线】您的验证码是{code}，{minutes}分钟内有效，请勿告诉他人。", always=True),
    TemplateSpec("accepted", "受理通知", ("number", "deadline"),
                 "【12345热线】您的诉求已受理，工单号{number}，我们将在{deadline}前答复您。回复TD退订"),
    TemplateSpec("reply", "答复通知（含评价链接）", ("number", "rating_url"),
                 "【12345热线】您的诉求（工单号{number}）已有答复，请查看并评价：{rating_url} 回复TD退订"),
)}


def spec(key: str) -> TemplateSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise UnknownTemplate(f"unknown SMS template {key!r}", {"template_key": f"one of {', '.join(SPECS)}"}) from None


def placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise TemplateContextError(f"template is not well formed: {exc}", {"text": "花括号不成对"}) from None


def check_text(key: str, text) -> str:
    """An admin's new wording for ``key``: non-empty, bounded, only the template's variables."""
    s = spec(key)
    if not isinstance(text, str) or not text.strip():
        raise TemplateContextError("text is required", {"text": "短信内容不能为空"})
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise TemplateContextError("text too long", {"text": f"最多 {MAX_TEXT} 个字符"})
    names = placeholders(text)
    if any(not n or not n.isidentifier() for n in names):
        raise TemplateContextError("only {name} placeholders", {"text": "占位符只能是 {变量名}"})
    unknown = names - set(s.variables)
    if unknown:
        raise TemplateContextError(f"unknown variables {sorted(unknown)}",
                                   {"text": f"未知变量 {', '.join(sorted(unknown))}；可用：{', '.join(s.variables)}"})
    return text


def current_text(session, key: str) -> str:
    s = spec(key)
    row = session.get(SmsTemplate, key)
    return row.text if row is not None else s.default


def render(session, key: str, context: dict) -> str:
    s = spec(key)
    missing = [v for v in placeholders(current_text(session, key)) | set(s.variables) if v not in context]
    if missing:
        raise TemplateContextError(f"template {key!r} needs {sorted(missing)}",
                                   {"context": f"missing {', '.join(sorted(missing))}"})
    return current_text(session, key).format_map({k: str(v) for k, v in context.items()})


def list_templates(session) -> list[dict]:
    rows = {r.key: r for r in session.scalars(select(SmsTemplate))}
    out = []
    for s in SPECS.values():
        row = rows.get(s.key)
        out.append({"key": s.key, "title": s.title, "variables": list(s.variables), "text": row.text if row else s.default,
                    "default": s.default, "customised": row is not None, "always_sent": s.always,
                    "updated_by": row.updated_by if row else None,
                    "updated_at": row.updated_at.isoformat() + "Z" if row else None})
    return out


def set_template(session, key: str, text, actor: str) -> dict:
    """Store an admin's wording (or restore the default with ``text=None``) and commit."""
    spec(key)
    row = session.get(SmsTemplate, key)
    if text is None:
        if row is not None:
            session.delete(row)
    else:
        text = check_text(key, text)
        if row is None:
            row = SmsTemplate(key=key, text=text, updated_by=actor, updated_at=utcnow())
            session.add(row)
        else:
            row.text, row.updated_by, row.updated_at = text, actor, utcnow()
    session.commit()
    return next(t for t in list_templates(session) if t["key"] == key)
