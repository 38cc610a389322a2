"""The `engine` command line: mine, demo, validate, verify.

Exit codes: 0 success; 1 a bounded search found nothing, or the receipts or
block are invalid; 2 unusable arguments or unreadable files; 130 interrupted.
Errors the user can fix print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np

from engine import __version__, bench, feeds, gpu, pipeline, signing
from engine import target as targets
from engine.backend import BACKEND_CHOICES, select_backend
from engine.block import verify_block
from engine.claims import Claims
from engine.console import ProgressLine, rate, table
from engine.demo import demo_receipts
from engine.encoding import EncodedBatch, HostAlloc, encode_batch
from engine.errors import (
    BackendUnavailable,
    BlockInvalid,
    EngineError,
    InputError,
    InvalidReceipts,
    ReceiptError,
    TargetError,
)
from engine.exporter import DEFAULT_ADDR, Exporter
from engine.feeds import FolderFeed, LoadGenerator, StdinFeed
from engine.header import (
    HASH_LEN,
    SPECS,
    Algo,
    Header,
    display_hash,
    parse_display_hash,
    parse_header,
)
from engine.markets import MarketQueues
from engine.metrics import NodeMetrics
from engine.miner import MineOutcome, mine
from engine.node import Node, NodeConfig, verify_chain
from engine.receipt_files import (
    encode_receipts,
    load_receipts,
    read_file,
    write_receipts,
)
from engine.receipts import KINDS, U64_MAX
from engine.registry import Registry, demo_registry, load_registry
from engine.store import Store
from engine.validation import ValidationReport, malformed

log = logging.getLogger("engine")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_COUNT: Final = 1_000
DEFAULT_HEIGHT: Final = 1
# About a few seconds on a laptop CPU for each algorithm's demo block.
DEFAULT_DIFFICULTY_BITS: Final = {Algo.BLAKE3: 25, Algo.SHA256D: 23}
BITCOIN_HEADER_LEN: Final = SPECS[Algo.SHA256D].header_len
DEFAULT_LOAD: Final = 25.0
DEFAULT_OUT: Final = Path("block.bin")
MAX_GENERATED: Final = 1_000_000
# A block holds 10,000 receipts: more per second than that per market only
# grows the backlog (and memory) without bound.
MAX_LOAD: Final = 10_000.0
FEED_STOP_S: Final = 2.0
DEFAULT_NODE_BITS: Final = 20


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return args.run(args)
    except (InputError, TargetError, BackendUnavailable) as exc:
        print(f"engine: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nengine: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`engine ... | head`): stop quietly, and keep
        # Python from complaining while it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engine",
        description="Validate market receipts, commit them and mine a block.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v for INFO, -vv for DEBUG"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _mine_parser(commands)
    _demo_parser(commands)
    _validate_parser(commands)
    _verify_parser(commands)
    _bench_parser(commands)
    _devices_parser(commands)
    _node_parser(commands)
    _keygen_parser(commands)
    _sign_parser(commands)
    return parser


def _mine_parser(commands: Any) -> None:
    p = commands.add_parser("mine", help="validate, commit and mine a block")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--count",
        type=_count,
        default=DEFAULT_COUNT,
        help="demo receipts to generate (default %(default)s)",
    )
    source.add_argument(
        "--receipts",
        type=Path,
        metavar="FILE",
        help="receipts file: JSON array, JSON lines or msgpack",
    )
    source.add_argument(
        "--header", metavar="HEX80", help="search a raw 80-byte Bitcoin header instead"
    )
    p.add_argument(
        "--height",
        type=_u64,
        default=None,
        help=f"block height (default {DEFAULT_HEIGHT})",
    )
    p.add_argument("--prev", metavar="HEX", help="previous block hash (default zeros)")
    p.add_argument(
        "--algo",
        choices=[a.value for a in Algo],
        default=None,
        help="proof-of-work hash (default blake3)",
    )
    _target_options(p)
    _backend_options(p)
    p.add_argument("--nonce-start", type=_natural, default=0)
    p.add_argument(
        "--nonce-count",
        type=_natural,
        default=None,
        help="search only this many nonces (a bounded search)",
    )
    p.add_argument("--out", type=Path, default=None, help="default block.bin")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    _registry_option(p)
    p.set_defaults(run=run_mine)  # fmt: skip


def _target_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--difficulty-bits",
        type=_natural,
        metavar="N",
        help="leading zero bits (default: a few seconds of work)",
    )
    group.add_argument(
        "--bits", type=_compact, metavar="0x1d00ffff", help="Bitcoin compact target"
    )
    group.add_argument("--target", type=_hex_target, metavar="HEX64",
                       help="target as 64 hex digits")  # fmt: skip


def _backend_options(p: argparse.ArgumentParser, default: str = "auto") -> None:
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=default)
    p.add_argument("--devices", default=None, metavar="0,1|all",
                   help="GPUs for the cuda backend")  # fmt: skip


def _demo_parser(commands: Any) -> None:
    p = commands.add_parser("demo", help="write a valid demo receipts file")
    p.add_argument("--count", type=_count, default=DEFAULT_COUNT)
    p.add_argument("--height", type=_u64, default=DEFAULT_HEIGHT)
    p.add_argument("--out", type=Path, required=True, help="file, or - for stdout")
    p.add_argument("--format", choices=("json", "jsonl", "msgpack"), default=None,
                   help="default: from the file suffix, else json")  # fmt: skip
    p.set_defaults(run=run_demo)


def _validate_parser(commands: Any) -> None:
    p = commands.add_parser("validate", help="check a receipts file for a block height")
    p.add_argument("file", type=Path)
    p.add_argument("--height", type=_u64, required=True)
    p.add_argument("--json", action="store_true")
    _backend_options(p, default="cpu")
    _registry_option(p)
    p.set_defaults(run=run_validate)


def _verify_parser(commands: Any) -> None:
    p = commands.add_parser("verify", help="re-check a block file, or a whole chain")
    p.add_argument("block", type=Path, nargs="?")
    p.add_argument(
        "--db", type=Path, help="verify every block and link of a node's chain"
    )
    p.add_argument("--json", action="store_true")
    _registry_option(p)
    p.set_defaults(run=run_verify)


def _registry_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", type=Path, metavar="FILE",
                   help="provider registry (default: the demo providers)")  # fmt: skip


def _keygen_parser(commands: Any) -> None:
    p = commands.add_parser("keygen", help="make a provider signing key")
    p.add_argument("--provider", required=True, help="provider or publisher id")
    p.add_argument("--out", type=Path, required=True, help="private key file (new)")
    p.add_argument(
        "--registry",
        type=Path,
        metavar="FILE",
        help="add the public key to this registry (made if absent)",
    )
    p.add_argument(
        "--from-height",
        type=_u64,
        default=0,
        help="first height the key signs for; retires the previous key",
    )
    p.set_defaults(run=run_keygen)  # fmt: skip


def _sign_parser(commands: Any) -> None:
    p = commands.add_parser("sign", help="sign every receipt of a file with a key")
    p.add_argument("file", type=Path)
    p.add_argument("--key", type=Path, required=True, help="private key file")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=run_sign)


def _node_parser(commands: Any) -> None:
    p = commands.add_parser("node", help="run the node: drain, validate, mine, store")
    p.add_argument("--db", type=Path, default=Path("node.db"))
    p.add_argument(
        "--metrics-addr",
        default=DEFAULT_ADDR,
        metavar="HOST:PORT",
        help="/metrics, /healthz, /summary (default %(default)s)",
    )
    p.add_argument("--algo", choices=[a.value for a in Algo], default="blake3")
    _target_options(p)
    _backend_options(p)
    p.add_argument(
        "--block-time",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="target block time for the retarget (default %(default)s)",
    )
    p.add_argument("--no-retarget", action="store_true")
    feed = p.add_mutually_exclusive_group()
    feed.add_argument(
        "--load",
        type=_load,
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
    p.add_argument("--max-blocks", type=_natural, default=None)
    p.add_argument("--json", action="store_true", help="final summary as JSON")
    _registry_option(p)
    p.set_defaults(run=run_node)  # fmt: skip


def _bench_parser(commands: Any) -> None:
    p = commands.add_parser("bench", help="hash rates and validation throughput")
    p.add_argument("--backend", choices=("all", "cpu", "cuda"), default="all")
    p.add_argument(
        "--max-receipts",
        type=_natural,
        default=10**7,
        help="largest validation batch (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_bench)  # fmt: skip


def _devices_parser(commands: Any) -> None:
    p = commands.add_parser("devices", help="list the NVIDIA GPUs the engine can use")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_devices)


def run_mine(args: argparse.Namespace) -> int:
    _check_devices(args)
    if args.header is not None:
        return _mine_raw_header(args)
    args.height = DEFAULT_HEIGHT if args.height is None else args.height
    args.out = args.out or DEFAULT_OUT
    _check_writable(args.out)
    algo = Algo(args.algo or Algo.BLAKE3)
    target = _chosen_target(args, algo)
    prev = parse_display_hash(algo, args.prev) if args.prev else bytes(HASH_LEN)

    claims = _claims(args)
    with claims_closed(claims), select_backend(args.backend, args.devices) as backend:
        try:
            receipts_label, batch = _mine_input(args, backend.host_alloc())
        except ReceiptError as exc:
            _print_report(malformed(exc.index, exc.field), None, args.json, str(exc))
            return EXIT_FAILED
        try:
            cand = pipeline.candidate(
                batch, backend, algo, args.height, prev, target, claims=claims
            )
        except InvalidReceipts as exc:
            _print_report(exc.report, batch, args.json)
            return EXIT_FAILED
        outcome = _search(backend, cand.header, args, f"mining block {args.height}")

    block = pipeline.seal(cand, outcome) if outcome.found else None
    if block is not None:
        _write(args.out, block.serialize())
    leftover = _keep_leftover(args.out, cand.leftover) if block is not None else None
    summary = _mine_summary(args, cand, outcome, backend, receipts_label, leftover)
    _emit(summary, args.json, _mine_text(summary))
    return EXIT_OK if block is not None else EXIT_FAILED


def _mine_input(
    args: argparse.Namespace, alloc: HostAlloc | None
) -> tuple[str, EncodedBatch]:
    """The batch, encoded once into the backend's memory (pinned on a GPU)."""
    if args.receipts is None:
        receipts = demo_receipts(args.count, args.height)
        return f"demo, {args.count:,}", encode_batch(receipts, alloc)
    _, batch = load_receipts(args.receipts, alloc)
    return str(args.receipts), batch


