"""Job handlers by type. A pipeline module registers its handler with ``@handler("type")``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from workers.context import JobContext

Handler = Callable[[JobContext], dict[str, Any] | None]
_HANDLERS: dict[str, Handler] = {}

# Pipeline modules imported by every worker; each registers its job types and handlers.
PIPELINE_MODULES = [
    "workers.pipelines.system",
    "workers.pipelines.training",
    "workers.pipelines.captions",
    "workers.pipelines.images",
    "workers.pipelines.webhooks",
    "workers.pipelines.publishing",
    "workers.pipelines.ingest",
]


def handler(job_type: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of ``job_type`` (its JobSpec is declared in the backend)."""

    def deco(fn: Handler) -> Handler:
        _HANDLERS[job_type] = fn
        return fn

    return deco


def load_handlers(extra_modules: list[str] | None = None) -> dict[str, Handler]:
    """Import every pipeline module (and ``extra_modules``) and return the handlers."""
    for name in [*PIPELINE_MODULES, *(extra_modules or [])]:
        importlib.import_module(name)
    return dict(_HANDLERS)


def get_handler(job_type: str) -> Handler:
    return _HANDLERS[job_type]
