// Definitions every kernel file shares: fixed-width integer types, the
// "not found" sentinel, and the byte-swap and rotate helpers.
//
// The same sources build three ways: nvcc (standard headers present),
// NVRTC through CuPy's RawModule (no standard headers, __CUDACC_RTC__ set),
// and g++ through cuda/host_shim.h for the host tests, which emulates the
// two intrinsics used here (__byte_perm, __funnelshift_r).
#ifndef ENGINE_COMMON_CUH
#define ENGINE_COMMON_CUH

#ifdef __CUDACC_RTC__
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
#else
#include <stdint.h>
#endif

// The host initialises the lowest-winner word to this; it stays so when no
// nonce of the range wins.
static constexpr unsigned long long NOT_FOUND = 0xFFFFFFFFFFFFFFFFull;

// A 256-bit hash or target as 32-bit words, most significant word first.
static constexpr int HASH_WORDS = 8;

// __byte_perm selector that reverses the four bytes of its first operand.
static constexpr uint32_t BYTE_PERM_REVERSE = 0x0123u;

__device__ __forceinline__ uint32_t bswap32(uint32_t x)
{
    return __byte_perm(x, 0u, BYTE_PERM_REVERSE);
}

__device__ __forceinline__ uint32_t rotr32(uint32_t x, uint32_t n)
{
    return __funnelshift_r(x, x, n);
}

// Index of this thread in a one-dimensional launch, and the launch's size.
__device__ __forceinline__ uint64_t global_thread_index()
{
    return (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ uint64_t global_thread_count()
{
    return (uint64_t)gridDim.x * blockDim.x;
}

// Record a winning nonce: every winner takes a result slot while slots last,
// and the lowest one survives in *lowest whatever the capacity.
__device__ __forceinline__ void record_winner(
    uint64_t nonce, unsigned long long* lowest, unsigned long long* results,
    uint32_t capacity, uint32_t* n_results)
{
    const uint32_t slot = atomicAdd(n_results, 1u);
    if (slot < capacity) {
        results[slot] = nonce;
    }
    atomicMin(lowest, (unsigned long long)nonce);
}

// True when the 256-bit value (most significant word first) <= target.
__device__ __forceinline__ bool value_meets_target(
    const uint32_t value[HASH_WORDS], const uint32_t target[HASH_WORDS])
{
#pragma unroll
    for (int i = 0; i < HASH_WORDS; ++i) {
        if (value[i] != target[i]) {
            return value[i] < target[i];
        }
    }
    return true;
}

#endif  // ENGINE_COMMON_CUH
