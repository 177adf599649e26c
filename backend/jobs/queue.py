"""The Dramatiq broker the studio hands messages to: Redis, or in-process for the embedded default.

The backend only sends messages (job id only) by actor name; the actors live in ``workers/``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

import dramatiq
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker
from dramatiq.message import Message

from backend.jobs.models import QUEUES
from backend.settings import get_settings

log = logging.getLogger(__name__)
_broker: Broker | None = None
_lock = threading.Lock()


def build_broker(url: str) -> Broker:
    """A broker for ``url`` (``embedded`` or ``redis://``) with the cpu and gpu queues declared."""
    if url == "embedded":
        broker: Broker = StubBroker()
    else:
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker


def get_broker() -> Broker:
    """The process-wide broker (also set as Dramatiq's global one)."""
    global _broker
    with _lock:
        if _broker is None:
            _broker = build_broker(get_settings().broker_url)
            dramatiq.set_broker(_broker)
        return _broker


def reset_broker() -> None:
    """Forget the broker (tests switch brokers between runs)."""
    global _broker
    with _lock:
        if _broker is not None:
            try:
                _broker.close()
            except Exception:  # noqa: BLE001 - closing a dead connection is fine
                pass
        _broker = None


def send(*, job_id: str, job_type: str, queue: str, delay_s: float = 0) -> bool:
    """Hand a job's message to the broker; False (logged) when the broker refuses."""
    message = Message(queue_name=queue, actor_name=job_type, args=(job_id,), kwargs={}, options={})
    try:
        get_broker().enqueue(message, delay=int(delay_s * 1000) if delay_s > 0 else None)
        return True
    except Exception as err:  # noqa: BLE001 - any broker failure leaves the job queued for the reconciler
        log.warning("broker refused job %s (%s): %s", job_id, job_type, err)
        return False


def live_job_ids(queues: Iterable[str]) -> set[str] | None:
    """Job ids whose message the broker still holds (waiting, delayed or in flight); None when unknowable.

    Dramatiq's Redis broker keeps every message in ``{ns}:{queue}.msgs`` (and ``.DQ.msgs`` while
    delayed) until a worker acknowledges it, so a job found there needs no second message. The
    in-process broker cannot lose a message while its process lives, so it answers None.
    """
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.common import dq_name

    broker = get_broker()
    if not isinstance(broker, RedisBroker):
        return None
    found: set[str] = set()
    for queue in queues:
        for name in (queue, dq_name(queue)):
            for _message_id, data in broker.client.hscan_iter(f"{broker.namespace}:{name}.msgs", count=1000):
                try:
                    args = json.loads(data)["args"]
                except (ValueError, KeyError, TypeError):
                    continue
                if args:
                    found.add(str(args[0]))
    return found
