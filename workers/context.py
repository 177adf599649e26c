"""The object a job handler reports through: throttled progress, heartbeat, cancellation, requests."""

from __future__ import annotations

import threading
import time
from typing import Any

from backend.context import Ctx, system_ctx
from backend.jobs import lifecycle
from backend.jobs.errors import JobCancelled
from backend.jobs.models import JobOut
from backend.settings import get_settings


class JobContext:
    """Handed to every handler.

    :param job: the claimed job (payload, tenant, attempt).
    :param min_interval_s: progress is written at most once per this interval; stage changes
        and the final write always go through.
    :param heartbeat_s: a background thread touches the heartbeat this often (so long steps do
        not look like a dead worker) and picks up cancel, stop and save/sample requests.
    """

    def __init__(self, job: JobOut, *, min_interval_s: float = 0.5, heartbeat_s: float | None = None) -> None:
        self.job = job
        self.job_id = job.id
        self.tenant_id = job.tenant_id
        self.payload: dict[str, Any] = dict(job.payload)
        self.attempt = job.attempts
        self.min_interval_s = min_interval_s
        self.heartbeat_s = heartbeat_s or get_settings().heartbeat_interval_s
        self.cancel_requested = job.cancel_requested
        self.stop_requested = job.stop_requested
        self._requests: set[str] = set()
        self._last_write = 0.0
        self._stage: str | None = job.stage or None
        self._pending: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ctx(self) -> Ctx:
        """A service context with full rights inside the job's workspace."""
        return system_ctx(self.tenant_id)

    # -- heartbeat ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.job_id[:8]}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self.poll()

    def poll(self) -> None:
        """Read cancel/stop flags and requests from the database now."""
        cancel, stop, requests = lifecycle.heartbeat(self.job_id, attempt=self.attempt)
        with self._lock:
            self.cancel_requested = self.cancel_requested or cancel
            self.stop_requested = self.stop_requested or stop
            self._requests.update(requests)

    # -- progress -------------------------------------------------------------------------
    def progress(
        self,
        fraction: float | None = None,
        *,
        stage: str | None = None,
        message: str | None = None,
        metrics: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        """Report progress (0..1), the stage, a message and metrics; written at most ~2/s."""
        new_stage = stage is not None and stage != self._stage
        if new_stage:
            self._stage = stage
        update = {"progress": fraction, "stage": stage, "message": message, "metrics": metrics, "new_stage": new_stage}
        with self._lock:
            if self._pending:
                # Keep a stage change that was throttled away.
                update["new_stage"] = update["new_stage"] or self._pending["new_stage"]
                for k in ("progress", "stage", "message", "metrics"):
                    if update[k] is None:
                        update[k] = self._pending[k]
            self._pending = update
        now = time.monotonic()
        if force or new_stage or now - self._last_write >= self.min_interval_s:
            self.flush()

    def flush(self) -> None:
        """Write the latest unwritten progress now."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending:
            lifecycle.write_progress(self.job_id, **pending, attempt=self.attempt)
            self._last_write = time.monotonic()

    def log(self, message: str, *, level: str = "info") -> None:
        """Add a line to the job's event log."""
        lifecycle.log_event(self.job_id, message, level=level)

    def add_cost(self, usd: float) -> None:
        """Count money spent on a paid API against this job."""
        if usd:
            lifecycle.add_cost(self.job_id, usd)

    # -- cooperation ----------------------------------------------------------------------
    def check_cancelled(self, *, result: dict[str, Any] | None = None) -> None:
        """Raise JobCancelled when a cancel was requested (call between steps)."""
        if self.cancel_requested:
            raise JobCancelled("cancelled on request", result=result)

    def take_request(self, what: str) -> bool:
        """True once for each pending ``save_now`` / ``sample_now`` request."""
        with self._lock:
            if what in self._requests:
                self._requests.discard(what)
                return True
            return False
