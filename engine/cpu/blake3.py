"""BLAKE3 (hash mode, 32-byte output) compiled with numba.

Follows the BLAKE3 specification (§2: compression, chunks, tree):
chunks of 1024 bytes are hashed in 64-byte blocks and their chaining values
merged pairwise into a binary tree whose root block carries the ROOT flag.
Message words are read little-endian. The ``blake3`` package is the oracle.

Three entry points run one compiled pass each: ``digest`` for one message,
``hash_leaves`` for many byte ranges of one buffer behind a one-byte tag, and
``hash_parents`` for one level of a tagged Merkle tree. ``search`` tries
nonces over a header whose last 8 bytes are a little-endian u64 nonce, with
everything that does not depend on the nonce kept in a ``Midstate``.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import blake3
import numba
import numpy as np

IV: Final = np.array(
    [
        0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
        0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
    ],
    dtype=np.uint32,
)  # fmt: skip
MSG_PERMUTATION: Final = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
CHUNK_START: Final = 1
CHUNK_END: Final = 2
PARENT: Final = 4
ROOT: Final = 8
BLOCK_LEN: Final = 64
CHUNK_LEN: Final = 1024
OUT_LEN: Final = 32
BLOCK_WORDS: Final = 16
CV_WORDS: Final = 8
ROUNDS: Final = 7
WORD_MASK: Final = 0xFFFFFFFF
NONCE_LEN: Final = 8
# 2**54 chunks exceed any addressable buffer, so the chaining-value stack
# never holds more entries than that.
MAX_DEPTH: Final = 54
# Nonces hashed between two looks at the other workers' flags.
CHECK_INTERVAL: Final = 4096
NONCE_SPACE: Final = 1 << 64
# Each compiled call covers at most this many nonces so counts fit an int64.
MAX_SEGMENT: Final = 1 << 62

_JIT: Final = {"cache": True, "nogil": True}


class Midstate(NamedTuple):
    """Nonce-independent part of a one-chunk header, ready for ``search``."""

    cv: np.ndarray  # uint32[CV_WORDS]: chaining value entering the nonce block
    block: np.ndarray  # uint32[BLOCK_WORDS]: nonce block words, nonce bytes zero
    block_len: int
    flags: int
    nonce_word: int  # index of the word holding the nonce's first byte
    nonce_shift: int  # bit offset of the nonce inside that word


@numba.njit(**_JIT)
def _rotr(x, n):
    return np.uint32((x >> n) | (x << (32 - n)))


@numba.njit(**_JIT)
def _bswap(x):
    return np.uint32(
        (x >> 24) | ((x >> 8) & 0xFF00) | ((x << 8) & 0xFF0000) | (x << 24)
    )


@numba.njit(**_JIT)
def _g(a, b, c, d, mx, my):
    # The rotation distances 16, 12, 8 and 7 are the spec's G function.
    a = np.uint32(a + b + mx)
    d = _rotr(d ^ a, 16)
    c = np.uint32(c + d)
    b = _rotr(b ^ c, 12)
    a = np.uint32(a + b + my)
    d = _rotr(d ^ a, 8)
    c = np.uint32(c + d)
    b = _rotr(b ^ c, 7)
    return a, b, c, d


@numba.njit(**_JIT)
def _round(v, m):
    v0, v4, v8, v12 = _g(v[0], v[4], v[8], v[12], m[0], m[1])
    v1, v5, v9, v13 = _g(v[1], v[5], v[9], v[13], m[2], m[3])
    v2, v6, v10, v14 = _g(v[2], v[6], v[10], v[14], m[4], m[5])
    v3, v7, v11, v15 = _g(v[3], v[7], v[11], v[15], m[6], m[7])
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m[8], m[9])
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m[10], m[11])
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m[12], m[13])
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m[14], m[15])
    return (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15)


@numba.njit(**_JIT)
def _permute(m):
    p = MSG_PERMUTATION
    return (
        m[p[0]], m[p[1]], m[p[2]], m[p[3]], m[p[4]], m[p[5]], m[p[6]], m[p[7]],
        m[p[8]], m[p[9]], m[p[10]], m[p[11]], m[p[12]], m[p[13]], m[p[14]],
        m[p[15]],
    )  # fmt: skip


@numba.njit(**_JIT)
def _compress(cv, m, counter, block_len, flags):
    """Return the chaining value of one block: the output's first 8 words."""
    v = (
        cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
        IV[0], IV[1], IV[2], IV[3],
        np.uint32(counter & WORD_MASK), np.uint32(counter >> 32),
        np.uint32(block_len), np.uint32(flags),
    )  # fmt: skip
    for _ in range(ROUNDS - 1):
        v = _round(v, m)
        m = _permute(m)
    v = _round(v, m)
    return (
        np.uint32(v[0] ^ v[8]), np.uint32(v[1] ^ v[9]),
        np.uint32(v[2] ^ v[10]), np.uint32(v[3] ^ v[11]),
        np.uint32(v[4] ^ v[12]), np.uint32(v[5] ^ v[13]),
        np.uint32(v[6] ^ v[14]), np.uint32(v[7] ^ v[15]),
    )  # fmt: skip