def _search(
    backend: Any, header: Header, args: argparse.Namespace, label: str
) -> MineOutcome:
    show = not args.quiet and not (args.json and not sys.stderr.isatty())
    line = ProgressLine(label) if show else None
    try:
        return mine(backend, header, args.nonce_start, args.nonce_count, progress=line)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    finally:
        if line is not None:
            line.finish()


def _mine_raw_header(args: argparse.Namespace) -> int:
    if args.algo not in (None, Algo.SHA256D):
        raise InputError(
            "--header takes a Bitcoin header, which is mined with sha256d."
        )
    unused = [f"--{name}" for name in ("out", "height", "prev") if getattr(args, name)]
    if unused:
        raise InputError(f"--header searches a header only; drop {', '.join(unused)}.")
    try:
        raw = bytes.fromhex(args.header)
    except ValueError:
        raise InputError("--header must be hexadecimal.") from None
    if len(raw) != BITCOIN_HEADER_LEN:
        raise InputError(
            f"--header must be {BITCOIN_HEADER_LEN} bytes, got {len(raw)}."
        )
    header = parse_header(Algo.SHA256D, raw)
    if _explicit_target(args) is not None:
        header = replace(header, target=_explicit_target(args))
    with select_backend(args.backend, args.devices) as backend:
        outcome = _search(backend, header, args, "searching header")
    summary = _outcome_fields(outcome, backend.name)
    summary["target"] = targets.to_hex(header.target)
    _emit(summary, args.json, _header_text(summary))
    return EXIT_OK if outcome.found else EXIT_FAILED


