"""Job rows (the truth about every long task) and their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, TenantMixin, utcnow

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = ("succeeded", "failed", "cancelled")
QUEUES = ("cpu", "gpu")


class Job(TenantMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_queue", "status", "queue"), Index("ix_jobs_tenant_created", "tenant_id", "created_at"))

    type: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    time_limit_s: Mapped[int] = mapped_column(Integer, default=3600)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cost: Mapped[float] = mapped_column(Float, default=0.0)  # USD spent on paid APIs (LLM)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # e.g. the dataset
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)  # last hand-over to the broker
    not_before: Mapped[datetime | None] = mapped_column(nullable=True)  # backoff before the next try
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    requests: Mapped[list[Any]] = mapped_column(default=list)  # e.g. ["save_now", "sample_now"]


class JobEvent(IdMixin, Base):
    __tablename__ = "job_events"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # status | stage | log | error
    level: Mapped[str] = mapped_column(String(16), default="info")
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # traceback, admins only


class JobOut(BaseModel):
    id: str
    tenant_id: str
    type: str
    queue: str
    status: str
    attempts: int
    max_attempts: int
    progress: float
    stage: str
    message: str
    metrics: dict[str, Any]
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    cost: float
    subject_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    stop_requested: bool

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def public(self) -> dict[str, Any]:
        """The job as the CLI prints it with --json."""
        return {
            "job_id": self.id,
            "type": self.type,
            "status": self.status,
            "attempts": self.attempts,
            "progress": round(self.progress, 4),
            "result": self.result,
            "error": self.error,
            "cost": round(self.cost, 6),
        }


class JobEventOut(BaseModel):
    at: datetime
    kind: str
    level: str
    message: str
    detail: str | None = None