@numba.njit(**_JIT)
def _words8(a, i):
    return (a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5], a[i + 6], a[i + 7])


@numba.njit(**_JIT)
def _words16(a):
    return _words8(a, 0) + _words8(a, CV_WORDS)


@numba.njit(**_JIT)
def _iv():
    return _words8(IV, 0)


@numba.njit(**_JIT)
def _store8(dst, row, cv):
    for i in range(CV_WORDS):
        dst[row, i] = cv[i]


@numba.njit(**_JIT)
def _load_block(buf, off, has_tag, tag, pos, n, scratch, words):
    """Fill ``words`` with logical bytes pos..pos+n of tag + buf[off:]."""
    scratch[:] = 0
    for j in range(n):
        p = pos + j - has_tag
        scratch[j] = tag if p < 0 else buf[off + p]
    for w in range(BLOCK_WORDS):
        b = 4 * w
        words[w] = np.uint32(
            scratch[b]
            | (np.uint32(scratch[b + 1]) << 8)
            | (np.uint32(scratch[b + 2]) << 16)
            | (np.uint32(scratch[b + 3]) << 24)
        )


@numba.njit(**_JIT)
def _chunk_tail(buf, off, has_tag, tag, start, size, counter, scratch, words):
    """Compress a chunk's blocks but the last; return (cv, last len, flags)."""
    cv = _iv()
    flags = CHUNK_START
    pos = start
    while size - (pos - start) > BLOCK_LEN:
        _load_block(buf, off, has_tag, tag, pos, BLOCK_LEN, scratch, words)
        cv = _compress(cv, _words16(words), counter, BLOCK_LEN, flags)
        flags = 0
        pos += BLOCK_LEN
    last = size - (pos - start)
    _load_block(buf, off, has_tag, tag, pos, last, scratch, words)
    return cv, last, flags | CHUNK_END


@numba.njit(**_JIT)
def _push_chunk(stack, depth, cv, done):
    """Merge the subtrees this chunk completes, push the result; return depth."""
    while done & 1 == 0:
        depth -= 1
        m = _words8(stack[depth], 0) + cv
        cv = _compress(_iv(), m, 0, BLOCK_LEN, PARENT)
        done >>= 1
    _store8(stack, depth, cv)
    return depth + 1


