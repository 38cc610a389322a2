"""The chain store: blocks and pending receipts in SQLite (WAL mode).

A pending receipt is committed (synchronous=FULL) before it is acknowledged
to its producer; a block is appended in the same transaction that deletes
the pending receipts it includes or rejects, so a crash at any moment leaves
every acknowledged receipt either pending or in exactly one block.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from engine.block import Block, parse_block
from engine.errors import InputError

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS blocks (
    height     INTEGER PRIMARY KEY,
    hash       BLOB    NOT NULL UNIQUE,
    prev_hash  BLOB    NOT NULL,
    receipts   INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    sealed_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    market      INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    seq         INTEGER PRIMARY KEY,
    market      INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    rule        TEXT    NOT NULL,
    field       TEXT    NOT NULL,
    height      INTEGER NOT NULL
);
"""


EXPECTED_COLUMNS: Final = {
    "blocks": ("height", "hash", "prev_hash", "receipts", "data", "sealed_ms"),
    "pending": ("seq", "market", "data", "received_ms"),
    "rejected": ("seq", "market", "data", "rule", "field", "height"),
}


@dataclass(frozen=True)
class StoredBlock:
    height: int
    hash: bytes
    prev_hash: bytes
    data: bytes


@dataclass(frozen=True)
class PendingRow:
    seq: int
    market: int
    data: bytes


@dataclass(frozen=True)
class Rejection:
    seq: int
    rule: str
    field: str


class Store:
    """One SQLite database; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        try:
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None
            )
            # Blobs a hand edit turned into TEXT still come back as bytes.
            self._db.text_factory = bytes
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            self._check_schema(path)
            # A write probe: a read-only file is refused now, not mid-run.
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the chain database {path}: {exc}.") from exc
        self._lock = threading.Lock()

    def _check_schema(self, path: Path | str) -> None:
        for table, columns in EXPECTED_COLUMNS.items():
            found = tuple(
                row[1].decode()
                for row in self._db.execute(f"PRAGMA table_info({table})")
            )
            if found != columns:
                raise InputError(
                    f"{path} is not a chain database of this engine "
                    f"(table {table} has columns {found})."
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add_pending(self, rows: Sequence[tuple[int, bytes]]) -> list[int]:
        """Commit (market, encoded receipt) rows; their sequence numbers."""
        now = int(time.time() * 1e3)
        with self._lock, self._transaction():
            return [
                self._db.execute(
                    "INSERT INTO pending (market, data, received_ms) VALUES (?, ?, ?)",
                    (market, data, now),
                ).lastrowid
                for market, data in rows
            ]

    def pending(self) -> list[PendingRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, market, data FROM pending ORDER BY seq"
            )
            return [PendingRow(*row) for row in rows]

    def append_block(
        self,
        block: Block,
        included: Sequence[int],
        rejected: Sequence[tuple[Rejection, PendingRow]] = (),
    ) -> None:
        """Add a block and settle its pending receipts, atomically."""
        header = block.header
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?)",
                (
                    header.height, block.digest, header.prev_hash, len(included),
                    block.serialize(), int(time.time() * 1e3),
                ),
            )  # fmt: skip
            self._delete_pending([*included, *(r.seq for r, _ in rejected)])
            self._db.executemany(
                "INSERT INTO rejected VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (r.seq, row.market, row.data, r.rule, r.field, header.height)
                    for r, row in rejected
                ],
            )

    def tip(self) -> tuple[int, bytes] | None:
        """(height, hash) of the last block, or None for an empty chain.

        The hash is recomputed from the block itself, never read from the
        index column, so a damaged column cannot fork the chain."""
        with self._lock:
            row = self._db.execute(
                "SELECT height, data FROM blocks ORDER BY height DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (row[0], parse_block(row[1]).digest)

    def blocks(self) -> Iterator[StoredBlock]:
        """Every stored block in height order, with its index columns."""
        with self._lock:
            rows = self._db.execute(
                "SELECT height, hash, prev_hash, data FROM blocks ORDER BY height"
            ).fetchall()
        for row in rows:
            yield StoredBlock(*row)

    def recent_blocks(self, count: int) -> list[bytes]:
        """The last `count` blocks' file bytes, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data FROM blocks ORDER BY height DESC LIMIT ?", (count,)
            ).fetchall()
        return [data for (data,) in reversed(rows)]

    def rejected_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]

    def _delete_pending(self, seqs: Sequence[int]) -> None:
        self._db.executemany("DELETE FROM pending WHERE seq = ?", [(s,) for s in seqs])

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")