def _header_text(s: dict[str, Any]) -> str:
    if s["nonce"] is None:
        head = f"no winning nonce in the range ({s['hashes']:,} nonces tried)"
    else:
        head = f"found nonce {s['nonce']:,}"
    rows = [
        ("hash", s["hash"] or "-"),
        ("target", s["target"]),
        ("search", f"{s['hashes']:,} hashes in {s['seconds']:.2f} s "
                   f"({rate(s['hash_rate'])}) on {s['backend']}"),
    ]  # fmt: skip
    return head + "\n" + table(rows)


def _check_devices(args: argparse.Namespace) -> None:
    if args.devices is not None and args.backend == "cpu":
        raise InputError("--devices picks GPUs; it does not apply to --backend cpu.")


def _check_writable(path: Path) -> None:
    """Refuse an unwritable --out before spending time on the search."""
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give a file name.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InputError(f"cannot write {path}: {folder} is not a writable folder.")


def _explicit_target(args: argparse.Namespace) -> int | None:
    if args.target is not None:
        return args.target
    if args.bits is not None:
        return args.bits
    if args.difficulty_bits is not None:
        return targets.from_difficulty_bits(args.difficulty_bits)
    return None


def _chosen_target(args: argparse.Namespace, algo: Algo) -> int:
    explicit = _explicit_target(args)
    if explicit is not None:
        return explicit
    return targets.from_difficulty_bits(DEFAULT_DIFFICULTY_BITS[algo])


