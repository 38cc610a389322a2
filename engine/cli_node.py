"""`engine node`: the node loop with its store, feeds and HTTP listener."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from engine import feeds
from engine import target as targets
from engine.backend import select_backend
from engine.cli_args import (
    EXIT_OK,
    backend_options,
    claims_for,
    explicit_target,
    load_rate,
    natural,
    registry_option,
    seconds,
    target_options,
)
from engine.console import rate, table
from engine.errors import (
    InputError,
)
from engine.exporter import DEFAULT_ADDR, Exporter
from engine.feeds import FolderFeed, LoadGenerator, StdinFeed
from engine.header import (
    Algo,
)
from engine.markets import MarketQueues
from engine.metrics import NodeMetrics
from engine.node import Node, NodeConfig
from engine.store import Store

DEFAULT_LOAD: Final = 25.0
FEED_STOP_S: Final = 2.0
DEFAULT_NODE_BITS: Final = 20


def add_node_command(commands: Any) -> None:
    p = commands.add_parser("node", help="run the node: drain, validate, mine, store")
    p.add_argument("--db", type=Path, default=Path("node.db"))
    p.add_argument(
        "--metrics-addr",
        default=DEFAULT_ADDR,
        metavar="HOST:PORT",
        help="/metrics, /healthz, /summary (default %(default)s)",
    )
    p.add_argument("--algo", choices=[a.value for a in Algo], default="blake3")
    target_options(p)
    backend_options(p)
    p.add_argument(
        "--block-time",
        type=seconds,
        default=5.0,
        metavar="SECONDS",
        help="target block time for the retarget (default %(default)s)",
    )
    p.add_argument("--no-retarget", action="store_true")
    feed = p.add_mutually_exclusive_group()
    feed.add_argument(
        "--load",
        type=load_rate,
        default=DEFAULT_LOAD,
        metavar="N",
        help="generated receipts per second per market (default %(default)s)",
    )
    feed.add_argument(
        "--watch",
        type=Path,
        metavar="DIR",
        help="take receipt files dropped into DIR instead",
    )
    feed.add_argument(
        "--stdin",
        action="store_true",
        help="take JSON lines from stdin; acks go to stdout",
    )
    p.add_argument("--max-blocks", type=natural, default=None)
    p.add_argument("--json", action="store_true", help="final summary as JSON")
    registry_option(p)
    p.set_defaults(run=run_node)  # fmt: skip


def run_node(args: argparse.Namespace) -> int:
    algo = Algo(args.algo)
    explicit = explicit_target(args)
    bits = targets.HASH_BITS - explicit.bit_length() if explicit else DEFAULT_NODE_BITS
    config = NodeConfig(
        algo=algo, difficulty_bits=float(bits), block_time=args.block_time,
        retarget=not args.no_retarget, max_blocks=args.max_blocks,
    )  # fmt: skip
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    with only_node(args.db), select_backend(args.backend, args.devices) as backend:
        store = Store(args.db)
        metrics = NodeMetrics()
        queues = MarketQueues(store, metrics)
        node = Node(store, queues, backend, metrics, config, claims_for(args))
        exporter = Exporter(
            args.metrics_addr, metrics.registry, node.summary, node.alive
        )
        feed = _start_feed(args, node, stop)
        try:
            node.run(stop)
        finally:
            stop.set()
            exporter.close()
            # The feed writes to the store: let it finish before closing.
            feed.join(timeout=FEED_STOP_S)
            store.close()
    summary = node.summary()
    out = sys.stderr if args.stdin else sys.stdout
    print(
        msgspec.json.encode(summary).decode() if args.json else _node_text(summary),
        file=out,
    )
    return EXIT_OK


@contextlib.contextmanager
def only_node(db: Path) -> Iterator[None]:
    """An exclusive lock beside the database: one node per chain."""
    lock_path = db.with_name(db.name + ".lock")
    try:
        handle = lock_path.open("a")
    except OSError as exc:
        raise InputError(f"cannot use {db}: {exc.strerror}.") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{db} is in use by another engine node.") from None
        yield


def _start_feed(
    args: argparse.Namespace, node: Node, stop: threading.Event
) -> threading.Thread:
    if args.watch is not None:
        if not args.watch.is_dir():
            raise InputError(f"--watch needs a folder; {args.watch} is not one.")
        feed = FolderFeed(node.queues, args.watch, stop).run
    elif args.stdin:
        feed = StdinFeed(node.queues, stop).run
    else:
        feed = LoadGenerator(node.queues, args.load, stop).run
    return feeds.start(feed, "engine-feed")


def _node_text(s: dict[str, Any]) -> str:
    rates = ", ".join(f"{k} {rate(v)}" for k, v in s["hash_rate"].items())
    pending = ", ".join(f"{k} {v:,}" for k, v in s["pending"].items())
    return "node stopped\n" + table(
        [
            ("height", str(s["height"])),
            ("sealed", f"{s['blocks_sealed']:,} blocks, {s['receipts']:,} receipts"),
            ("rejected", f"{s['rejected']:,} receipts"),
            ("pending", pending),
            ("hash rate", rates),
        ]
    )
