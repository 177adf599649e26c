"""Influencer personas and the style documents their style profile is condensed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, TenantMixin, utcnow

PLATFORMS = ("instagram", "tiktok")


class Influencer(TenantMixin, Base):
    __tablename__ = "influencers"

    name: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str] = mapped_column(String(100), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    tone: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(Text, default="")
    topics: Mapped[list[Any]] = mapped_column(default=list)
    words_to_use: Mapped[list[Any]] = mapped_column(default=list)
    words_to_avoid: Mapped[list[Any]] = mapped_column(default=list)
    default_lora_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # training's LoRA, no FK
    default_lora_strength: Mapped[float] = mapped_column(Float, default=0.8)
    trigger_word: Mapped[str] = mapped_column(String(100), default="")  # overrides the LoRA's own
    default_hashtags: Mapped[list[Any]] = mapped_column(default=list)
    platforms: Mapped[list[Any]] = mapped_column(default=list)
    style_profile: Mapped[str] = mapped_column(Text, default="")
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)  # calendar: plans skip review
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StyleDocument(TenantMixin, Base):
    __tablename__ = "style_documents"

    influencer_id: Mapped[str] = mapped_column(String(32), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    storage_key: Mapped[str] = mapped_column(String(400))
    size: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text, default="")  # extracted plain text fed to the LLM


def _clean_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        v = v.replace("\n", ",").split(",")
    return [str(x).strip() for x in v if str(x).strip()]


class InfluencerFields(BaseModel):
    """Every editable field; used for create (name required) and update (all optional)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    handle: str | None = Field(None, max_length=100)
    bio: str | None = Field(None, max_length=5000)
    tone: str | None = Field(None, max_length=2000)
    audience: str | None = Field(None, max_length=2000)
    topics: list[str] | None = None
    words_to_use: list[str] | None = None
    words_to_avoid: list[str] | None = None
    default_lora_id: str | None = Field(None, max_length=32)
    default_lora_strength: float | None = Field(None, ge=-2.0, le=2.0)
    trigger_word: str | None = Field(None, max_length=100)
    default_hashtags: list[str] | None = None
    platforms: list[str] | None = None
    style_profile: str | None = Field(None, max_length=20000)
    auto_approve: bool | None = None

    model_config = {"extra": "forbid"}

    @field_validator("topics", "words_to_use", "words_to_avoid", "default_hashtags", "platforms", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> list[str] | None:
        return None if v is None else _clean_list(v)

    @field_validator("default_hashtags")
    @classmethod
    def _hashtags(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else ["#" + t.lstrip("#").replace(" ", "") for t in v if t.lstrip("#")]

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        bad = [p for p in v if p.lower() not in PLATFORMS]
        if bad:
            raise ValueError(f"unknown platform(s) {', '.join(bad)}; use {', '.join(PLATFORMS)}")
        return [p.lower() for p in v]

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str | None) -> str | None:
        return None if v is None else v.strip().lstrip("@")

    @field_validator("default_lora_id")
    @classmethod
    def _lora(cls, v: str | None) -> str | None:
        return v.strip() or None if isinstance(v, str) else v


class InfluencerOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    handle: str
    bio: str
    tone: str
    audience: str
    topics: list[str]
    words_to_use: list[str]
    words_to_avoid: list[str]
    default_lora_id: str | None
    default_lora_strength: float
    trigger_word: str
    default_hashtags: list[str]
    platforms: list[str]
    style_profile: str
    auto_approve: bool
    created_at: datetime
    updated_at: datetime


class StyleDocumentOut(BaseModel):
    id: str
    influencer_id: str
    filename: str
    mime: str
    size: int
    pages: int
    chars: int
    created_at: datetime
    excerpt: str
