"""Feeds: the load generator, a watched folder, and stdin with acks."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.demo import demo_receipts
from engine.feeds import FolderFeed, LoadGenerator, StdinFeed
from engine.markets import MarketQueues
from engine.metrics import NodeMetrics
from engine.receipt_files import receipt_to_json, write_receipts
from engine.store import Store


@pytest.fixture
def queues(tmp_path: Path) -> MarketQueues:
    return MarketQueues(Store(tmp_path / "chain.db"), NodeMetrics())


def eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not check():
        time.sleep(0.05)
    return check()


def test_load_generator_feeds_every_market(queues: MarketQueues) -> None:
    stop = threading.Event()
    threading.Thread(target=LoadGenerator(queues, 50, stop).run, daemon=True).start()
    assert eventually(lambda: min(queues.pending_counts().values()) >= 5)
    stop.set()


def test_folder_files_move_once_durable(queues: MarketQueues, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_receipts(inbox / "a.json", demo_receipts(8, 0))
    (inbox / "b.json").write_text("[{]")
    stop = threading.Event()
    threading.Thread(target=FolderFeed(queues, inbox, stop).run, daemon=True).start()
    assert eventually(lambda: (inbox / "processed" / "a.json").exists())
    assert eventually(lambda: (inbox / "rejected" / "b.json.why").exists())
    stop.set()
    assert sum(queues.pending_counts().values()) == 8
    assert (
        queues.metrics.registry.get_sample_value("receipt_decoding_failures_total") == 1
    )


def test_stdin_acks_each_durable_line(
    queues: MarketQueues, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.dumps(receipt_to_json(demo_receipts(1, 0)[0]))
    StdinFeed(queues, threading.Event(), io.StringIO(f"{good}\nnot json\n")).run()
    replies = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert replies[0] == {"line": 1, "seq": 1}
    assert replies[1]["line"] == 2 and "error" in replies[1]
