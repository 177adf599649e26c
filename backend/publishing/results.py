"""What a publisher reports back: published (remote id, permalink), or sent with an unknown outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backend.errors import DomainError
from backend.jobs.errors import TransientError

# log(step, outcome, detail): each publisher reports its steps here (the target's attempt log).
StepLog = Callable[[str, str, str], None]


def no_log(step: str, outcome: str, detail: str) -> None:
    return None


@dataclass(frozen=True)
class Published:
    remote_id: str | None
    permalink: str | None


class Unconfirmed(DomainError):
    """The publish request went out but its answer never came: a person must check; never resend."""


class RateLimited(TransientError):
    """The network refused for now (rate limit, daily quota); nothing was published, retry later."""
