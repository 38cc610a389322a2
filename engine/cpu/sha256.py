"""SHA-256 and Bitcoin-style double SHA-256 header search compiled with numba.

Follows FIPS 180-4 §6.2: big-endian message words, 64 rounds per 64-byte
block, padding with 0x80, zeros and the bit length. ``hashlib`` is the oracle.

``search`` tries nonces over an 80-byte header whose last 4 bytes are a
little-endian u32 nonce. The hash is sha256(sha256(header)), read as a
little-endian 256-bit number as Bitcoin does, so its most significant word is
the byte-swapped last state word: that word is tested first and the full
comparison runs only for candidates.
"""

from __future__ import annotations

import hashlib
from typing import Final, NamedTuple

import numba
import numpy as np

K: Final = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5,
        0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
        0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3,
        0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
        0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC,
        0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
        0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
        0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
        0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13,
        0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
        0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3,
        0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
        0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5,
        0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208,
        0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    ],
    dtype=np.uint32,
)  # fmt: skip
IV: Final = np.array(
    [
        0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
        0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
    ],
    dtype=np.uint32,
)  # fmt: skip
BLOCK_LEN: Final = 64
DIGEST_LEN: Final = 32
ROUNDS: Final = 64
SCHEDULE_WORDS: Final = 16
STATE_WORDS: Final = 8
PAD_BYTE: Final = 0x80
PAD_WORD: Final = 0x80000000
LENGTH_BYTES: Final = 8
HEADER_PREFIX_LEN: Final = 76
NONCE_LEN: Final = 4
# Bit lengths of the two padded messages: an 80-byte header, a 32-byte digest.
HEADER_BITS: Final = 8 * (HEADER_PREFIX_LEN + NONCE_LEN)
DIGEST_BITS: Final = 8 * DIGEST_LEN
# Block two holds header words 16..18, then the nonce, then the padding word.
NONCE_WORD: Final = 3
# Rounds of block two that run before the nonce word enters.
FIXED_ROUNDS: Final = NONCE_WORD
# Nonces hashed between two looks at the other workers' flags.
CHECK_INTERVAL: Final = 4096
NONCE_SPACE: Final = 1 << 32

_JIT: Final = {"cache": True, "nogil": True}


class Midstate(NamedTuple):
    """Nonce-independent part of an 80-byte header, ready for ``search``."""

    state: np.ndarray  # uint32[8]: hash state after the first block
    rounds: np.ndarray  # uint32[8]: working variables after FIXED_ROUNDS rounds
    block: np.ndarray  # uint32[64]: second block schedule, nonce-free words set


@numba.njit(**_JIT)
def _rotr(x, n):
    return np.uint32((x >> n) | (x << (32 - n)))


@numba.njit(**_JIT)
def _bswap(x):
    return np.uint32(
        (x >> 24) | ((x >> 8) & 0xFF00) | ((x << 8) & 0xFF0000) | (x << 24)
    )


@numba.njit(**_JIT)
def _round(s, kw):
    """One FIPS 180-4 round; ``kw`` is the round constant plus message word."""
    a, b, c, d, e, f, g, h = s
    t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + kw
    t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
    return (np.uint32(t1 + t2), a, b, c, np.uint32(d + t1), e, f, g)


@numba.njit(**_JIT)
def _expand(w, first):
    """Fill message schedule words first..63 from the words before them."""
    for t in range(first, ROUNDS):
        x, y = w[t - 15], w[t - 2]
        s0 = _rotr(x, 7) ^ _rotr(x, 18) ^ (x >> 3)
        s1 = _rotr(y, 17) ^ _rotr(y, 19) ^ (y >> 10)
        w[t] = np.uint32(w[t - 16] + s0 + w[t - 7] + s1)


@numba.njit(**_JIT)
def _rounds(s, w, first):
    for t in range(first, ROUNDS):
        s = _round(s, np.uint32(K[t] + w[t]))
    return s


@numba.njit(**_JIT)
def _add(s, base):
    return (
        np.uint32(s[0] + base[0]), np.uint32(s[1] + base[1]),
        np.uint32(s[2] + base[2]), np.uint32(s[3] + base[3]),
        np.uint32(s[4] + base[4]), np.uint32(s[5] + base[5]),
        np.uint32(s[6] + base[6]), np.uint32(s[7] + base[7]),
    )  # fmt: skip


@numba.njit(**_JIT)
def _words8(a):
    return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])


@numba.njit(**_JIT)
def _compress(state, w):
    """Hash one block whose 16 words sit in w[:16]; w[16:] is scratch."""
    _expand(w, SCHEDULE_WORDS)
    return _add(_rounds(state, w, 0), state)


@numba.njit(**_JIT)
def _load_words(padded, block, w):
    for i in range(SCHEDULE_WORDS):
        b = block * BLOCK_LEN + 4 * i
        w[i] = np.uint32(
            (np.uint32(padded[b]) << 24)
            | (np.uint32(padded[b + 1]) << 16)
            | (np.uint32(padded[b + 2]) << 8)
            | padded[b + 3]
        )


@numba.njit(**_JIT)
def _pad(data):
    """Copy ``data`` with FIPS 180-4 §5.1.1 padding appended."""
    n = data.shape[0]
    size = (n + 1 + LENGTH_BYTES + BLOCK_LEN - 1) // BLOCK_LEN * BLOCK_LEN
    padded = np.zeros(size, dtype=np.uint8)
    padded[:n] = data
    padded[n] = PAD_BYTE
    bits = np.uint64(n) * np.uint64(8)
    for k in range(LENGTH_BYTES):
        padded[size - 1 - k] = (bits >> np.uint64(8 * k)) & np.uint64(0xFF)
    return padded