def _outcome_fields(outcome: MineOutcome, backend: str) -> dict[str, Any]:
    found = outcome.found
    algo = outcome.header.algo
    return {
        "nonce": outcome.header.nonce if found else None,
        "hash": display_hash(algo, outcome.digest) if outcome.digest else None,
        "hashes": outcome.hashes,
        "seconds": round(outcome.seconds, 6),
        "hash_rate": round(outcome.rate, 1),
        "algo": str(algo),
        "backend": backend,
        "timestamp_moves": outcome.rollovers,
    }


def _mine_summary(
    args: argparse.Namespace,
    cand: pipeline.Candidate,
    outcome: MineOutcome,
    backend: Any,
    label: str,
    leftover: Path | None,
) -> dict[str, Any]:
    summary = _outcome_fields(outcome, backend.name)
    header = outcome.header
    counts = {spec.name: 0 for spec in KINDS}
    for code, n in zip(*_kind_counts(cand.batch), strict=True):
        counts[KINDS[code].name] = n
    summary.update(
        height=header.height,
        receipts=cand.batch.count,
        by_type=counts,
        bytes=cand.batch.nbytes,
        root=header.receipts_root.hex(),
        target=targets.to_hex(header.target),
        target_zero_bits=targets.leading_zero_bits(header.target),
        timestamp_ms=header.timestamp_ms,
        source=label,
        device=backend.device,
        out=str(args.out) if outcome.found else None,
        pending=cand.leftover.count if cand.leftover is not None else 0,
        pending_file=str(leftover) if leftover else None,
    )
    return summary


def _kind_counts(batch: EncodedBatch) -> tuple[list[int], list[int]]:
    codes, counts = np.unique(batch.columns.kind, return_counts=True)
    return [int(c) for c in codes], [int(n) for n in counts]


