"""The rubric's defaults and its validation (admins edit it: PUT /api/v1/quality/rubric)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: check key -> its Chinese name (the page, the export and the evidence use these)
CHECKS = {
    "greeting": "标准问候语",
    "forbidden_words": "服务禁语",
    "long_silence": "长时间静默",
    "talk_over": "抢话（打断市民）",
    "hold_too_long": "保持时间过长",
    "wrapup_too_long": "话后处理过长",
    "ticket_registered": "登记工单",
}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1, max_length=40)
    max: int = Field(ge=1, le=100)


class Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = Field(0.05, ge=0, le=1)  # share of the other calls drawn at random
    below_score: float = Field(90, ge=0, le=100)  # every call scoring below this is inspected
    min_per_operator: int = Field(1, ge=0, le=100)  # per operator and day, at least this many


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting_phrases: list[str] = Field(min_length=1, max_length=20)
    greeting_within_seconds: float = Field(10, gt=0, le=120)
    forbidden_words: list[str] = Field(max_length=200)
    silence_seconds: float = Field(10, gt=0, le=600)
    overlap_seconds: float = Field(1.0, gt=0, le=30)
    hold_seconds: float = Field(60, gt=0, le=3600)
    wrapup_seconds: float = Field(60, gt=0, le=3600)
    deductions: dict[str, float]
    items: list[Item] = Field(min_length=1, max_length=20)
    sampling: Sampling = Sampling()

    @field_validator("greeting_phrases", "forbidden_words")
    @classmethod
    def _phrases(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v or len(v) > 40 for v in cleaned):
            raise ValueError("each phrase has 1-40 characters")
        return cleaned

    @field_validator("deductions")
    @classmethod
    def _deductions(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(CHECKS)
        if unknown:
            raise ValueError(f"unknown checks: {', '.join(sorted(unknown))}; known: {', '.join(CHECKS)}")
        if any(not 0 <= v <= 100 for v in value.values()):
            raise ValueError("a deduction is 0-100 points")
        return {key: float(value.get(key, 0)) for key in CHECKS}

    @field_validator("items")
    @classmethod
    def _items(cls, value: list[Item]) -> list[Item]:
        if len({i.key for i in value}) != len(value):
            raise ValueError("item keys must be unique")
        return value


DEFAULT = {
    "greeting_phrases": ["您好12345", "您好，12345热线", "12345热线", "您好，政务服务热线"],
    "greeting_within_seconds": 10,
    "forbidden_words": ["不知道", "不归我们管", "不归我管", "这不是我的事", "你问我我问谁", "有完没完",
                        "你听不懂吗", "没办法", "找别人去", "爱找谁找谁"],
    "silence_seconds": 10, "overlap_seconds": 1.0, "hold_seconds": 60, "wrapup_seconds": 60,
    "deductions": {"greeting": 10, "forbidden_words": 20, "long_silence": 10, "talk_over": 10,
                   "hold_too_long": 5, "wrapup_too_long": 5, "ticket_registered": 15},
    "items": [{"key": "attitude", "label": "服务态度", "max": 25},
              {"key": "skill", "label": "业务能力", "max": 25},
              {"key": "record", "label": "工单记录准确", "max": 25},
              {"key": "norms", "label": "服务规范", "max": 25}],
    "sampling": {"rate": 0.05, "below_score": 90, "min_per_operator": 1},
}