@numba.njit(**_JIT)
def _digest(data):
    padded = _pad(data)
    w = np.empty(ROUNDS, dtype=np.uint32)
    s = _words8(IV)
    for block in range(padded.shape[0] // BLOCK_LEN):
        _load_words(padded, block, w)
        s = _compress(s, w)
    out = np.empty(DIGEST_LEN, dtype=np.uint8)
    for i in range(STATE_WORDS):
        for k in range(4):
            out[4 * i + k] = (s[i] >> (24 - 8 * k)) & 0xFF
    return out


def digest(data: bytes) -> bytes:
    """Return the 32-byte SHA-256 hash of ``data``."""
    return _digest(np.frombuffer(data, dtype=np.uint8)).tobytes()


@numba.njit(**_JIT)
def _header_midstate(words):
    """State after block one, rounds 0..2 of block two, and its schedule."""
    w = np.zeros(ROUNDS, dtype=np.uint32)
    w[:SCHEDULE_WORDS] = words[:SCHEDULE_WORDS]
    state = _compress(_words8(IV), w)

    w[:] = 0
    w[:NONCE_WORD] = words[SCHEDULE_WORDS:]
    w[NONCE_WORD + 1] = PAD_WORD
    w[SCHEDULE_WORDS - 1] = HEADER_BITS
    # The first two expanded words do not read the nonce word.
    _expand(w, SCHEDULE_WORDS)
    w[SCHEDULE_WORDS + 2 :] = 0
    s = state
    for t in range(FIXED_ROUNDS):
        s = _round(s, np.uint32(K[t] + w[t]))
    return np.array(state, dtype=np.uint32), np.array(s, dtype=np.uint32), w


def midstate(header76: bytes) -> Midstate:
    """Precompute what a nonce search over ``header76 + nonce`` can reuse."""
    if len(header76) != HEADER_PREFIX_LEN:
        raise ValueError(
            f"header prefix must be {HEADER_PREFIX_LEN} bytes, got {len(header76)}."
        )
    words = np.frombuffer(header76, dtype=">u4").astype(np.uint32)
    state, rounds, block = _header_midstate(words)
    return Midstate(state=state, rounds=rounds, block=block)


@numba.njit(**_JIT)
def _second_block(w):
    """Words of the padded 32-byte message that hashes the first digest."""
    w[:] = 0
    w[DIGEST_LEN // 4] = PAD_WORD
    w[SCHEDULE_WORDS - 1] = DIGEST_BITS


@numba.njit(**_JIT)
def _header_hash(state, rounds, w, w2, nonce):
    """Double SHA-256 state words of the header holding ``nonce``."""
    w[NONCE_WORD] = _bswap(nonce)
    _expand(w, SCHEDULE_WORDS + 2)
    first = _add(_rounds(rounds, w, FIXED_ROUNDS), state)
    for i in range(STATE_WORDS):
        w2[i] = first[i]
    _expand(w2, SCHEDULE_WORDS)
    return _add(_rounds(_words8(IV), w2, 0), IV)


@numba.njit(**_JIT)
def _meets_target(h, target):
    """Compare the hash, read little-endian, with the big-endian target words."""
    for i in range(STATE_WORDS):
        x = _bswap(h[STATE_WORDS - 1 - i])
        if x != target[i]:
            return x < target[i]
    return True


@numba.njit(**_JIT)
def _lower_won(flags, worker):
    return flags[:worker].any()


@numba.njit(**_JIT)
def _search(state, rounds, block, target, start, count, flags, worker):
    s, r = _words8(state), _words8(rounds)
    w = block.copy()
    w2 = np.empty(ROUNDS, dtype=np.uint32)
    _second_block(w2)
    done = 0
    while done < count:
        if _lower_won(flags, worker):
            return False, 0, done
        batch = min(CHECK_INTERVAL, count - done)
        for i in range(batch):
            nonce = start + done + i
            h = _header_hash(s, r, w, w2, np.uint32(nonce))
            # Nearly every nonce fails on the most significant word alone.
            if _bswap(h[STATE_WORDS - 1]) <= target[0] and _meets_target(h, target):
                flags[worker] = 1
                return True, nonce, done + i + 1
        done += batch
    return False, 0, done


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
    found, nonce, tried = _search(
        mid.state, mid.rounds, mid.block, target_words, start, count, flags, worker
    )
    return (int(nonce) if found else None), int(tried)


def _check_search(
    target: bytes, start: int, count: int, flags: np.ndarray, worker: int
) -> np.ndarray:
    if len(target) != DIGEST_LEN:
        raise ValueError(f"target must be {DIGEST_LEN} bytes, got {len(target)}.")
    if start < 0 or count < 0 or start + count > NONCE_SPACE:
        raise ValueError(f"nonces {start}+{count} leave the 32-bit nonce space.")
    if flags.dtype != np.uint8 or not 0 <= worker < flags.size:
        raise ValueError(f"worker {worker} needs a slot in a uint8 flags array.")
    return np.frombuffer(target, dtype=">u4").astype(np.uint32)


def reference_search(
    header76: bytes, target: bytes, start: int, count: int
) -> tuple[int | None, int]:
    """Plain per-nonce loop over ``hashlib`` with a midstate: oracle, baseline."""
    limit = int.from_bytes(target, "big")
    mid = hashlib.sha256(header76[:BLOCK_LEN])
    tail = header76[BLOCK_LEN:]
    for i in range(count):
        nonce = start + i
        h = mid.copy()
        h.update(tail + nonce.to_bytes(NONCE_LEN, "little"))
        if int.from_bytes(hashlib.sha256(h.digest()).digest(), "little") <= limit:
            return nonce, i + 1
    return None, count
