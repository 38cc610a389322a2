// SHA-256 round, message schedule and compression, for one thread.
//
// Algorithm: FIPS 180-4, §4.1.2 (functions), §4.2.2 (constants), §5.3.3
// (initial hash value), §6.2.2 (hash computation). Message words are
// big-endian 32-bit words; the state is 8 words a..h.
//
// The schedule is kept as a rolling window of 16 words (word t lives in
// w[t % 16]) and every loop is unrolled, so all indices are compile-time
// constants and the window and state stay in registers.
#ifndef ENGINE_SHA256_CUH
#define ENGINE_SHA256_CUH

#include "common.cuh"

static constexpr int SHA256_ROUNDS = 64;
static constexpr int SHA256_SCHEDULE_WORDS = 16;
static constexpr int SHA256_STATE_WORDS = 8;
static constexpr uint32_t SHA256_PAD_WORD = 0x80000000u;

__constant__ uint32_t SHA256_K[SHA256_ROUNDS] = {
    0x428A2F98u, 0x71374491u, 0xB5C0FBCFu, 0xE9B5DBA5u,
    0x3956C25Bu, 0x59F111F1u, 0x923F82A4u, 0xAB1C5ED5u,
    0xD807AA98u, 0x12835B01u, 0x243185BEu, 0x550C7DC3u,
    0x72BE5D74u, 0x80DEB1FEu, 0x9BDC06A7u, 0xC19BF174u,
    0xE49B69C1u, 0xEFBE4786u, 0x0FC19DC6u, 0x240CA1CCu,
    0x2DE92C6Fu, 0x4A7484AAu, 0x5CB0A9DCu, 0x76F988DAu,
    0x983E5152u, 0xA831C66Du, 0xB00327C8u, 0xBF597FC7u,
    0xC6E00BF3u, 0xD5A79147u, 0x06CA6351u, 0x14292967u,
    0x27B70A85u, 0x2E1B2138u, 0x4D2C6DFCu, 0x53380D13u,
    0x650A7354u, 0x766A0ABBu, 0x81C2C92Eu, 0x92722C85u,
    0xA2BFE8A1u, 0xA81A664Bu, 0xC24B8B70u, 0xC76C51A3u,
    0xD192E819u, 0xD6990624u, 0xF40E3585u, 0x106AA070u,
    0x19A4C116u, 0x1E376C08u, 0x2748774Cu, 0x34B0BCB5u,
    0x391C0CB3u, 0x4ED8AA4Au, 0x5B9CCA4Fu, 0x682E6FF3u,
    0x748F82EEu, 0x78A5636Fu, 0x84C87814u, 0x8CC70208u,
    0x90BEFFFAu, 0xA4506CEBu, 0xBEF9A3F7u, 0xC67178F2u,
};

__constant__ uint32_t SHA256_IV[SHA256_STATE_WORDS] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

// The four functions of §4.1.2 (4.4 to 4.7): big and small sigma.
__device__ __forceinline__ uint32_t sha256_big0(uint32_t x)
{
    return rotr32(x, 2) ^ rotr32(x, 13) ^ rotr32(x, 22);
}

__device__ __forceinline__ uint32_t sha256_big1(uint32_t x)
{
    return rotr32(x, 6) ^ rotr32(x, 11) ^ rotr32(x, 25);
}

__device__ __forceinline__ uint32_t sha256_small0(uint32_t x)
{
    return rotr32(x, 7) ^ rotr32(x, 18) ^ (x >> 3);
}

__device__ __forceinline__ uint32_t sha256_small1(uint32_t x)
{
    return rotr32(x, 17) ^ rotr32(x, 19) ^ (x >> 10);
}

// One round of §6.2.2 step 3; kw is K[t] + W[t].
__device__ __forceinline__ void sha256_round(
    uint32_t s[SHA256_STATE_WORDS], uint32_t kw)
{
    const uint32_t ch = (s[4] & s[5]) ^ (~s[4] & s[6]);
    const uint32_t maj = (s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]);
    const uint32_t t1 = s[7] + sha256_big1(s[4]) + ch + kw;
    const uint32_t t2 = sha256_big0(s[0]) + maj;
    s[7] = s[6];
    s[6] = s[5];
    s[5] = s[4];
    s[4] = s[3] + t1;
    s[3] = s[2];
    s[2] = s[1];
    s[1] = s[0];
    s[0] = t1 + t2;
}

// Schedule word t >= 16 (§6.2.2 step 1) into the rolling window.
__device__ __forceinline__ void sha256_expand(
    uint32_t w[SHA256_SCHEDULE_WORDS], int t)
{
    const int n = SHA256_SCHEDULE_WORDS;
    w[t % n] += sha256_small0(w[(t - 15) % n]) + w[(t - 7) % n]
        + sha256_small1(w[(t - 2) % n]);
}

// Rounds FIRST..63 over the block in w, whose words 0..15 are intact.
template <int FIRST>
__device__ __forceinline__ void sha256_rounds(
    uint32_t s[SHA256_STATE_WORDS], uint32_t w[SHA256_SCHEDULE_WORDS])
{
#pragma unroll
    for (int t = FIRST; t < SHA256_ROUNDS; ++t) {
        if (t >= SHA256_SCHEDULE_WORDS) {
            sha256_expand(w, t);
        }
        sha256_round(s, SHA256_K[t] + w[t % SHA256_SCHEDULE_WORDS]);
    }
}

// out = s + base, word by word (§6.2.2 step 4).
__device__ __forceinline__ void sha256_add(
    const uint32_t s[SHA256_STATE_WORDS],
    const uint32_t base[SHA256_STATE_WORDS],
    uint32_t out[SHA256_STATE_WORDS])
{
#pragma unroll
    for (int i = 0; i < SHA256_STATE_WORDS; ++i) {
        out[i] = s[i] + base[i];
    }
}

#endif  // ENGINE_SHA256_CUH