def _mine_text(s: dict[str, Any]) -> str:
    if s["nonce"] is None:
        head = f"no winning nonce in the range ({s['hashes']:,} nonces tried)"
    else:
        head = f"sealed block {s['height']} -> {s['out']}"
    by_type = ", ".join(f"{k} {v:,}" for k, v in s["by_type"].items())
    rows = [
        ("algo", f"{s['algo']} on {s['backend']} ({s['device']})"),
        ("receipts", f"{s['receipts']:,} ({by_type}) from {s['source']}"),
        ("encoded", f"{s['bytes']:,} B"),
        ("root", s["root"]),
        (
            "target",
            f"{s['target']} ({s['target_zero_bits']} zero bits)",
        ),
        ("hash", s["hash"] or "-"),
        ("nonce", f"{s['nonce']:,}" if s["nonce"] is not None else "-"),
        (
            "search",
            f"{s['hashes']:,} hashes in {s['seconds']:.2f} s ({rate(s['hash_rate'])})",
        ),
    ]
    if s["pending"]:
        rows.append(
            ("pending", f"{s['pending']:,} receipts did not fit -> {s['pending_file']}")
        )
    return head + "\n" + table(rows)


def _keep_leftover(out: Path, leftover: EncodedBatch | None) -> Path | None:
    """Receipts that passed a budget are written next to the block, not lost."""
    if leftover is None:
        return None
    path = out.with_name(out.name + ".pending.msgpack")
    _write(path, leftover.body())
    return path


def run_demo(args: argparse.Namespace) -> int:
    fmt = args.format or {
        ".msgpack": "msgpack",
        ".mpk": "msgpack",
        ".jsonl": "jsonl",
    }.get(args.out.suffix, "json")
    receipts = demo_receipts(args.count, args.height)
    if str(args.out) == "-":
        sys.stdout.buffer.write(encode_receipts(receipts, fmt))
        sys.stdout.flush()
        return EXIT_OK
    size = write_receipts(args.out, receipts, fmt)
    print(
        f"wrote {args.count:,} {fmt} receipts for height {args.height} "
        f"to {args.out} ({size:,} B)"
    )
    return EXIT_OK


def run_validate(args: argparse.Namespace) -> int:
    _check_devices(args)
    try:
        _, batch = load_receipts(args.file)
    except ReceiptError as exc:
        checked = malformed(exc.index, exc.field)
        _print_report(checked, None, args.json, reason=str(exc))
        return EXIT_FAILED
    backend = select_backend(args.backend, args.devices)
    with backend, claims_closed(_claims(args)) as claims:
        checked = pipeline.validate(batch, args.height, backend, claims)
    _print_report(checked, batch, args.json)
    return EXIT_OK if checked.valid else EXIT_FAILED


def _print_report(
    checked: ValidationReport,
    batch: EncodedBatch | None,
    as_json: bool,
    reason: str = "",
) -> None:
    count = batch.count if batch is not None else 0
    nbytes = batch.nbytes if batch is not None else 0
    errors = [msgspec.structs.asdict(e) for e in checked.errors]
    body = {"valid": checked.valid, "count": count, "bytes": nbytes, "errors": errors}
    if reason:
        body["reason"] = reason
    if as_json:
        print(msgspec.json.encode(body).decode())
        return
    verdict = "valid" if checked.valid else f"INVALID: {len(errors):,} error(s)"
    print(f"{count:,} receipts, {nbytes:,} B: {verdict}")
    if reason:
        print(f"  {reason}")
    for e in checked.errors[:20]:
        where = "-" if e.index is None else e.index
        print(f"  receipt {where}: {e.field}: {e.rule}")
    if len(errors) > 20:
        print(f"  ... and {len(errors) - 20:,} more (use --json for all)")


