"""Errors a job handler raises to say how its attempt ended."""

from __future__ import annotations

from typing import Any

from backend.errors import DomainError


class TransientError(DomainError):
    """Retrying may help (a timeout, a 5xx, a 429): the job is queued again with backoff."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class PermanentError(DomainError):
    """Retrying cannot help (bad input, a 4xx): the job fails at once with this reason."""


class JobCancelled(Exception):
    """The job honoured a cancel or stop request; ``result`` is kept (e.g. a resumable checkpoint)."""

    def __init__(self, message: str = "cancelled", *, result: dict[str, Any] | None = None) -> None:
        self.result = result
        super().__init__(message)
