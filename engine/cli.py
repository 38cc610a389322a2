"""The `engine` command line: mine, demo, validate, verify here; node in
cli_node.py; bench, devices, keygen and sign in cli_tools.py; the shared
argument types and helpers in cli_args.py.

Exit codes: 0 success; 1 a bounded search found nothing, or the receipts or
block are invalid; 2 unusable arguments or unreadable files; 130 interrupted.
Errors the user can fix print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np

from engine import (
    __version__,
    cli_node,
    cli_tools,
    pipeline,
)
from engine import target as targets
from engine.backend import select_backend
from engine.block import verify_block
from engine.cli_args import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    backend_options,
    check_devices,
    claims_closed,
    claims_for,
    emit,
    explicit_target,
    natural,
    receipt_count,
    registry_option,
    target_options,
    u64,
    write_file,
)
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
from engine.header import (
    HASH_LEN,
    SPECS,
    Algo,
    Header,
    display_hash,
    parse_display_hash,
    parse_header,
)
from engine.miner import MineOutcome, mine
from engine.node import verify_chain
from engine.receipt_files import (
    encode_receipts,
    load_receipts,
    read_file,
    write_receipts,
)
from engine.receipts import KINDS
from engine.store import Store
from engine.validation import ValidationReport, malformed

DEFAULT_COUNT: Final = 1_000
DEFAULT_HEIGHT: Final = 1
# About a few seconds on a laptop CPU for each algorithm's demo block.
DEFAULT_DIFFICULTY_BITS: Final = {Algo.BLAKE3: 25, Algo.SHA256D: 23}
BITCOIN_HEADER_LEN: Final = SPECS[Algo.SHA256D].header_len
DEFAULT_OUT: Final = Path("block.bin")


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
    cli_tools.add_bench_command(commands)
    cli_tools.add_devices_command(commands)
    cli_node.add_node_command(commands)
    cli_tools.add_keygen_command(commands)
    cli_tools.add_sign_command(commands)
    return parser


def _mine_parser(commands: Any) -> None:
    p = commands.add_parser("mine", help="validate, commit and mine a block")
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--count",
        type=receipt_count,
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
        type=u64,
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
    target_options(p)
    backend_options(p)
    p.add_argument("--nonce-start", type=natural, default=0)
    p.add_argument(
        "--nonce-count",
        type=natural,
        default=None,
        help="search only this many nonces (a bounded search)",
    )
    p.add_argument("--out", type=Path, default=None, help="default block.bin")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    registry_option(p)
    p.set_defaults(run=run_mine)  # fmt: skip


def _demo_parser(commands: Any) -> None:
    p = commands.add_parser("demo", help="write a valid demo receipts file")
    p.add_argument("--count", type=receipt_count, default=DEFAULT_COUNT)
    p.add_argument("--height", type=u64, default=DEFAULT_HEIGHT)
    p.add_argument("--out", type=Path, required=True, help="file, or - for stdout")
    p.add_argument("--format", choices=("json", "jsonl", "msgpack"), default=None,
                   help="default: from the file suffix, else json")  # fmt: skip
    p.set_defaults(run=run_demo)


def _validate_parser(commands: Any) -> None:
    p = commands.add_parser("validate", help="check a receipts file for a block height")
    p.add_argument("file", type=Path)
    p.add_argument("--height", type=u64, required=True)
    p.add_argument("--json", action="store_true")
    backend_options(p, default="cpu")
    registry_option(p)
    p.set_defaults(run=run_validate)


def _verify_parser(commands: Any) -> None:
    p = commands.add_parser("verify", help="re-check a block file, or a whole chain")
    p.add_argument("block", type=Path, nargs="?")
    p.add_argument(
        "--db", type=Path, help="verify every block and link of a node's chain"
    )
    p.add_argument("--json", action="store_true")
    registry_option(p)
    p.set_defaults(run=run_verify)


def run_mine(args: argparse.Namespace) -> int:
    check_devices(args)
    if args.header is not None:
        return _mine_raw_header(args)
    args.height = DEFAULT_HEIGHT if args.height is None else args.height
    args.out = args.out or DEFAULT_OUT
    _check_writable(args.out)
    algo = Algo(args.algo or Algo.BLAKE3)
    target = _chosen_target(args, algo)
    prev = parse_display_hash(algo, args.prev) if args.prev else bytes(HASH_LEN)

    claims = claims_for(args)
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
        write_file(args.out, block.serialize())
    leftover = _keep_leftover(args.out, cand.leftover) if block is not None else None
    summary = _mine_summary(args, cand, outcome, backend, receipts_label, leftover)
    emit(summary, args.json, _mine_text(summary))
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
    if explicit_target(args) is not None:
        header = replace(header, target=explicit_target(args))
    with select_backend(args.backend, args.devices) as backend:
        outcome = _search(backend, header, args, "searching header")
    summary = _outcome_fields(outcome, backend.name)
    summary["target"] = targets.to_hex(header.target)
    emit(summary, args.json, _header_text(summary))
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


def _check_writable(path: Path) -> None:
    """Refuse an unwritable --out before spending time on the search."""
    if path.is_dir():
        raise InputError(f"--out {path} is a folder; give a file name.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise InputError(f"cannot write {path}: {folder} is not a writable folder.")


def _chosen_target(args: argparse.Namespace, algo: Algo) -> int:
    explicit = explicit_target(args)
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
    write_file(path, leftover.body())
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
    check_devices(args)
    try:
        _, batch = load_receipts(args.file)
    except ReceiptError as exc:
        checked = malformed(exc.index, exc.field)
        _print_report(checked, None, args.json, reason=str(exc))
        return EXIT_FAILED
    backend = select_backend(args.backend, args.devices)
    with backend, claims_closed(claims_for(args)) as claims:
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
        with claims_closed(claims_for(args)) as claims:
            verified = verify_block(data, claims=claims)
    except BlockInvalid as exc:
        emit({"valid": False, "reason": str(exc)}, args.json, f"INVALID: {exc}")
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
    emit(body, args.json, text)
    return EXIT_OK


def _verify_db(args: argparse.Namespace) -> int:
    if not args.db.is_file():
        raise InputError(f"no chain database at {args.db}.")
    store = Store(args.db)
    try:
        with claims_closed(claims_for(args)) as claims:
            blocks, receipts = verify_chain(store, claims)
    except BlockInvalid as exc:
        emit({"valid": False, "reason": str(exc)}, args.json, f"INVALID: {exc}")
        return EXIT_FAILED
    finally:
        store.close()
    body = {"valid": True, "blocks": blocks, "receipts": receipts}
    emit(body, args.json, f"valid chain: {blocks:,} blocks, {receipts:,} receipts")
    return EXIT_OK


def _configure_logging(verbosity: int) -> None:
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
