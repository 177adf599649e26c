"""Turning pydantic validation errors into the domain's InvalidInput."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from backend.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any], *, what: str = "invalid input") -> M:
    """Validate ``data`` as ``model``; every problem becomes one readable reason."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        reasons = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "value"
            reasons.append(f"{loc}: {e['msg']}")
        raise InvalidInput(what, reasons) from None
