"""The one rule of multi-tenancy: a row of another workspace is "not found", never "forbidden"."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from backend.context import Ctx
from backend.errors import NotFound


class _Owned(Protocol):
    tenant_id: Any


T = TypeVar("T", bound=_Owned)


def get_owned(s: Session, model: type[T], ctx: Ctx, obj_id: str, *, kind: str, lock: bool = False) -> T:
    """The row ``obj_id`` of ``model`` in the caller's workspace; NotFound when missing or foreign.

    :param lock: take a row lock (``SELECT ... FOR UPDATE``) for a read-modify-write.
    """
    row = s.get(model, obj_id, with_for_update=lock) if obj_id else None
    if row is None or row.tenant_id != ctx.tenant_id:
        raise NotFound(kind, obj_id)
    return row
