"""Run an iterator in a background thread a few items ahead of its consumer.

Decoding (PyAV) and per-frame OpenCV work release the GIL, so producing the next frames in a
thread overlaps them with whatever the consumer does. The queue is bounded, so memory is too.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterator[T], depth: int, name: str = "vidcolor-prefetch") -> Iterator[T]:
    """Yield ``items`` produced by a daemon thread up to ``depth`` items ahead.

    An exception in the producer is re-raised in the consumer, after the items before it.
    Closing the returned generator (an error or Ctrl-C in the consumer) stops the producer and
    closes ``items``.

    >>> list(prefetch(iter(range(5)), depth=2))
    [0, 1, 2, 3, 4]
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                buffer.get(timeout=0.05)
        worker.join()
