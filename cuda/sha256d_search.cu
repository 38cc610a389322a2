// sha256d_search: try every nonce of [start, start + count) in an 80-byte
// Bitcoin-layout header and record those whose double SHA-256, read as a
// little-endian 256-bit number (Bitcoin's convention), is <= the target.
//
// Algorithm: FIPS 180-4 SHA-256 (§6.2) applied twice. The host hashes the
// first 64 header bytes once (engine.cpu.sha256.midstate gives state); the
// second block holds header bytes 64..79 and the padding, and only its word
// 3 (the nonce) changes. Rounds 0..2 of that block do not read the nonce,
// so each thread runs them once, before its loop.
//
// Inputs (big-endian 32-bit words, as SHA-256 reads its message):
//   state[8]    hash state after the first 64-byte block
//   tail[3]     header bytes 64..75 (merkle root end, time, bits)
//   target[8]   the target, target[0] its MOST significant 32 bits
// The header stores the nonce little-endian, so its message word is
// bswap32(nonce). The value's most significant word is bswap32(d[7]) of the
// final digest words d, then bswap32(d[6]), and so on.
//
// Launch: 1-D grid of any size; a grid-stride loop covers i in [0, count)
// with nonce = start + i, each nonce exactly once. A range that leaves the
// 32-bit nonce field (start + count > 2**32) is refused: nothing is tried.
//
// Output: each winner takes slot = atomicAdd(n_results, 1) and is stored
// in results[slot] when slot < capacity; *lowest = atomicMin over winners.
// The host sets *lowest = NOT_FOUND and *n_results = 0 before the launch;
// *lowest == NOT_FOUND means no winner, *n_results > capacity truncation.
#include "sha256.cuh"

static constexpr uint64_t SHA256D_NONCE_LIMIT = 1ull << 32;
// Block two: 3 fixed header words, the nonce, then padding.
static constexpr int SHA256D_TAIL_WORDS = 3;
static constexpr int SHA256D_NONCE_WORD = SHA256D_TAIL_WORDS;
// Message lengths in bits: the 80-byte header, then the 32-byte digest.
static constexpr uint32_t SHA256D_HEADER_LEN = 80;
static constexpr uint32_t SHA256D_DIGEST_LEN = 32;
static constexpr uint32_t SHA256D_HEADER_BITS = 8 * SHA256D_HEADER_LEN;
static constexpr uint32_t SHA256D_DIGEST_BITS = 8 * SHA256D_DIGEST_LEN;

// The second SHA-256: the 32-byte digest d1 as one padded block.
__device__ __forceinline__ void sha256d_outer(
    const uint32_t d1[SHA256_STATE_WORDS], uint32_t out[SHA256_STATE_WORDS])
{
    uint32_t w[SHA256_SCHEDULE_WORDS] = {
        d1[0], d1[1], d1[2], d1[3], d1[4], d1[5], d1[6], d1[7],
        SHA256_PAD_WORD, 0, 0, 0, 0, 0, 0, SHA256D_DIGEST_BITS,
    };
    uint32_t s[SHA256_STATE_WORDS];
#pragma unroll
    for (int i = 0; i < SHA256_STATE_WORDS; ++i) {
        s[i] = SHA256_IV[i];
    }
    sha256_rounds<0>(s, w);
    sha256_add(s, SHA256_IV, out);
}

// sha256(sha256(header)) for one nonce: block two from round 3 on, given
// the state after rounds 0..2 (fixed) and after block one (mid).
__device__ __forceinline__ void sha256d_header_hash(
    const uint32_t fixed[SHA256_STATE_WORDS],
    const uint32_t mid[SHA256_STATE_WORDS],
    const uint32_t words[SHA256D_TAIL_WORDS], uint32_t nonce,
    uint32_t d[SHA256_STATE_WORDS])
{
    uint32_t w[SHA256_SCHEDULE_WORDS] = {
        words[0], words[1], words[2], bswap32(nonce), SHA256_PAD_WORD,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, SHA256D_HEADER_BITS,
    };
    uint32_t s[SHA256_STATE_WORDS];
#pragma unroll
    for (int k = 0; k < SHA256_STATE_WORDS; ++k) {
        s[k] = fixed[k];
    }
    sha256_rounds<SHA256D_NONCE_WORD>(s, w);

    uint32_t d1[SHA256_STATE_WORDS];
    sha256_add(s, mid, d1);
    sha256d_outer(d1, d);
}

extern "C" __global__ void sha256d_search(
    const uint32_t* __restrict__ state, const uint32_t* __restrict__ tail,
    const uint32_t* __restrict__ target, uint64_t start, uint64_t count,
    unsigned long long* lowest, unsigned long long* results,
    uint32_t capacity, uint32_t* n_results)
{
    if (start > SHA256D_NONCE_LIMIT || count > SHA256D_NONCE_LIMIT - start) {
        return;
    }

    uint32_t mid[SHA256_STATE_WORDS];
    uint32_t fixed[SHA256_STATE_WORDS];
    uint32_t words[SHA256D_TAIL_WORDS];
    uint32_t limit[HASH_WORDS];
#pragma unroll
    for (int i = 0; i < SHA256_STATE_WORDS; ++i) {
        mid[i] = state[i];
        fixed[i] = state[i];
        limit[i] = target[i];
    }
    // Rounds 0..2 of block two read only the fixed header words.
#pragma unroll
    for (int t = 0; t < SHA256D_TAIL_WORDS; ++t) {
        words[t] = tail[t];
        sha256_round(fixed, SHA256_K[t] + words[t]);
    }

    const uint64_t stride = global_thread_count();
    for (uint64_t i = global_thread_index(); i < count; i += stride) {
        const uint64_t nonce = start + i;
        uint32_t d[SHA256_STATE_WORDS];
        sha256d_header_hash(fixed, mid, words, (uint32_t)nonce, d);

        // Nearly every nonce fails on the most significant word alone.
        if (bswap32(d[SHA256_STATE_WORDS - 1]) > limit[0]) {
            continue;
        }
        uint32_t value[HASH_WORDS];
#pragma unroll
        for (int k = 0; k < HASH_WORDS; ++k) {
            value[k] = bswap32(d[SHA256_STATE_WORDS - 1 - k]);
        }
        if (value_meets_target(value, limit)) {
            record_winner(nonce, lowest, results, capacity, n_results);
        }
    }
}
