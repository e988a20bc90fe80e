"""Knowledge base services: Chinese search with highlighted hits, editing, seeding.

Search segments the query with jieba (search mode, so 社保卡 also yields 社保), drops filler words,
pre-filters candidates in SQL with LIKE on any term, and ranks in Python by where terms match:
title beats tags beats body, and covering more distinct terms beats repeating one. Knowledge bases
of a county hotline hold hundreds to a few thousand articles, so this stays fast without a
full-text index and behaves the same on SQLite and PostgreSQL.

Hits come back as segments ``[{"text", "hit"}]`` so the browser can wrap hits with DOM nodes
(``<mark>`` + textContent) and never needs innerHTML.
"""
from __future__ import annotations

import logging
import re
import threading
from datetime import date
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm.exc import StaleDataError

from hotline.clock import to_local, utcnow
from hotline.exceptions import Conflict, NotFound, ValidationFailed
from ticketing.models import Department
from ticketing.schemas import parse

from .models import Article
from .schemas import ArticleIn, ArticlePatch

log = logging.getLogger("hotline.knowledge")

STOPWORDS = frozenset(
    "的 了 吗 呢 啊 吧 呀 嗯 么 我 你 他 她 它 我们 你们 他们 怎么 怎样 如何 什么 哪里 哪儿 哪个 请问 一下 可以 能 "
    "需要 想 想要 要 是 在 有 和 与 及 或 那个 这个 就是 问下 问问 请 帮 帮忙 给 去 到 把 被 个 吗？ 谢谢 您好 你好 "
    "办 怎么办 该 应该 呢？ 还 也 都 又 就".split())
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
_jieba_lock = threading.Lock()
_jieba_ready = False


def _cut(text: str) -> list[str]:
    """jieba's first call builds its dictionary (~1 s); do it once, under a lock, lazily."""
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba.lcut_for_search(text)


def terms_of(query: str) -> list[str]:
    """Search terms of a query, longest first, without filler words or punctuation."""
    query = (query or "").strip()[:200]
    if not query:
        return []
    seen: list[str] = []
    for token in _cut(query):
        token = token.strip().lower()
        if not token or token in STOPWORDS or not _WORD.search(token):
            continue
        if token not in seen:
            seen.append(token)
    multi = [t for t in seen if len(t) > 1]
    if multi:
        seen = multi + [t for t in seen if len(t) == 1 and not any(t in m for m in multi)
                        and not ("\u4e00" <= t <= "\u9fff")]
    return sorted(seen, key=len, reverse=True)


def segments(text: str, terms: list[str]) -> list[dict]:
    """Split ``text`` into alternating plain and hit segments (longest term wins an overlap)."""
    if not text:
        return []
    lower = text.lower()
    marks = [False] * len(text)
    for term in terms:
        start = lower.find(term)
        while start != -1:
            end = start + len(term)
            if not any(marks[start:end]):
                for i in range(start, end):
                    marks[i] = True
            start = lower.find(term, end)
    out: list[dict] = []
    for ch, hit in zip(text, marks):
        if out and out[-1]["hit"] == hit:
            out[-1]["text"] += ch
        else:
            out.append({"text": ch, "hit": hit})
    return out


def snippet(body: str, terms: list[str], width: int = 120) -> list[dict]:
    """The part of ``body`` around its first hit, as segments, with ellipses where cut."""
    lower = body.lower()
    first = min((p for p in (lower.find(t) for t in terms) if p != -1), default=0)
    start = max(0, first - 30)
    end = min(len(body), start + width)
    segs = segments(body[start:end], terms)
    if start > 0:
        segs.insert(0, {"text": "…", "hit": False})
    if end < len(body):
        segs.append({"text": "…", "hit": False})
    return segs


def score(article: Article, terms: list[str]) -> float:
    title, body = article.title.lower(), article.body.lower()
    tags = [t.lower() for t in (article.tags or [])]
    total, matched = 0.0, 0
    for term in terms:
        weight = 1.0 if len(term) > 1 else 0.3
        s = 0.0
        if term in title:
            s += 3
        if any(term in tag or tag in term for tag in tags):
            s += 2
        s += min(body.count(term), 3) * 0.5
        if s:
            matched += 1
            total += s * weight
    return total + matched * 2 if matched else 0.0


