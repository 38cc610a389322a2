// BLAKE3 in hash mode with a 32-byte output, for one thread per message.
//
// Algorithm: the BLAKE3 specification (O'Connor, Aumasson, Neves,
// Wilcox-O'Hearn, 2020), §2.1 G and the round, §2.2 compression, §2.4
// chunks, §2.5 the tree, §2.6 the root. Message words and chaining values
// are little-endian 32-bit words; a 32-byte hash is the 8 output words
// written little-endian.
//
// blake3_compress is the single compression used by the nonce search and
// the leaf hashing alike. blake3_hash hashes (optional tag byte || data) of
// any length up to BLAKE3_MAX_INPUT bytes: chunks are compressed one after
// another and their chaining values merged on a stack, as in the spec's
// reference implementation (§5.1.2).
#ifndef ENGINE_BLAKE3_CUH
#define ENGINE_BLAKE3_CUH

#include "common.cuh"

// Levels of the chaining-value stack. A message of 2**D chunks never holds
// more than D entries, so the default covers 2**32 chunks (4 TiB), beyond
// any device buffer. Each level costs 32 bytes of per-thread local memory.
#ifndef BLAKE3_MAX_DEPTH
#define BLAKE3_MAX_DEPTH 32
#endif

static constexpr uint32_t BLAKE3_CHUNK_START = 1u << 0;
static constexpr uint32_t BLAKE3_CHUNK_END = 1u << 1;
static constexpr uint32_t BLAKE3_PARENT = 1u << 2;
static constexpr uint32_t BLAKE3_ROOT = 1u << 3;

static constexpr uint32_t BLAKE3_BLOCK_LEN = 64;
static constexpr uint32_t BLAKE3_CHUNK_LEN = 1024;
static constexpr int BLAKE3_BLOCK_WORDS = 16;
static constexpr int BLAKE3_CV_WORDS = 8;
static constexpr int BLAKE3_ROUNDS = 7;
static constexpr int BLAKE3_OUT_LEN = 32;
static constexpr uint64_t BLAKE3_MAX_INPUT =
    (uint64_t)BLAKE3_CHUNK_LEN << BLAKE3_MAX_DEPTH;

// A tag value outside 0..255: hash the data alone, with no tag byte.
static constexpr uint32_t BLAKE3_NO_TAG = 0x100u;

__constant__ uint32_t BLAKE3_IV[BLAKE3_CV_WORDS] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

