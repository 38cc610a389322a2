"""Where a node's receipts come from: a load generator, a folder, stdin.

Each feed runs in its own daemon thread, submits through MarketQueues (so a
receipt is acknowledged only once it is durable) and stops when the node's
stop event is set. Bad input is counted and reported, never fatal.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Final, TextIO

import msgspec

from engine.demo import demo_receipt
from engine.errors import EngineError, ReceiptError
from engine.markets import MarketQueues
from engine.metrics import MARKETS
from engine.receipt_files import is_msgpack, parse_json, parse_record, read_file
from engine.receipts import Receipt

log = logging.getLogger("engine")

LOAD_TICK: Final = 0.1
WATCH_EVERY: Final = 0.5
RECEIPT_SUFFIXES: Final = (".json", ".jsonl", ".msgpack", ".mpk")


def start(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


class LoadGenerator:
    """`rate` valid receipts per second per market, stamped for the open block."""

    def __init__(
        self, queues: MarketQueues, rate: float, stop: threading.Event, seed: int = 7
    ) -> None:
        self._queues, self._rate = queues, rate
        self._stop, self._rng = stop, random.Random(seed)
        self._serial = 0
        self._owed = 0.0

    def run(self) -> None:
        while not self._stop.wait(LOAD_TICK):
            self._owed += self._rate * LOAD_TICK
            count = int(self._owed)
            self._owed -= count
            if count:
                self._queues.submit_stamped(partial(self._batch, count))

    def _batch(self, per_market: int, height: int) -> list[Receipt]:
        batch = []
        for kind in range(len(MARKETS)):
            for _ in range(per_market):
                self._serial += 1
                batch.append(demo_receipt(self._rng, kind, self._serial, height))
        return batch


class FolderFeed:
    """Receipt files dropped into a folder; each moves to processed/ once it is
    durable, or to rejected/ (with a .why file) when it does not decode."""

    def __init__(
        self, queues: MarketQueues, folder: Path, stop: threading.Event
    ) -> None:
        self._queues, self._folder, self._stop = queues, folder, stop
        self._done = folder / "processed"
        self._bad = folder / "rejected"
        self._done.mkdir(exist_ok=True)
        self._bad.mkdir(exist_ok=True)

    def run(self) -> None:
        while not self._stop.is_set():
            for path in sorted(self._folder.iterdir()):
                if path.is_file() and path.suffix in RECEIPT_SUFFIXES:
                    self._take(path)
            self._stop.wait(WATCH_EVERY)

    def _take(self, path: Path) -> None:
        """Submit one file; the queues count what fails to decode or encode."""
        try:
            seqs = self._submit(path)
        except EngineError as exc:
            log.warning("rejected %s: %s", path.name, exc)
            (self._bad / (path.name + ".why")).write_text(f"{exc}\n")
            path.replace(self._bad / path.name)
            return
        path.replace(self._done / path.name)
        log.info("accepted %s: %d receipts", path.name, len(seqs))

    def _submit(self, path: Path) -> list[int]:
        data = read_file(path)
        if is_msgpack(path, data):
            return self._queues.submit_encoded(data)
        return self._queues.submit(self._queues.parse(lambda: parse_json(data)))


class StdinFeed:
    """JSON lines on stdin, one receipt each; acks go to stdout as JSON lines:
    {"line": n, "seq": s} once durable, {"line": n, "error": "..."} when not."""

    def __init__(
        self, queues: MarketQueues, stop: threading.Event, source: TextIO | None = None
    ) -> None:
        self._queues, self._stop = queues, stop
        self._source = source or sys.stdin

    def run(self) -> None:
        for number, line in enumerate(self._source, 1):
            if self._stop.is_set():
                return
            if line.strip():
                self._ack(number, line)

    def _ack(self, number: int, line: str) -> None:
        try:
            receipt = self._queues.parse(lambda: parse_record(number - 1, line))
            (seq,) = self._queues.submit([receipt])
            reply: dict[str, object] = {"line": number, "seq": seq}
        except ReceiptError as exc:
            reply = {"line": number, "error": str(exc)}
        print(msgspec.json.encode(reply).decode(), flush=True)
