"""Domain errors. Services raise these; the UI and the CLI turn them into messages."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user may see; ``str(err)`` is the message shown."""


class NotFound(DomainError):
    """The object does not exist, or belongs to another workspace (never 'forbidden')."""

    def __init__(self, kind: str, ident: object = None) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} not found" if ident is None else f"{kind} {ident} not found")


class PermissionDenied(DomainError):
    """The caller's role may not do this inside its own workspace."""


class InvalidInput(DomainError):
    """Input that can never succeed as given; ``reasons`` lists every problem found."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        self.reasons = reasons or [message]
        super().__init__(message if not reasons else f"{message}: " + "; ".join(reasons))


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate name, a finished job)."""
