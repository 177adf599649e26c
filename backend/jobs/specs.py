"""Job types: their queue, attempt limit, time limit and backoff. Features register theirs."""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import InvalidInput


@dataclass(frozen=True)
class JobSpec:
    """How a job type runs.

    :param name: the type, also the Dramatiq actor's name (``"dataset.ingest"``).
    :param queue: ``cpu`` or ``gpu``.
    :param max_attempts: claims allowed before the job ends failed ("gave up after N attempts");
        crashes, lost workers and transient errors all use up attempts.
    :param time_limit_s: a running attempt longer than this is stopped and fails.
    :param backoff_s: the first retry's delay after a transient error; doubles each attempt.
    :param backoff_max_s: the longest delay between attempts.
    """

    name: str
    queue: str = "cpu"
    max_attempts: int = 3
    time_limit_s: int = 3600
    backoff_s: float = 2.0
    backoff_max_s: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        return min(self.backoff_max_s, self.backoff_s * (2 ** max(0, attempt - 1)))


_SPECS: dict[str, JobSpec] = {}


def register(spec: JobSpec) -> JobSpec:
    """Declare a job type (idempotent for the same spec)."""
    if spec.queue not in ("cpu", "gpu"):
        raise ValueError(f"queue {spec.queue!r} of {spec.name} is not cpu or gpu")
    _SPECS[spec.name] = spec
    return spec


def spec_for(name: str) -> JobSpec:
    """The spec of a job type, InvalidInput when unknown."""
    try:
        return _SPECS[name]
    except KeyError:
        raise InvalidInput("unknown job type", [name]) from None


def all_specs() -> dict[str, JobSpec]:
    """Every registered job type."""
    return dict(_SPECS)


# Built-in types: a trivial job (benchmarks, doctor) and a timed demo of progress and cancel.
register(JobSpec("system.noop", queue="cpu", max_attempts=1, time_limit_s=60))
register(JobSpec("system.sleep", queue="cpu", max_attempts=3, time_limit_s=3600))