def today_local() -> date:
    return to_local(utcnow()).date()


def _valid_now():
    today = today_local()
    return (Article.active.is_(True),
            or_(Article.valid_from.is_(None), Article.valid_from <= today),
            or_(Article.valid_to.is_(None), Article.valid_to >= today))


def search(session, query: str, *, include_invalid: bool = False, limit: int = 10) -> dict:
    terms = terms_of(query)
    stmt = select(Article)
    if not include_invalid:
        stmt = stmt.where(*_valid_now())
    if terms:
        stmt = stmt.where(or_(*[c for t in terms for c in (
            Article.title.contains(t, autoescape=True), Article.body.contains(t, autoescape=True),
            Article.tags.contains(t, autoescape=True))]))
    elif (query or "").strip():
        return {"query": query, "terms": [], "items": []}
    rows = list(session.scalars(stmt.order_by(Article.id).limit(2000)))
    ranked = sorted(((score(a, terms) if terms else 0.0, a) for a in rows), key=lambda p: (-p[0], p[1].id))
    if terms:
        ranked = [p for p in ranked if p[0] > 0]
    from .schemas import article_view

    items = []
    for s, article in ranked[:limit]:
        view = article_view(article, with_body=False)
        view.update(score=round(s, 2), title_segments=segments(article.title, terms),
                    snippet_segments=snippet(article.body, terms),
                    tag_hits=[t for t in (article.tags or []) if any(x in t.lower() for x in terms)])
        items.append(view)
    return {"query": query, "terms": terms, "items": items}


def get(session, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"article {article_id} not found")
    return article


def _department(session, code: str | None) -> Department | None:
    if not code:
        return None
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise ValidationFailed(f"unknown department {code!r}", {"department": f"unknown department {code!r}"})
    return dept


def create(session, data: dict, username: str) -> Article:
    inp: ArticleIn = parse(ArticleIn, data)
    article = Article(title=inp.title, body=inp.body, tags=inp.tags, department=_department(session, inp.department),
                      valid_from=inp.valid_from, valid_to=inp.valid_to, active=inp.active,
                      created_by=username, updated_by=username)
    session.add(article)
    session.commit()
    log.info("knowledge.created id=%s actor=%s", article.id, username)
    return article


def update(session, article_id: int, data: dict, username: str) -> Article:
    inp: ArticlePatch = parse(ArticlePatch, data)
    sent = inp.model_fields_set
    try:
        article = get(session, article_id)
        if inp.version is not None and inp.version != article.version:
            raise Conflict(f"article {article_id} was edited by someone else; reload and retry")
        for key in ("title", "body", "tags", "active"):
            if key in sent and getattr(inp, key) is not None:
                setattr(article, key, getattr(inp, key))
        for key in ("valid_from", "valid_to"):
            if key in sent:
                setattr(article, key, getattr(inp, key))
        if "department" in sent:
            article.department = _department(session, inp.department)
        if article.valid_from and article.valid_to and article.valid_to < article.valid_from:
            raise ValidationFailed("invalid validity window", {"valid_to": "must not be before valid_from"})
        article.updated_by = username
        session.commit()
    except StaleDataError:
        session.rollback()
        raise Conflict(f"article {article_id} was edited by someone else; reload and retry") from None
    except Exception:
        session.rollback()
        raise
    log.info("knowledge.updated id=%s actor=%s", article_id, username)
    return article


SEED_FILE = Path(__file__).with_name("data") / "articles.yaml"


def seed(session) -> int:
    """Load the bundled county articles that are not there yet (matched by title); returns how many."""
    import yaml

    entries = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    existing = set(session.scalars(select(Article.title)))
    added = 0
    for entry in entries:
        if entry["title"] in existing:
            continue
        inp: ArticleIn = parse(ArticleIn, entry)
        dept = session.scalar(select(Department).where(Department.code == inp.department)) if inp.department else None
        session.add(Article(title=inp.title, body=inp.body, tags=inp.tags, department=dept,
                            valid_from=inp.valid_from, valid_to=inp.valid_to, created_by="seed",
                            updated_by="seed"))
        added += 1
    session.commit()
    return added
