"""Workspaces (tenants) and their users."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, IdMixin, utcnow


class Tenant(IdMixin, Base):
    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(IdMixin, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", name="uq_users_username"),)

    # Usernames are unique across the installation: the login form has no workspace field.
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="editor")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


USERNAME_PATTERN = r"^[a-zA-Z0-9_.-]{3,64}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str
    timezone: str


class UserOut(BaseModel):
    id: str
    tenant_id: str
    username: str
    name: str
    email: str
    role: str
    active: bool
    created_at: datetime


class NewUser(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=128)
    role: str = Field(pattern="^(admin|editor|viewer)$")
    name: str = ""
    email: str = ""
