"""The training job type (imported by the service that submits and the handler that runs it)."""

from backend.jobs.specs import JobSpec, register

TRAINING_JOB = "training.lora"
# One run at a time per GPU; a crash or a lost worker resumes from the last checkpoint, so a
# few attempts are worth it; a long run on a real model may take many hours.
register(JobSpec(TRAINING_JOB, queue="gpu", max_attempts=3, time_limit_s=48 * 3600, backoff_s=5.0, backoff_max_s=120.0))
