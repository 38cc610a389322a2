"""`engine bench`, `devices`, `keygen` and `sign`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from engine import bench, gpu, signing
from engine.cli_args import (
    EXIT_OK,
    emit,
    natural,
    u64,
)
from engine.console import rate
from engine.errors import (
    InputError,
)
from engine.receipt_files import (
    load_receipts,
    read_file,
    write_receipts,
)
from engine.registry import Registry, load_registry


def add_bench_command(commands: Any) -> None:
    p = commands.add_parser("bench", help="hash rates and validation throughput")
    p.add_argument("--backend", choices=("all", "cpu", "cuda"), default="all")
    p.add_argument(
        "--max-receipts",
        type=natural,
        default=10**7,
        help="largest validation batch (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_bench)  # fmt: skip


def add_devices_command(commands: Any) -> None:
    p = commands.add_parser("devices", help="list the NVIDIA GPUs the engine can use")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_devices)


def add_keygen_command(commands: Any) -> None:
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
        type=u64,
        default=0,
        help="first height the key signs for; retires the previous key",
    )
    p.set_defaults(run=run_keygen)  # fmt: skip


def add_sign_command(commands: Any) -> None:
    p = commands.add_parser("sign", help="sign every receipt of a file with a key")
    p.add_argument("file", type=Path)
    p.add_argument("--key", type=Path, required=True, help="private key file")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(run=run_sign)


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
    emit(report.as_dict(), args.json, _bench_text(report))
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
