"""Argument types, option groups and output helpers shared by the commands."""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgspec

from engine import target as targets
from engine.backend import BACKEND_CHOICES
from engine.claims import Claims
from engine.errors import (
    InputError,
    TargetError,
)
from engine.receipts import U64_MAX
from engine.registry import demo_registry, load_registry

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_GENERATED: Final = 1_000_000
# A block holds 10,000 receipts: more per second than that per market only
# grows the backlog (and memory) without bound.
MAX_LOAD: Final = 10_000.0


def target_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--difficulty-bits",
        type=natural,
        metavar="N",
        help="leading zero bits (default: a few seconds of work)",
    )
    group.add_argument(
        "--bits", type=compact_bits, metavar="0x1d00ffff", help="Bitcoin compact target"
    )
    group.add_argument("--target", type=hex_target, metavar="HEX64",
                       help="target as 64 hex digits")  # fmt: skip


def backend_options(p: argparse.ArgumentParser, default: str = "auto") -> None:
    p.add_argument("--backend", choices=BACKEND_CHOICES, default=default)
    p.add_argument("--devices", default=None, metavar="0,1|all",
                   help="GPUs for the cuda backend")  # fmt: skip


def registry_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registry", type=Path, metavar="FILE",
                   help="provider registry (default: the demo providers)")  # fmt: skip


def explicit_target(args: argparse.Namespace) -> int | None:
    if args.target is not None:
        return args.target
    if args.bits is not None:
        return args.bits
    if args.difficulty_bits is not None:
        return targets.from_difficulty_bits(args.difficulty_bits)
    return None


def check_devices(args: argparse.Namespace) -> None:
    if args.devices is not None and args.backend == "cpu":
        raise InputError("--devices picks GPUs; it does not apply to --backend cpu.")


def claims_for(args: argparse.Namespace) -> Claims:
    path = getattr(args, "registry", None)
    return Claims(load_registry(path) if path is not None else demo_registry())


@contextlib.contextmanager
def claims_closed(claims: Claims) -> Iterator[Claims]:
    try:
        yield claims
    finally:
        claims.close()


def emit(body: dict[str, Any], as_json: bool, text: str) -> None:
    print(msgspec.json.encode(body).decode() if as_json else text)


def write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}.") from exc


def finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def seconds(text: str) -> float:
    value = finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def load_rate(text: str) -> float:
    value = finite(text)
    if not 0 <= value <= MAX_LOAD:
        raise argparse.ArgumentTypeError(
            f"must be 0..{MAX_LOAD:,.0f} receipts per second per market, got {text}"
        )
    return value


def u64(text: str) -> int:
    value = natural(text)
    if value > U64_MAX:
        raise argparse.ArgumentTypeError(f"must be at most 2**64 - 1, got {value}")
    return value


def receipt_count(text: str) -> int:
    value = natural(text)
    if value > MAX_GENERATED:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_GENERATED:,} demo receipts (a hundred blocks' worth), "
            f"got {value:,}"
        )
    return value


def natural(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def hex_target(text: str) -> int:
    try:
        return targets.from_hex(text)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def compact_bits(text: str) -> int:
    try:
        return targets.from_compact(int(text, 16))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex number: {text!r}") from None
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
