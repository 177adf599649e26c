"""Assets: every generated image or video, with all the parameters that made it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, TenantMixin

ASSET_KINDS = ("image", "video")


class Asset(TenantMixin, Base):
    __tablename__ = "assets"
    __table_args__ = (Index("ix_assets_tenant_created", "tenant_id", "created_at"),)

    kind: Mapped[str] = mapped_column(String(16))  # image | video
    storage_key: Mapped[str] = mapped_column(String(400))
    thumb_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    mime: Mapped[str] = mapped_column(String(100))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    prompt: Mapped[str] = mapped_column(Text, default="")
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    # seed, steps, guidance, scheduler, size, base_model, loras [{id, strength, name}], backend, ...
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    base_model: Mapped[str] = mapped_column(String(200), default="")
    lora_ids: Mapped[str] = mapped_column(String(400), default="")  # ",id1,id2," for the LoRA filter
    influencer_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    source_asset_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # img2img / video input
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1..5, None = unrated


class AssetOut(BaseModel):
    id: str
    tenant_id: str
    kind: str
    storage_key: str
    thumb_key: str | None
    mime: str
    width: int
    height: int
    duration_s: float | None
    size: int
    prompt: str
    negative_prompt: str
    params: dict[str, Any]
    base_model: str
    influencer_id: str | None
    job_id: str | None
    source_asset_id: str | None
    rating: int | None
    created_at: datetime

    @property
    def loras(self) -> list[dict[str, Any]]:
        return list(self.params.get("loras") or [])

    @property
    def filename(self) -> str:
        return self.storage_key.rsplit("/", 1)[-1]
