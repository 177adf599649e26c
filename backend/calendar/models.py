"""Calendar tables (posts, their targets, slots, plans, publish attempts) and their schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, TenantMixin, utcnow

TARGET_KINDS = ("instagram_feed", "instagram_reel", "instagram_story", "tiktok", "webhook")
# Targets published through the Instagram Graph API; the others go through a webhook (n8n).
INSTAGRAM_KINDS = ("instagram_feed", "instagram_reel", "instagram_story")
TARGET_STATUSES = ("draft", "needs_approval", "scheduled", "publishing", "published", "failed", "unconfirmed")
# A post whose targets left these states has been sent: it no longer moves or changes.
EDITABLE_STATUSES = ("draft", "needs_approval", "scheduled", "failed")
MEDIA_KINDS = ("none", "image", "video", "carousel")
ACCOUNT_KINDS = ("instagram", "webhook")


class PublishAccount(TenantMixin, Base):
    """Where a target publishes: an Instagram professional account or a webhook (n8n, TikTok via n8n)."""

    __tablename__ = "calendar_accounts"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    influencer_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    ig_user_id: Mapped[str] = mapped_column(String(64), default="")
    webhook_url: Mapped[str] = mapped_column(Text, default="")
    # The Instagram access token or the webhook's HMAC secret, Fernet-encrypted (never plain).
    secret_encrypted: Mapped[str] = mapped_column(Text, default="")


class Post(TenantMixin, Base):
    __tablename__ = "calendar_posts"
    __table_args__ = (Index("ix_calendar_posts_tenant_at", "tenant_id", "scheduled_at"),)

    influencer_id: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    caption: Mapped[str] = mapped_column(Text, default="")
    media_kind: Mapped[str] = mapped_column(String(16), default="none")
    media_asset_ids: Mapped[list[Any]] = mapped_column(default=list)
    scheduled_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    submitted_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    plan_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Automation: {"state": "generating"|"ready"|"failed", "caption_job": id, "image_job": id, "topic": ...}
    generation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PostTarget(IdMixin, Base):
    __tablename__ = "calendar_post_targets"
    __table_args__ = (Index("ix_calendar_targets_status_due", "status", "due_at"),)

    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("calendar_posts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    caption_override: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    due_at: Mapped[datetime] = mapped_column()  # the post's scheduled_at, kept here for the scheduler's index
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    container_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # Instagram container, reused on retry
    remote_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    permalink: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PublishAttempt(IdMixin, Base):
    """One step of publishing a target (the log a person reads when something went wrong)."""

    __tablename__ = "calendar_publish_attempts"

    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    target_id: Mapped[str] = mapped_column(ForeignKey("calendar_post_targets.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    step: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # ok | error | unconfirmed | skipped
    detail: Mapped[str] = mapped_column(Text, default="")


class PostingSlot(TenantMixin, Base):
    """A recurring posting time of an influencer, in the workspace's time zone (Mon=0)."""

    __tablename__ = "calendar_slots"
    __table_args__ = (UniqueConstraint("tenant_id", "influencer_id", "weekday", "time", name="uq_calendar_slots_when"),)

    influencer_id: Mapped[str] = mapped_column(String(32), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    time: Mapped[str] = mapped_column(String(5))  # HH:MM


class RecurringPlan(TenantMixin, Base):
    """Automation: generate a post for each (weekday, time) ahead of time."""

    __tablename__ = "calendar_plans"

    influencer_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    weekdays: Mapped[list[Any]] = mapped_column(default=list)
    times: Mapped[list[Any]] = mapped_column(default=list)
    topics: Mapped[list[Any]] = mapped_column(default=list)  # empty: let the LLM suggest
    targets: Mapped[list[Any]] = mapped_column(default=list)  # [{"kind": ..., "account_id": ...}]
    lookahead_days: Mapped[int] = mapped_column(Integer, default=3)
    # Image request fields for the generated image (width, height, steps, base_model, ...); {} = defaults.
    image_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    topic_cursor: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


class PlanOccurrence(IdMixin, Base):
    """One generated slot of a plan; the unique key stops two schedulers generating it twice."""

    __tablename__ = "calendar_plan_occurrences"
    __table_args__ = (UniqueConstraint("plan_id", "slot_at", name="uq_calendar_plan_occurrences_slot"),)

    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("calendar_plans.id", ondelete="CASCADE"), index=True)
    slot_at: Mapped[datetime] = mapped_column()
    post_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


# -- schemas ---------------------------------------------------------------------------------------
class TargetIn(BaseModel):
    kind: str
    account_id: str | None = None
    caption: str | None = None  # overrides the post's caption for this target


class TargetOut(BaseModel):
    id: str
    kind: str
    account_id: str | None
    caption_override: str | None
    status: str
    job_id: str | None
    remote_id: str | None
    permalink: str | None
    reason: str | None
    published_at: datetime | None


class PostOut(BaseModel):
    id: str
    tenant_id: str
    influencer_id: str
    title: str
    caption: str
    media_kind: str
    media_asset_ids: list[str]
    scheduled_at: datetime  # UTC
    local_time: str  # "YYYY-MM-DD HH:MM" in the workspace's time zone
    timezone: str
    status: str  # a summary of the targets' statuses
    approved_by: str | None
    plan_id: str | None
    generation: dict[str, Any]
    targets: list[TargetOut]
    warnings: list[str] = []

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class AccountOut(BaseModel):
    id: str
    name: str
    kind: str
    influencer_id: str | None
    ig_user_id: str
    webhook_url: str
    has_secret: bool


class SlotOut(BaseModel):
    id: str
    influencer_id: str
    weekday: int
    time: str


class PlanOut(BaseModel):
    id: str
    influencer_id: str
    name: str
    weekdays: list[int]
    times: list[str]
    topics: list[str]
    targets: list[dict[str, Any]]
    lookahead_days: int
    image_options: dict[str, Any] = {}
    active: bool


class AttemptOut(BaseModel):
    at: datetime
    step: str
    outcome: str
    detail: str