def run_verify(args: argparse.Namespace) -> int:
    if (args.block is None) == (args.db is None):
        raise InputError("verify takes a block file or --db PATH (one of them).")
    if args.db is not None:
        return _verify_db(args)
    data = read_file(args.block)
    try:
        with claims_closed(_claims(args)) as claims:
            verified = verify_block(data, claims=claims)
    except BlockInvalid as exc:
        _emit({"valid": False, "reason": str(exc)}, args.json, f"INVALID: {exc}")
        return EXIT_FAILED
    header = verified.block.header
    body = {
        "valid": True,
        "height": header.height,
        "algo": str(header.algo),
        "receipts": verified.batch.count,
        "bytes": verified.batch.nbytes,
        "hash": display_hash(header.algo, verified.digest),
        "nonce": header.nonce,
        "root": header.receipts_root.hex(),
    }
    text = (
        f"valid block {header.height}: {verified.batch.count:,} receipts, "
        f"hash {body['hash']}"
    )
    _emit(body, args.json, text)
    return EXIT_OK


def _verify_db(args: argparse.Namespace) -> int:
    if not args.db.is_file():
        raise InputError(f"no chain database at {args.db}.")
    store = Store(args.db)
    try:
        with claims_closed(_claims(args)) as claims:
            blocks, receipts = verify_chain(store, claims)
    except BlockInvalid as exc:
        _emit({"valid": False, "reason": str(exc)}, args.json, f"INVALID: {exc}")
        return EXIT_FAILED
    finally:
        store.close()
    body = {"valid": True, "blocks": blocks, "receipts": receipts}
    _emit(body, args.json, f"valid chain: {blocks:,} blocks, {receipts:,} receipts")
    return EXIT_OK


def run_node(args: argparse.Namespace) -> int:
    algo = Algo(args.algo)
    explicit = _explicit_target(args)
    bits = targets.HASH_BITS - explicit.bit_length() if explicit else DEFAULT_NODE_BITS
    config = NodeConfig(
        algo=algo, difficulty_bits=float(bits), block_time=args.block_time,
        retarget=not args.no_retarget, max_blocks=args.max_blocks,
    )  # fmt: skip
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    with _only_node(args.db), select_backend(args.backend, args.devices) as backend:
        store = Store(args.db)
        metrics = NodeMetrics()
        queues = MarketQueues(store, metrics)
        node = Node(store, queues, backend, metrics, config, _claims(args))
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
def _only_node(db: Path) -> Iterator[None]:
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


def run_bench(args: argparse.Namespace) -> int:
    sizes = [10**k for k in range(3, 8) if 10**k <= max(args.max_receipts, 1_000)]
    backends = bench.default_backends(args.backend)
    note = (
        (lambda text: print(f"  {text} ...", file=sys.stderr))
        if not args.json
        else None
    )
    try:
        report = bench.run_bench(backends, sizes, note or (lambda _: None))
    finally:
        for backend in backends:
            backend.close()
    _emit(report.as_dict(), args.json, _bench_text(report))
    return EXIT_OK


def _bench_text(report: bench.BenchReport) -> str:
    lines = [f"engine bench, {report.date}, {report.machine}"]
    lines += [f"  {name}: {device}" for name, device in report.devices.items()]
    lines.append("\nsearch     backend   rate          plain loop    ratio")
    for s in report.search:
        lines.append(
            f"{s.algo:<10} {s.backend:<9} {rate(s.hashes_per_s):<13} "
            f"{rate(s.plain_hashes_per_s):<13} {s.ratio:,.1f}x"
        )
    lines.append("\nvalidation backend   receipts      receipts/s    GB/s     of peak")
    for v in report.validation:
        share = (
            f"{v.bandwidth_fraction:.0%}" if v.bandwidth_fraction is not None else "-"
        )
        lines.append(
            f"{'':<10} {v.backend:<9} {v.receipts:<13,} {v.receipts_per_s:<13,.0f} "
            f"{v.bytes_per_s / 1e9:<8.2f} {share}"
        )
    return "\n".join(lines)


