// blake3_search: try every nonce of [start, start + count) in a BLAKE3
// header and record those whose hash, read as a big-endian 256-bit number,
// is <= the target.
//
// Algorithm: BLAKE3 (spec §2), one compression per nonce. The header fits
// one chunk and its nonce lies in its last block; the host precomputes the
// chaining value entering that block (engine.cpu.blake3.midstate), so the
// kernel compresses only the nonce block, with counter 0.
//
// Inputs (all little-endian 32-bit words, as BLAKE3 reads its message):
//   cv[8]       chaining value entering the nonce block
//   block[16]   the nonce block, nonce bytes zero; the nonce (a u64,
//               little-endian in the header) fills block[nonce_word] (low
//               32 bits) and block[nonce_word + 1] (high 32 bits), so it
//               must start on a word boundary (midstate nonce_shift == 0)
//   block_len, flags  that block's length and flags (CHUNK_END | ROOT ...)
//   target[8]   the target, target[0] its MOST significant 32 bits
// Hash value word i (most significant first) is bswap32 of output word i.
//
// Launch: 1-D grid of any size; a grid-stride loop covers i in [0, count)
// with nonce = start + i, each nonce exactly once. Requires count <= 2**64
// minus the launch's thread count, and start + count <= 2**64 (no wrap).
// A nonce_word above 14 leaves no room for the nonce: nothing is tried.
//
// Output: each winner takes slot = atomicAdd(n_results, 1) and is stored
// in results[slot] when slot < capacity; *lowest = atomicMin over winners.
// The host sets *lowest = NOT_FOUND and *n_results = 0 before the launch;
// *lowest == NOT_FOUND means no winner, *n_results > capacity truncation.
#include "blake3.cuh"

// The 64-bit nonce spans two message words.
static constexpr uint32_t BLAKE3_NONCE_WORDS = 2;

// m = base with the nonce in words `word` (low half) and `word + 1`. The
// word is a launch argument: select rather than index, so that m stays in
// registers.
__device__ __forceinline__ void blake3_put_nonce(
    const uint32_t base[BLAKE3_BLOCK_WORDS], uint32_t word, uint64_t nonce,
    uint32_t m[BLAKE3_BLOCK_WORDS])
{
#pragma unroll
    for (int w = 0; w < BLAKE3_BLOCK_WORDS; ++w) {
        m[w] = w == (int)word ? (uint32_t)nonce
            : w == (int)word + 1 ? (uint32_t)(nonce >> 32)
            : base[w];
    }
}

extern "C" __global__ void blake3_search(
    const uint32_t* __restrict__ cv, const uint32_t* __restrict__ block,
    uint32_t block_len, uint32_t flags, uint32_t nonce_word,
    const uint32_t* __restrict__ target, uint64_t start, uint64_t count,
    unsigned long long* lowest, unsigned long long* results,
    uint32_t capacity, uint32_t* n_results)
{
    if (nonce_word > BLAKE3_BLOCK_WORDS - BLAKE3_NONCE_WORDS) {
        return;
    }

    uint32_t chain[BLAKE3_CV_WORDS];
    uint32_t base[BLAKE3_BLOCK_WORDS];
    uint32_t limit[HASH_WORDS];
#pragma unroll
    for (int i = 0; i < BLAKE3_CV_WORDS; ++i) {
        chain[i] = cv[i];
        limit[i] = target[i];
    }
#pragma unroll
    for (int i = 0; i < BLAKE3_BLOCK_WORDS; ++i) {
        base[i] = block[i];
    }

    const uint64_t stride = global_thread_count();
    for (uint64_t i = global_thread_index(); i < count; i += stride) {
        const uint64_t nonce = start + i;
        uint32_t m[BLAKE3_BLOCK_WORDS];
        blake3_put_nonce(base, nonce_word, nonce, m);
        uint32_t h[BLAKE3_CV_WORDS];
        blake3_compress(chain, m, 0, block_len, flags, h);

        // Nearly every nonce fails on the most significant word alone.
        if (bswap32(h[0]) > limit[0]) {
            continue;
        }
        uint32_t value[HASH_WORDS];
#pragma unroll
        for (int k = 0; k < HASH_WORDS; ++k) {
            value[k] = bswap32(h[k]);
        }
        if (value_meets_target(value, limit)) {
            record_winner(nonce, lowest, results, capacity, n_results);
        }
    }
}
