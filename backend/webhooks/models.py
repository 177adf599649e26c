"""Webhook endpoints of a workspace and the log of every delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, TenantMixin

EVENTS = ("job_completed", "job_failed")


class Webhook(TenantMixin, Base):
    __tablename__ = "webhooks"

    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))  # HMAC-SHA256 key of X-Studio-Signature
    events: Mapped[list[Any]] = mapped_column(default=list)
    job_types: Mapped[list[Any]] = mapped_column(default=list)  # empty = every type
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WebhookDelivery(TenantMixin, Base):
    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[str] = mapped_column(String(32), index=True)
    source_job_id: Mapped[str] = mapped_column(String(32), index=True)  # the job the event is about
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivery_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class WebhookOut(BaseModel):
    id: str
    url: str
    secret: str
    events: list[str]
    job_types: list[str]
    description: str
    active: bool
    created_at: datetime


class WebhookDeliveryOut(BaseModel):
    id: str
    webhook_id: str
    source_job_id: str
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    response_code: int | None
    response_body: str
    error: str | None
    delivery_job_id: str | None
    delivered_at: datetime | None
    created_at: datetime