def run_devices(args: argparse.Namespace) -> int:
    found = gpu.list_devices()
    if args.json:
        reason = gpu.unavailable_reason()
        devices = [dataclasses.asdict(d) for d in found]
        print(msgspec.json.encode({"devices": devices, "reason": reason}).decode())
        return EXIT_OK
    if not found:
        print(f"no GPU the engine can use: {gpu.unavailable_reason()}")
        return EXIT_OK
    for d in found:
        print(
            f"GPU {d.index}: {d.name}, {d.memory_bytes / 2**30:.0f} GiB, "
            f"compute capability {d.compute_capability}, {d.multiprocessors} SMs"
        )
    return EXIT_OK


def run_keygen(args: argparse.Namespace) -> int:
    key = signing.new_key()
    public = key.verify_key.encode().hex()
    # The registry is checked before the key file exists, so a refusal
    # leaves nothing behind.
    registry = None
    if args.registry is not None:
        registry = (
            load_registry(args.registry) if args.registry.exists() else Registry([])
        )
        registry.add_key(args.provider, public, args.from_height)
    try:
        with args.out.open("x") as handle:
            os.chmod(args.out, 0o600)
            handle.write(bytes(key).hex() + "\n")
    except FileExistsError:
        raise InputError(
            f"{args.out} exists; a key file is never overwritten."
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write {args.out}: {exc.strerror}.") from exc
    if registry is not None:
        registry.save(args.registry)
        where = f"added to {args.registry}"
    else:
        where = "not registered anywhere (use --registry FILE)"
    print(f"{args.provider}: public key {public}, {where}; private key in {args.out}")
    return EXIT_OK


def run_sign(args: argparse.Namespace) -> int:
    protected = {args.key.resolve(), args.file.resolve()}
    if args.out.resolve() in protected:
        raise InputError(f"--out {args.out} is the key or the input; give a new file.")
    try:
        seed = bytes.fromhex(read_file(args.key).decode().strip())
        key = signing.key_from_seed(seed)
    except (ValueError, UnicodeDecodeError, TypeError):
        raise InputError(
            f"{args.key} is not a key file made by engine keygen."
        ) from None
    receipts, _ = load_receipts(args.file)
    signed = [signing.sign(r, key) for r in receipts]
    fmt = "msgpack" if args.out.suffix in (".msgpack", ".mpk") else "json"
    write_receipts(args.out, signed, fmt)
    print(f"signed {len(signed):,} receipts into {args.out}")
    return EXIT_OK


def _claims(args: argparse.Namespace) -> Claims:
    path = getattr(args, "registry", None)
    return Claims(load_registry(path) if path is not None else demo_registry())


@contextlib.contextmanager
def claims_closed(claims: Claims) -> Iterator[Claims]:
    try:
        yield claims
    finally:
        claims.close()


def _emit(body: dict[str, Any], as_json: bool, text: str) -> None:
    print(msgspec.json.encode(body).decode() if as_json else text)


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}.") from exc


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _seconds(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _load(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= MAX_LOAD:
        raise argparse.ArgumentTypeError(
            f"must be 0..{MAX_LOAD:,.0f} receipts per second per market, got {text}"
        )
    return value


def _u64(text: str) -> int:
    value = _natural(text)
    if value > U64_MAX:
        raise argparse.ArgumentTypeError(f"must be at most 2**64 - 1, got {value}")
    return value


def _count(text: str) -> int:
    value = _natural(text)
    if value > MAX_GENERATED:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_GENERATED:,} demo receipts (a hundred blocks' worth), "
            f"got {value:,}"
        )
    return value


def _natural(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _hex_target(text: str) -> int:
    try:
        return targets.from_hex(text)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _compact(text: str) -> int:
    try:
        return targets.from_compact(int(text, 16))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex number: {text!r}") from None
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _configure_logging(verbosity: int) -> None:
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
