"""Dataset and image rows, and the pydantic schemas services return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, TenantMixin, utcnow

TRIGGER_PATTERN = r"^[^\s/\\]*$"  # one word: it becomes part of a kohya folder name


class Dataset(TenantMixin, Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_datasets_tenant_name"),)

    name: Mapped[str] = mapped_column(String(120))
    trigger_word: Mapped[str] = mapped_column(String(64), default="")
    class_word: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    default_repeats: Mapped[int] = mapped_column(Integer, default=10)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DatasetImage(TenantMixin, Base):
    __tablename__ = "dataset_images"
    __table_args__ = (Index("ix_dataset_images_dataset_created", "dataset_id", "created_at"),)

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(500))  # as given in the input (path inside the archive)
    storage_key: Mapped[str] = mapped_column(String(400))  # the original bytes
    image_key: Mapped[str] = mapped_column(String(400))  # normalised RGB, oriented: what the trainer reads
    thumb_key: Mapped[str] = mapped_column(String(400))  # WebP thumbnail
    width: Mapped[int] = mapped_column(Integer)  # after EXIF orientation
    height: Mapped[int] = mapped_column(Integer)
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)
    repeats: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the dataset's default
    pixel_hash: Mapped[str] = mapped_column(String(64), index=True)
    phash: Mapped[str] = mapped_column(String(32))
    warnings: Mapped[list[Any]] = mapped_column(default=list)


# -- schemas --------------------------------------------------------------------------------------
class DatasetIn(BaseModel):
    """What a user sets on a dataset."""

    name: str = Field(min_length=1, max_length=120)
    trigger_word: str = Field("", max_length=64, pattern=TRIGGER_PATTERN)
    class_word: str = Field("", max_length=64)
    description: str = Field("", max_length=5000)
    default_repeats: int = Field(10, ge=1, le=1000)

    @field_validator("name", "trigger_word", "class_word", "description")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("name")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("class_word")
    @classmethod
    def _class_chars(cls, v: str) -> str:
        if "/" in v or "\\" in v:
            raise ValueError("must not contain slashes")
        return v


class DatasetOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    trigger_word: str
    class_word: str
    description: str
    default_repeats: int
    image_count: int = 0
    created_at: datetime
    updated_at: datetime


class DatasetImageOut(BaseModel):
    id: str
    dataset_id: str
    filename: str
    storage_key: str
    image_key: str
    thumb_key: str
    width: int
    height: int
    caption: str | None
    repeats: int | None
    pixel_hash: str
    phash: str
    warnings: list[str]
    created_at: datetime

    def public(self, default_repeats: int) -> dict[str, Any]:
        """The image as ``dataset show --json`` prints it."""
        return {
            "id": self.id,
            "file": self.filename,
            "width": self.width,
            "height": self.height,
            "caption": self.caption,
            "repeats": self.repeats if self.repeats is not None else default_repeats,
            "warnings": list(self.warnings),
        }


class TrainingItem(BaseModel):
    """One image as the LoRA trainer consumes it."""

    image_key: str
    caption: str  # "" when the image has none
    repeats: int  # resolved: the image's own or the dataset default
    width: int
    height: int
    filename: str


class BucketCount(BaseModel):
    width: int
    height: int
    count: int


class DatasetStats(BaseModel):
    count: int
    min_width: int | None
    min_height: int | None
    max_width: int | None
    max_height: int | None
    mean_width: float | None
    mean_height: float | None
    min_pixels: int | None
    max_pixels: int | None
    captioned: int
    caption_coverage: float  # 0..1
    resolution: int  # the training resolution the buckets are for
    buckets: list[BucketCount]
    total_repeats: int  # images x repeats: steps per epoch at batch size 1
    warnings: list[str]


class IngestReport(BaseModel):
    """The per-file result of one upload (the CLI prints exactly these keys)."""

    dataset_id: str
    accepted: list[str] = []
    rejected: list[dict[str, str]] = []  # {"file", "reason"}
    warnings: list[dict[str, str]] = []  # {"file", "warning"}
