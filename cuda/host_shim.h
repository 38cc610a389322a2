// Host shim: lets g++ compile the CUDA kernel sources unchanged, for the
// tests that run them without a GPU (tests/cuda_host/harness.cpp). Use with
// g++ -include cuda/host_shim.h.
//
// Kernels run one thread at a time: the harness sets blockIdx and
// threadIdx and calls the kernel for each thread of the grid in turn. That
// is a valid schedule for these kernels (no shared memory, no barriers),
// so the atomics below need no locking; they use the compiler's atomic
// builtins anyway. Only the intrinsics the kernels use are emulated.
#ifndef ENGINE_HOST_SHIM_H
#define ENGINE_HOST_SHIM_H

#include <stdint.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __constant__ static const

struct ShimDim3 {
    uint32_t x, y, z;
};

// One launch at a time per host thread: the harness owns these.
static thread_local ShimDim3 threadIdx, blockIdx, blockDim, gridDim;

static inline uint32_t atomicAdd(uint32_t* address, uint32_t value)
{
    return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}

static inline unsigned long long atomicMin(
    unsigned long long* address, unsigned long long value)
{
    const int order = __ATOMIC_RELAXED;
    unsigned long long old = __atomic_load_n(address, order);
    // A failed exchange reloads old; stop once the stored value is lower.
    while (value < old && !__atomic_compare_exchange_n(
               address, &old, value, true, order, order)) {
    }
    return old;
}

// Byte k of the result is byte (selector nibble k & 7) of y:x (PTX prmt).
static inline uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s)
{
    const uint64_t bytes = (uint64_t)y << 32 | x;
    uint32_t result = 0;
    for (int k = 0; k < 4; ++k) {
        const uint32_t pick = s >> (4 * k) & 7u;
        result |= (uint32_t)(bytes >> (8 * pick) & 0xFFu) << (8 * k);
    }
    return result;
}

// The low word of hi:lo shifted right by shift & 31 bits.
static inline uint32_t __funnelshift_r(uint32_t lo, uint32_t hi, uint32_t shift)
{
    const uint64_t both = (uint64_t)hi << 32 | lo;
    return (uint32_t)(both >> (shift & 31u));
}

#endif  // ENGINE_HOST_SHIM_H
