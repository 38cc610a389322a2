// Host harness: the CUDA kernels of cuda/ compiled by g++ for the tests.
//
// Build (tests/host_kernels.py does this):
//   g++ -std=c++17 -O2 -shared -fPIC -include cuda/host_shim.h -I cuda
//       <engine -D flags> tests/cuda_host/harness.cpp -o libkernels.so
//
// Each host_<kernel> function takes the launch shape (grid blocks, block
// threads) and then exactly the kernel's arguments, and runs every thread
// of that 1-D grid in turn, block by block.
#include "blake3_search.cu"
#include "sha256d_search.cu"
#include "blake3_leaves.cu"
#include "validate_columns.cu"

template <typename Kernel>
static void launch(uint32_t grid, uint32_t block, Kernel kernel)
{
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (uint32_t b = 0; b < grid; ++b) {
        for (uint32_t t = 0; t < block; ++t) {
            blockIdx = {b, 0, 0};
            threadIdx = {t, 0, 0};
            kernel();
        }
    }
}

extern "C" void host_blake3_search(
    uint32_t grid, uint32_t block, const uint32_t* cv, const uint32_t* words,
    uint32_t block_len, uint32_t flags, uint32_t nonce_word,
    const uint32_t* target, uint64_t start, uint64_t count,
    unsigned long long* lowest, unsigned long long* results,
    uint32_t capacity, uint32_t* n_results)
{
    launch(grid, block, [&] {
        blake3_search(cv, words, block_len, flags, nonce_word, target, start,
                      count, lowest, results, capacity, n_results);
    });
}

extern "C" void host_sha256d_search(
    uint32_t grid, uint32_t block, const uint32_t* state,
    const uint32_t* tail, const uint32_t* target, uint64_t start,
    uint64_t count, unsigned long long* lowest, unsigned long long* results,
    uint32_t capacity, uint32_t* n_results)
{
    launch(grid, block, [&] {
        sha256d_search(state, tail, target, start, count, lowest, results,
                       capacity, n_results);
    });
}

extern "C" void host_blake3_leaves(
    uint32_t grid, uint32_t block, const uint8_t* buf,
    const int64_t* offsets, const int64_t* lengths, int64_t n, uint32_t tag,
    uint8_t* out)
{
    launch(grid, block,
           [&] { blake3_leaves(buf, offsets, lengths, n, tag, out); });
}

extern "C" void host_blake3_parents(
    uint32_t grid, uint32_t block, const uint8_t* level, int64_t pairs,
    uint32_t tag, uint8_t* out)
{
    launch(grid, block, [&] { blake3_parents(level, pairs, tag, out); });
}

extern "C" void host_validate_columns(
    uint32_t grid, uint32_t block, const uint64_t* cols,
    const int64_t* offsets, const int64_t* lengths, int64_t n,
    uint64_t height, uint16_t* mask, uint64_t* units)
{
    launch(grid, block, [&] {
        validate_columns(cols, offsets, lengths, n, height, mask, units);
    });
}

extern "C" void host_apply_verify_budget(
    uint32_t grid, uint32_t block, const uint64_t* cumulative_units,
    int64_t n, uint16_t* mask)
{
    launch(grid, block,
           [&] { apply_verify_budget(cumulative_units, n, mask); });
}
