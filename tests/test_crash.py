"""Crash safety: SIGKILL the node at random moments, many times, and restart.

A producer feeds receipts on stdin and records which the node acknowledged
(an ack is printed only after the receipt is committed). After every kill
and restart, each acknowledged receipt must sit in exactly one place: a
block, the pending table, or the rejected table (with the rule it broke);
no receipt may be in two blocks, and the chain must verify.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import msgspec

from engine.block import parse_block
from engine.encoding import decode_batch
from engine.node import verify_chain
from engine.receipt_files import receipt_to_json
from engine.receipts import Receipt, StorageReceipt
from engine.registry import demo_key
from engine.signing import sign
from engine.store import Store

ROUNDS = 8
SEED = 20261203
NODE = [
    sys.executable, "-m", "engine", "node", "--stdin", "--backend", "cpu",
    "--difficulty-bits", "20", "--no-retarget", "--metrics-addr", "127.0.0.1:0",
]  # fmt: skip
ONE = msgspec.msgpack.Decoder(Receipt)
SIGNER = "prov-00"  # a provider of the built-in demo registry


def receipt(serial: int, height: int) -> str:
    r = StorageReceipt(
        contract_id=f"c{serial}", provider=SIGNER, bytes=1, price=1,
        block_height=height, provider_escrow=0, provider_signature=b"",
        signature_nonce=serial,
    )  # fmt: skip
    return json.dumps(receipt_to_json(sign(r, demo_key(SIGNER))))


class Producer:
    """Writes receipts for the open height; collects the node's acks."""

    def __init__(self, proc: subprocess.Popen[str], db: Path, first: int) -> None:
        self.proc, self.db, self.serial = proc, db, first
        self.sent: list[str] = []
        self.acked: set[str] = set()

    def write(self) -> None:
        try:
            while self.proc.poll() is None:
                self.serial += 1
                self.sent.append(f"c{self.serial}")
                # The node is mining the block after its tip: aim at the next.
                height = next_height(self.db) + 1
                self.proc.stdin.write(receipt(self.serial, height) + "\n")
                self.proc.stdin.flush()
                time.sleep(0.002)
        except (BrokenPipeError, OSError, ValueError):
            return

    def read(self) -> None:
        for line in self.proc.stdout:
            reply = json.loads(line)
            if "seq" in reply:
                self.acked.add(self.sent[reply["line"] - 1])


def next_height(db: Path) -> int:
    try:
        uri = f"file:{db}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1)) as conn:
            row = conn.execute("SELECT MAX(height) FROM blocks").fetchone()
    except sqlite3.Error:
        return 0
    return 0 if row is None or row[0] is None else row[0] + 1


def run_and_kill(db: Path, rng: random.Random, first: int) -> Producer:
    with subprocess.Popen(
        [*NODE, "--db", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    ) as proc:  # fmt: skip
        producer = Producer(proc, db, first)
        threads = [
            threading.Thread(target=f, daemon=True)
            for f in (producer.write, producer.read)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(1.0, 3.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for thread in threads:
            thread.join(timeout=5)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    return producer


def ids_in(db: Path) -> tuple[Counter[str], set[str], set[str]]:
    """(receipt ids per block, pending ids, rejected ids) in the store."""
    in_blocks: Counter[str] = Counter()
    store = Store(db)
    for stored in store.blocks():
        receipts, _ = decode_batch(parse_block(stored.data).body)
        in_blocks.update(r.contract_id for r in receipts)
    store.close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        pending = {
            ONE.decode(d).contract_id
            for (d,) in conn.execute("SELECT data FROM pending")
        }
        rejected = {
            ONE.decode(d).contract_id
            for (d,) in conn.execute("SELECT data FROM rejected")
        }
    return in_blocks, pending, rejected


def test_sigkill_never_loses_or_doubles_an_acknowledged_receipt(tmp_path: Path) -> None:
    db, rng = tmp_path / "chain.db", random.Random(SEED)
    acked: set[str] = set()
    serial = 0
    for _ in range(ROUNDS):
        producer = run_and_kill(db, rng, serial)
        acked |= producer.acked
        serial = producer.serial

    in_blocks, pending, rejected = ids_in(db)
    assert acked and sum(in_blocks.values()) > 0
    assert max(in_blocks.values()) == 1
    assert acked <= set(in_blocks) | pending | rejected
    assert not (set(in_blocks) & pending) and not (set(in_blocks) & rejected)
    store = Store(db)
    assert verify_chain(store)[1] == sum(in_blocks.values())
    store.close()
