"""The caller's context that every service function takes first: tenant, user, role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from backend.errors import PermissionDenied

Role = Literal["admin", "editor", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "editor", "viewer")
_RANK = {"viewer": 0, "editor": 1, "admin": 2}


@dataclass(frozen=True)
class Ctx:
    """Who is asking: every query is filtered by ``tenant_id``."""

    tenant_id: str
    user_id: str | None = None
    role: Role = "viewer"
    username: str | None = None

    def require(self, role: Role) -> None:
        """Raise PermissionDenied unless the caller has at least ``role``."""
        if _RANK[self.role] < _RANK[role]:
            raise PermissionDenied(f"this needs the {role} role; you are {self.role}")

    @property
    def can_edit(self) -> bool:
        return _RANK[self.role] >= _RANK["editor"]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def system_ctx(tenant_id: str) -> Ctx:
    """The context workers and schedulers act with: full rights inside one workspace."""
    return Ctx(tenant_id=tenant_id, user_id=None, role="admin", username="system")