// The quarter-round G (§2.1); its rotations are 16, 12, 8 and 7.
__device__ __forceinline__ void blake3_g(
    uint32_t v[16], int a, int b, int c, int d, uint32_t mx, uint32_t my)
{
    v[a] = v[a] + v[b] + mx;
    v[d] = rotr32(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotr32(v[b] ^ v[c], 12);
    v[a] = v[a] + v[b] + my;
    v[d] = rotr32(v[d] ^ v[a], 8);
    v[c] = v[c] + v[d];
    v[b] = rotr32(v[b] ^ v[c], 7);
}

// One round: G on the columns, then on the diagonals (§2.1).
__device__ __forceinline__ void blake3_round(
    uint32_t v[16], const uint32_t m[BLAKE3_BLOCK_WORDS])
{
    blake3_g(v, 0, 4, 8, 12, m[0], m[1]);
    blake3_g(v, 1, 5, 9, 13, m[2], m[3]);
    blake3_g(v, 2, 6, 10, 14, m[4], m[5]);
    blake3_g(v, 3, 7, 11, 15, m[6], m[7]);
    blake3_g(v, 0, 5, 10, 15, m[8], m[9]);
    blake3_g(v, 1, 6, 11, 12, m[10], m[11]);
    blake3_g(v, 2, 7, 8, 13, m[12], m[13]);
    blake3_g(v, 3, 4, 9, 14, m[14], m[15]);
}

// The message permutation between rounds (§2.2, Table 2). Written out so
// that every index is a compile-time constant and m stays in registers.
__device__ __forceinline__ void blake3_permute(uint32_t m[BLAKE3_BLOCK_WORDS])
{
    const uint32_t p[BLAKE3_BLOCK_WORDS] = {
        m[2], m[6], m[3], m[10], m[7], m[0], m[4], m[13],
        m[1], m[11], m[12], m[5], m[9], m[14], m[15], m[8],
    };
#pragma unroll
    for (int i = 0; i < BLAKE3_BLOCK_WORDS; ++i) {
        m[i] = p[i];
    }
}

// Compress one block; out (which may alias cv or block) receives the first
// 8 output words: the chaining value, or the hash under the ROOT flag.
__device__ __forceinline__ void blake3_compress(
    const uint32_t cv[BLAKE3_CV_WORDS],
    const uint32_t block[BLAKE3_BLOCK_WORDS], uint64_t counter,
    uint32_t block_len, uint32_t flags, uint32_t out[BLAKE3_CV_WORDS])
{
    uint32_t v[16] = {
        cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
        BLAKE3_IV[0], BLAKE3_IV[1], BLAKE3_IV[2], BLAKE3_IV[3],
        (uint32_t)counter, (uint32_t)(counter >> 32), block_len, flags,
    };
    uint32_t m[BLAKE3_BLOCK_WORDS];
#pragma unroll
    for (int i = 0; i < BLAKE3_BLOCK_WORDS; ++i) {
        m[i] = block[i];
    }

#pragma unroll
    for (int r = 0; r < BLAKE3_ROUNDS; ++r) {
        blake3_round(v, m);
        if (r + 1 < BLAKE3_ROUNDS) {
            blake3_permute(m);
        }
    }

#pragma unroll
    for (int i = 0; i < BLAKE3_CV_WORDS; ++i) {
        out[i] = v[i] ^ v[i + 8];
    }
}

// One message: tag byte (unless tag == BLAKE3_NO_TAG) followed by data.
struct Blake3Input {
    const uint8_t* data;
    int64_t len;
    uint32_t tag;
};

__device__ __forceinline__ int64_t blake3_lead(const Blake3Input& in)
{
    return in.tag == BLAKE3_NO_TAG ? 0 : 1;
}

// Byte p of the tagged message, zero past its end (block padding, §2.4).
__device__ __forceinline__ uint32_t blake3_byte(
    const Blake3Input& in, int64_t lead, int64_t p)
{
    if (p < lead) {
        return in.tag;
    }
    return p - lead < in.len ? in.data[p - lead] : 0u;
}

// Read the 16 little-endian words of the block starting at byte pos.
__device__ __forceinline__ void blake3_load_block(
    const Blake3Input& in, int64_t lead, int64_t pos,
    uint32_t m[BLAKE3_BLOCK_WORDS])
{
#pragma unroll
    for (int w = 0; w < BLAKE3_BLOCK_WORDS; ++w) {
        const int64_t p = pos + 4 * w;
        m[w] = blake3_byte(in, lead, p)
            | blake3_byte(in, lead, p + 1) << 8
            | blake3_byte(in, lead, p + 2) << 16
            | blake3_byte(in, lead, p + 3) << 24;
    }
}

// Compress every block of chunk `chunk` but its last (§2.4). Leaves the
// chaining value in cv and the last block in m; returns that block's length
// and sets its flags, so the caller compresses it as a chunk or as the root.
__device__ __forceinline__ uint32_t blake3_chunk_head(
    const Blake3Input& in, int64_t lead, int64_t total, uint64_t chunk,
    uint32_t cv[BLAKE3_CV_WORDS], uint32_t m[BLAKE3_BLOCK_WORDS],
    uint32_t* flags)
{
    const int64_t start = (int64_t)chunk * BLAKE3_CHUNK_LEN;
    const int64_t left = total - start;
    const int64_t size = left < BLAKE3_CHUNK_LEN ? left : BLAKE3_CHUNK_LEN;
#pragma unroll
    for (int i = 0; i < BLAKE3_CV_WORDS; ++i) {
        cv[i] = BLAKE3_IV[i];
    }

    uint32_t f = BLAKE3_CHUNK_START;
    int64_t pos = start;
    while (start + size - pos > BLAKE3_BLOCK_LEN) {
        blake3_load_block(in, lead, pos, m);
        blake3_compress(cv, m, chunk, BLAKE3_BLOCK_LEN, f, cv);
        f = 0;
        pos += BLAKE3_BLOCK_LEN;
    }

    blake3_load_block(in, lead, pos, m);
    *flags = f | BLAKE3_CHUNK_END;
    return (uint32_t)(start + size - pos);
}

// Push the chaining value of chunk done - 1, first merging the subtrees it
// completes (one per trailing zero bit of done, §5.1.2); returns the depth.
__device__ __forceinline__ uint32_t blake3_push_chunk(
    uint32_t stack[][BLAKE3_CV_WORDS], uint32_t depth,
    uint32_t cv[BLAKE3_CV_WORDS], uint64_t done)
{
    uint32_t m[BLAKE3_BLOCK_WORDS];
    while ((done & 1) == 0) {
        --depth;
#pragma unroll
        for (int i = 0; i < BLAKE3_CV_WORDS; ++i) {
            m[i] = stack[depth][i];
            m[i + BLAKE3_CV_WORDS] = cv[i];
        }
        blake3_compress(BLAKE3_IV, m, 0, BLAKE3_BLOCK_LEN, BLAKE3_PARENT, cv);
        done >>= 1;
    }
#pragma unroll
    for (int i = 0; i < BLAKE3_CV_WORDS; ++i) {
        stack[depth][i] = cv[i];
    }
    return depth + 1;
}

// The 32-byte BLAKE3 hash of the input, as 8 little-endian words. The
// input must not exceed BLAKE3_MAX_INPUT bytes (tag included).
__device__ __forceinline__ void blake3_hash(
    const Blake3Input& in, uint32_t out[BLAKE3_CV_WORDS])
{
    const int64_t lead = blake3_lead(in);
    const int64_t total = in.len + lead;
    const uint64_t last = total > 0 ? (uint64_t)(total - 1) / BLAKE3_CHUNK_LEN
                                    : 0;
    uint32_t stack[BLAKE3_MAX_DEPTH][BLAKE3_CV_WORDS];
    uint32_t depth = 0;
    uint32_t cv[BLAKE3_CV_WORDS];
    uint32_t m[BLAKE3_BLOCK_WORDS];
    uint32_t flags;
    uint32_t n;

    for (uint64_t c = 0; c < last; ++c) {
        n = blake3_chunk_head(in, lead, total, c, cv, m, &flags);
        blake3_compress(cv, m, c, n, flags, cv);
        depth = blake3_push_chunk(stack, depth, cv, c + 1);
    }

    // The last chunk, then each stacked subtree, feed the root (§2.6).
    n = blake3_chunk_head(in, lead, total, last, cv, m, &flags);
    uint64_t counter = last;
    while (depth > 0) {
        --depth;
        blake3_compress(cv, m, counter, n, flags, m + BLAKE3_CV_WORDS);
#pragma unroll
        for (int i = 0; i < BLAKE3_CV_WORDS; ++i) {
            m[i] = stack[depth][i];
            cv[i] = BLAKE3_IV[i];
        }
        counter = 0;
        n = BLAKE3_BLOCK_LEN;
        flags = BLAKE3_PARENT;
    }
    blake3_compress(cv, m, counter, n, flags | BLAKE3_ROOT, out);
}

// Write 8 output words as the 32 little-endian hash bytes.
__device__ __forceinline__ void blake3_store_hash(
    const uint32_t h[BLAKE3_CV_WORDS], uint8_t* __restrict__ out)
{
#pragma unroll
    for (int i = 0; i < BLAKE3_CV_WORDS; ++i) {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            out[4 * i + k] = (uint8_t)(h[i] >> (8 * k));
        }
    }
}

#endif  // ENGINE_BLAKE3_CUH
