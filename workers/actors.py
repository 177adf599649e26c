"""One thin Dramatiq actor per job type, named after it; the message carries only the job id."""

from __future__ import annotations

import dramatiq
from dramatiq.broker import Broker

from backend.jobs.specs import spec_for
from workers.registry import load_handlers
from workers.runtime import execute


def _make_actor_fn(job_type: str):  # type: ignore[no-untyped-def]
    def run(job_id: str) -> None:
        execute(job_type, job_id)

    run.__name__ = job_type.replace(".", "_")
    return run


def declare_actors(broker: Broker, extra_modules: list[str] | None = None) -> list[str]:
    """Declare an actor for every registered handler on ``broker``; returns the job types."""
    declared = []
    for job_type in load_handlers(extra_modules):
        if job_type in broker.actors:
            declared.append(job_type)
            continue
        spec = spec_for(job_type)
        dramatiq.actor(
            _make_actor_fn(job_type),
            actor_name=job_type,
            queue_name=spec.queue,
            broker=broker,
            max_retries=0,  # the job row decides about retries, not Dramatiq
            time_limit=spec.time_limit_s * 1000,
        )
        declared.append(job_type)
    return declared