@numba.njit(**_JIT)
def _hash_one(buf, off, length, has_tag, tag, scratch, words, stack, out, row):
    total = length + has_tag
    n_chunks = max(1, (total + CHUNK_LEN - 1) // CHUNK_LEN)
    depth = 0
    for c in range(n_chunks - 1):
        cv, n, flags = _chunk_tail(
            buf, off, has_tag, tag, c * CHUNK_LEN, CHUNK_LEN, c, scratch, words
        )
        cv = _compress(cv, _words16(words), c, n, flags)
        depth = _push_chunk(stack, depth, cv, c + 1)

    # The last chunk and then each stacked subtree feed the root's output.
    last = n_chunks - 1
    size = total - last * CHUNK_LEN
    cv, n, flags = _chunk_tail(
        buf, off, has_tag, tag, last * CHUNK_LEN, size, last, scratch, words
    )
    m, counter = _words16(words), last
    for d in range(depth - 1, -1, -1):
        m = _words8(stack[d], 0) + _compress(cv, m, counter, n, flags)
        cv, counter, n, flags = _iv(), 0, BLOCK_LEN, PARENT
    _store_digest(out, row, _compress(cv, m, counter, n, flags | ROOT))


@numba.njit(**_JIT)
def _store_digest(out, row, cv):
    for i in range(CV_WORDS):
        for k in range(4):
            out[row, 4 * i + k] = (cv[i] >> (8 * k)) & 0xFF


@numba.njit(**_JIT)
def _hash_items(buf, offsets, lengths, has_tag, tag):
    n = offsets.shape[0]
    out = np.empty((n, OUT_LEN), dtype=np.uint8)
    scratch = np.empty(BLOCK_LEN, dtype=np.uint8)
    words = np.empty(16, dtype=np.uint32)
    stack = np.empty((MAX_DEPTH, CV_WORDS), dtype=np.uint32)
    for i in range(n):
        _hash_one(
            buf, offsets[i], lengths[i], has_tag, tag, scratch, words, stack, out, i
        )
    return out


def digest(data: bytes) -> bytes:
    """Return the 32-byte BLAKE3 hash of ``data``."""
    buf = np.frombuffer(data, dtype=np.uint8)
    offsets = np.zeros(1, dtype=np.int64)
    lengths = np.array([len(data)], dtype=np.int64)
    return _hash_items(buf, offsets, lengths, 0, np.uint8(0))[0].tobytes()


def hash_leaves(
    buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, tag: int
) -> np.ndarray:
    """Hash ``bytes([tag]) + buf[off:off + len]`` for each item; (n, 32) uint8."""
    buf = np.ascontiguousarray(buf, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    _check_items(buf, offsets, lengths, tag)
    return _hash_items(buf, offsets, lengths, 1, np.uint8(tag))


def hash_parents(level: np.ndarray, tag: int) -> np.ndarray:
    """Hash ``bytes([tag]) + level[2k] + level[2k + 1]`` for each k."""
    level = np.ascontiguousarray(level, dtype=np.uint8)
    if level.ndim != 2 or level.shape[1] != OUT_LEN or level.shape[0] % 2:
        raise ValueError(f"level must be (even n, 32) uint8, got {level.shape}.")
    pairs = level.shape[0] // 2
    offsets = np.arange(pairs, dtype=np.int64) * (2 * OUT_LEN)
    lengths = np.full(pairs, 2 * OUT_LEN, dtype=np.int64)
    return hash_leaves(level.reshape(-1), offsets, lengths, tag)


def _check_items(
    buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, tag: int
) -> None:
    if offsets.shape != lengths.shape or offsets.ndim != 1:
        raise ValueError(
            f"offsets {offsets.shape} and lengths {lengths.shape} must be equal 1-D."
        )
    if not 0 <= tag <= 0xFF:
        raise ValueError(f"tag must be one byte, got {tag}.")
    ends = offsets + lengths
    if offsets.size and (
        offsets.min() < 0 or lengths.min() < 0 or ends.max() > buf.size
    ):
        raise ValueError(f"an item lies outside the {buf.size}-byte buffer.")


@numba.njit(**_JIT)
def _prefix_cv(words, n_blocks):
    """Chaining value after the first ``n_blocks`` full blocks of chunk 0."""
    cv = _iv()
    for b in range(n_blocks):
        flags = CHUNK_START if b == 0 else 0
        cv = _compress(cv, _words16(words[b]), 0, BLOCK_LEN, flags)
    return np.array(cv, dtype=np.uint32)


def midstate(prefix: bytes) -> Midstate:
    """Precompute what a nonce search over ``prefix + nonce`` can reuse."""
    size = len(prefix) + NONCE_LEN
    if size > CHUNK_LEN:
        raise ValueError(f"header of {size} bytes exceeds one {CHUNK_LEN}-byte chunk.")
    offset = len(prefix) % BLOCK_LEN
    if offset > BLOCK_LEN - NONCE_LEN:
        raise ValueError(f"nonce at block offset {offset} straddles a block boundary.")

    n_blocks = len(prefix) // BLOCK_LEN
    padded = bytes(prefix) + bytes(BLOCK_LEN - offset)
    words = (
        np.frombuffer(padded, dtype="<u4").astype(np.uint32).reshape(-1, BLOCK_WORDS)
    )
    flags = CHUNK_END | ROOT | (CHUNK_START if n_blocks == 0 else 0)
    return Midstate(
        cv=_prefix_cv(words, n_blocks),
        block=words[n_blocks].copy(),
        block_len=offset + NONCE_LEN,
        flags=flags,
        nonce_word=offset // 4,
        nonce_shift=8 * (offset % 4),
    )


@numba.njit(**_JIT)
def _put_nonce(m, base, nonce, word, shift):
    if shift == 0:
        m[word] = np.uint32(nonce & WORD_MASK)
        m[word + 1] = np.uint32(nonce >> 32)
        return
    m[word] = np.uint32(base[word] | ((nonce << shift) & WORD_MASK))
    m[word + 1] = np.uint32((nonce >> (32 - shift)) & WORD_MASK)
    m[word + 2] = np.uint32(base[word + 2] | (nonce >> (64 - shift)))


@numba.njit(**_JIT)
def _meets_target(h, target):
    """Compare the hash, read big-endian, with the target words."""
    for i in range(CV_WORDS):
        x = _bswap(h[i])
        if x != target[i]:
            return x < target[i]
    return True


@numba.njit(**_JIT)
def _lower_won(flags, worker):
    return flags[:worker].any()


@numba.njit(**_JIT)
def _search(
    cv, base, block_len, bflags, word, shift, target, start, count, flags, worker
):
    cv_t = _words8(cv, 0)
    m = base.copy()
    done = 0
    while done < count:
        if _lower_won(flags, worker):
            return False, np.uint64(0), done
        batch = min(CHECK_INTERVAL, count - done)
        for i in range(batch):
            nonce = start + np.uint64(done + i)
            _put_nonce(m, base, nonce, word, shift)
            h = _compress(cv_t, _words16(m), 0, block_len, bflags)
            # Nearly every nonce fails on the most significant word alone.
            if _bswap(h[0]) <= target[0] and _meets_target(h, target):
                flags[worker] = 1
                return True, nonce, done + i + 1
        done += batch
    return False, np.uint64(0), done


def search(
    mid: Midstate,
    target: bytes,
    start: int,
    count: int,
    flags: np.ndarray,
    worker: int,
) -> tuple[int | None, int]:
    """Try nonces start..start+count-1; return (lowest winner or None, tried)."""
    target_words = _check_search(target, start, count, flags, worker)
    tried = 0
    while tried < count:
        size = min(MAX_SEGMENT, count - tried)
        found, nonce, done = _search(
            mid.cv, mid.block, mid.block_len, mid.flags, mid.nonce_word,
            mid.nonce_shift, target_words, np.uint64(start + tried), size, flags,
            worker,
        )  # fmt: skip
        tried += int(done)
        if found:
            return int(nonce), tried
        if done < size:
            break
    return None, tried


def _check_search(
    target: bytes, start: int, count: int, flags: np.ndarray, worker: int
) -> np.ndarray:
    if len(target) != OUT_LEN:
        raise ValueError(f"target must be {OUT_LEN} bytes, got {len(target)}.")
    if start < 0 or count < 0 or start + count > NONCE_SPACE:
        raise ValueError(f"nonces {start}+{count} leave the 64-bit nonce space.")
    if flags.dtype != np.uint8 or not 0 <= worker < flags.size:
        raise ValueError(f"worker {worker} needs a slot in a uint8 flags array.")
    return np.frombuffer(target, dtype=">u4").astype(np.uint32)


def reference_search(
    prefix: bytes, target: bytes, start: int, count: int
) -> tuple[int | None, int]:
    """Plain per-nonce loop over the ``blake3`` package: oracle and baseline."""
    limit = int.from_bytes(target, "big")
    for i in range(count):
        nonce = start + i
        h = blake3.blake3(prefix + nonce.to_bytes(NONCE_LEN, "little")).digest()
        if int.from_bytes(h, "big") <= limit:
            return nonce, i + 1
    return None, count
