"""Starting workers: in the studio's own process (embedded) or as ``python -m backend worker``."""

from __future__ import annotations

import logging
import os
import signal
import threading

from dramatiq import Worker
from dramatiq.broker import Broker

from backend.db import reserve_connections
from backend.jobs.queue import get_broker
from backend.jobs.reconciler import reconcile
from backend.settings import get_settings
from workers.actors import declare_actors

log = logging.getLogger(__name__)


class _OneWorkerPerQueueNote(logging.Filter):
    """Drop Dramatiq's warning about a second worker middleware on one broker.

    The cpu and gpu queues get one ``Worker`` each (the gpu one single-threaded with prefetch 1),
    so the broker sees two ``_WorkerMiddleware`` instances by design; each only adds consumers for
    its own queues.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "middleware of the same type twice" not in record.getMessage()


for _name in ("dramatiq.broker.RedisBroker", "dramatiq.broker.StubBroker"):
    logging.getLogger(_name).addFilter(_OneWorkerPerQueueNote())
IDLE_POLL_MS = 200


class WorkerPool:
    """Dramatiq workers for the cpu and gpu queues plus a reconciler thread.

    :param queues: queues served by this process.
    :param cpu_threads: worker threads of the cpu queue.
    :param resend_all_at_start: re-send every queued job once at start (an in-process broker
        starts empty, so every message it held before a restart is gone).

    The gpu queue gets one thread and a prefetch of one: one job at a time per GPU.
    """

    def __init__(self, *, queues: set[str], cpu_threads: int, resend_all_at_start: bool = False) -> None:
        self.queues = queues
        self.cpu_threads = cpu_threads
        self.resend_all_at_start = resend_all_at_start
        self.workers: list[Worker] = []
        self._stop = threading.Event()
        self._reconciler: threading.Thread | None = None

    def start(self) -> None:
        broker = get_broker()
        extra = [m.strip() for m in os.environ.get("STUDIO_WORKER_IMPORTS", "").split(",") if m.strip()]
        declare_actors(broker, extra)
        _boot_middleware(broker)
        # A short idle poll: new jobs start sooner and stopping takes a fraction of a second.
        if "cpu" in self.queues:
            self.workers.append(Worker(broker, queues={"cpu"}, worker_threads=self.cpu_threads, worker_timeout=IDLE_POLL_MS))
        if "gpu" in self.queues:
            gpu = Worker(broker, queues={"gpu"}, worker_threads=1, worker_timeout=IDLE_POLL_MS)
            gpu.queue_prefetch = 1
            self.workers.append(gpu)
        for w in self.workers:
            w.start()
        self._reconciler = threading.Thread(target=self._reconcile_loop, name="reconciler", daemon=True)
        self._reconciler.start()
        log.info("workers started on queues %s", ",".join(sorted(self.queues)))

    def _reconcile_loop(self) -> None:
        first = True
        every = get_settings().reconcile_every_s
        while True:
            try:
                reconcile(resend_all=first and self.resend_all_at_start, queues=self.queues)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the loop
                log.exception("reconciler pass failed")
            first = False
            if self._stop.wait(every):
                return

    def stop(self, timeout_ms: int = 10_000) -> None:
        self._stop.set()
        # Stop the cpu and gpu workers side by side: each waits for its running job.
        stoppers = [threading.Thread(target=w.stop, kwargs={"timeout": timeout_ms}) for w in self.workers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        if self._reconciler is not None:
            self._reconciler.join(timeout=5)
        self.workers.clear()


def _boot_middleware(broker: Broker) -> None:
    """Emit Dramatiq's ``process_boot`` once per broker, as its own CLI does.

    Without it the TimeLimit middleware never starts its watchdog thread and time limits are
    silently not enforced.
    """
    if getattr(broker, "_studio_booted", False):
        return
    broker.emit_after("process_boot")
    broker._studio_booted = True  # type: ignore[attr-defined]


_embedded: WorkerPool | None = None
_embedded_lock = threading.Lock()


def ensure_embedded_workers() -> WorkerPool | None:
    """Start the in-process workers once per process when the broker is ``embedded``."""
    global _embedded
    settings = get_settings()
    if not settings.is_embedded_broker:
        return None
    with _embedded_lock:
        if _embedded is None:
            _embedded = WorkerPool(queues={"cpu", "gpu"}, cpu_threads=settings.embedded_cpu_threads, resend_all_at_start=True)
            _embedded.start()
            _start_embedded_scheduler()
        return _embedded


_scheduler = None  # the calendar's scheduler thread, run beside the embedded workers


def _start_embedded_scheduler() -> None:
    global _scheduler
    from backend.calendar.scheduler import SchedulerThread

    _scheduler = SchedulerThread().start()


def stop_embedded_workers() -> None:
    global _embedded, _scheduler
    with _embedded_lock:
        if _scheduler is not None:
            _scheduler.stop()
            _scheduler = None
        if _embedded is not None:
            _embedded.stop()
            _embedded = None


def connections_needed(cpu_threads: int) -> int:
    """Database connections a worker process may use at once: two per job thread (cpu + gpu), the reconciler."""
    return 2 * (cpu_threads + 1) + 1


def run_worker_process(*, queues: set[str], threads: int) -> None:
    """Serve ``queues`` until SIGTERM or SIGINT (``python -m backend worker``)."""
    # Every job thread and its heartbeat thread may hold a connection at once, plus the gpu
    # thread's pair and the reconciler: never wait on the pool for a connection.
    reserve_connections(connections_needed(threads))
    pool = WorkerPool(queues=queues, cpu_threads=threads, resend_all_at_start=get_settings().is_embedded_broker)
    done = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping workers", signum)
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    pool.start()
    done.wait()
    pool.stop()
