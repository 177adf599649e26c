"""LoRA rows and the training parameters a run is submitted with."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, TenantMixin

Optimizer = Literal["adamw", "adamw8bit", "prodigy"]
Scheduler = Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"]
Precision = Literal["no", "fp16", "bf16"]
MAX_SAMPLE_PROMPTS = 8


class LoraModel(TenantMixin, Base):
    """A trained LoRA: its .safetensors file in storage and what it was trained from."""

    __tablename__ = "loras"
    __table_args__ = (Index("ix_loras_tenant_created", "tenant_id", "created_at"),)

    name: Mapped[str] = mapped_column(String(120))
    trigger_word: Mapped[str] = mapped_column(String(64), default="")
    base_model: Mapped[str] = mapped_column(String(200))
    architecture: Mapped[str] = mapped_column(String(16))  # sd15 | sdxl
    dataset_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dataset_hash: Mapped[str] = mapped_column(String(64), default="")
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    file_key: Mapped[str] = mapped_column(String(400))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    rank: Mapped[int] = mapped_column(Integer)
    alpha: Mapped[float] = mapped_column(Float)
    resolution: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    final_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    samples: Mapped[list[Any]] = mapped_column(default=list)  # [{"step", "index", "prompt", "key"}]
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")


class LoraOut(BaseModel):
    id: str
    tenant_id: str
    name: str
    trigger_word: str
    base_model: str
    architecture: str
    dataset_id: str | None
    dataset_hash: str
    job_id: str | None
    file_key: str
    size_bytes: int
    rank: int
    alpha: float
    resolution: int
    steps: int
    final_loss: float | None
    samples: list[dict[str, Any]]
    params: dict[str, Any]
    created_at: datetime

    def public(self) -> dict[str, Any]:
        """The LoRA as ``loras list --json`` prints it."""
        return {
            "id": self.id, "name": self.name, "trigger_word": self.trigger_word, "base_model": self.base_model,
            "architecture": self.architecture, "rank": self.rank, "alpha": self.alpha, "steps": self.steps,
            "resolution": self.resolution, "final_loss": self.final_loss, "size_bytes": self.size_bytes,
            "dataset_id": self.dataset_id, "job_id": self.job_id, "created_at": self.created_at.isoformat(),
        }


_NAME = re.compile(r"^[\w .()+-]{1,120}$")


class TrainingParams(BaseModel):
    """Every knob of a LoRA training run (kohya's names where they exist)."""

    model_config = {"extra": "forbid"}

    rank: int = Field(16, ge=1, le=256)
    alpha: float = Field(16, gt=0, le=1024)
    learning_rate: float = Field(1e-4, gt=0, le=1.0)  # the UNet's
    text_encoder_lr: float = Field(5e-5, ge=0, le=1.0)
    lr_scheduler: Scheduler = "constant_with_warmup"
    lr_warmup_steps: int = Field(0, ge=0, le=100_000)
    optimizer: Optimizer = "adamw"
    weight_decay: float = Field(1e-2, ge=0, le=1.0)
    epochs: int = Field(10, ge=1, le=10_000)
    max_steps: int | None = Field(None, ge=1, le=1_000_000)  # overrides epochs when set
    batch_size: int = Field(1, ge=1, le=64)
    gradient_accumulation: int = Field(1, ge=1, le=128)
    resolution: int = Field(512, ge=64, le=2048)
    mixed_precision: Precision = "no"
    gradient_checkpointing: bool = False
    train_text_encoder: bool = False
    noise_offset: float = Field(0.0, ge=0, le=1.0)
    min_snr_gamma: float | None = Field(None, gt=0, le=100)
    caption_dropout: float = Field(0.0, ge=0, le=1.0)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    save_every: int = Field(0, ge=0, le=1_000_000)  # steps; 0: only at the end
    keep_checkpoints: int = Field(3, ge=1, le=100)
    sample_every: int = Field(0, ge=0, le=1_000_000)  # steps; 0: only at the end
    sample_prompts: list[str] = Field(default_factory=lambda: ["a photo of [trigger]"], max_length=MAX_SAMPLE_PROMPTS)
    sample_steps: int = Field(20, ge=1, le=150)
    sample_guidance: float = Field(7.0, ge=0, le=30)

    @field_validator("resolution")
    @classmethod
    def _multiple_of_64(cls, v: int) -> int:
        if v % 64:
            raise ValueError("must be a multiple of 64")
        return v

    @field_validator("sample_prompts")
    @classmethod
    def _prompts(cls, v: list[str]) -> list[str]:
        prompts = [p.strip() for p in v if p and p.strip()]
        for p in prompts:
            if len(p) > 500:
                raise ValueError("a sample prompt is longer than 500 characters")
        return prompts

    @model_validator(mode="after")
    def _consistent(self) -> TrainingParams:
        if self.mixed_precision == "fp16" and self.optimizer == "prodigy":
            raise ValueError("prodigy is unstable in fp16; use bf16 or no mixed precision")
        return self


class TrainRequest(BaseModel):
    """A submitted run: what to train on and the (preset-merged) parameters."""

    model_config = {"extra": "forbid"}

    dataset_id: str = Field(min_length=1, max_length=32)
    base_model: str = Field(min_length=1, max_length=200)
    name: str = Field("", max_length=120)
    trigger_word: str = Field("", max_length=64, pattern=r"^[^\s/\\]*$")
    preset: str | None = None
    params: TrainingParams

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if v and not _NAME.match(v):
            raise ValueError("use letters, digits, spaces and . ( ) + - _ only")
        return v
