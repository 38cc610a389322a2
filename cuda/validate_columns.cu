// validate_columns and apply_verify_budget: the per-receipt error mask of
// engine.validation.check_columns, one thread per receipt.
//
// Algorithm: the rules of engine/validation.py over the columns the
// scanner writes (engine/scan.py, engine/columns.py); each rule sets one
// bit of a uint16 mask. Every constant below is an #ifndef default that the
// host overrides with -D flags built from the Python modules (limits,
// validation, scan), so the Python values always win.
//
// Inputs:
//   cols      engine.scan.N_COLUMNS x n uint64 matrix, row-major:
//             cols[row * n + i] is receipt i's value in row `row` (ROW_*
//             below; row 0 holds the kind, string and signature rows hold
//             byte lengths)
//   offsets, lengths  int64 byte range of each receipt in the batch
//   n         number of receipts
//   height    the block height every receipt must carry
//
// Launch: 1-D grid of at least n threads; thread i checks receipt i.
//
// Output: validate_columns writes mask[i] with every rule's bit except
// BIT_VERIFY_BUDGET, and units[i] = verify units of receipt i
// (engine.validation.verify_units). The host then writes the inclusive
// prefix sum of units, and apply_verify_budget sets BIT_VERIFY_BUDGET where
// that running sum passes MAX_VERIFY_UNITS. uint64 arithmetic wraps, as
// NumPy's does.
#include "common.cuh"

// Rows of the columns matrix (engine.scan.D_*; row 0 holds the kind).
#ifndef ROW_KIND
#define ROW_KIND 0
#endif
#ifndef ROW_HEIGHT
#define ROW_HEIGHT 1
#endif
#ifndef ROW_QUANTITY
#define ROW_QUANTITY 2
#endif
#ifndef ROW_VALUE
#define ROW_VALUE 3
#endif
#ifndef ROW_ID0
#define ROW_ID0 4
#endif
#ifndef ROW_ID1
#define ROW_ID1 5
#endif
#ifndef ROW_EXTRA
#define ROW_EXTRA 6
#endif
#ifndef ROW_SIGNATURE
#define ROW_SIGNATURE 7
#endif
#ifndef ROW_VERIFIED
#define ROW_VERIFIED 9
#endif

// Mask bit positions (engine.validation).
#ifndef BIT_TOO_MANY
#define BIT_TOO_MANY 0
#endif
#ifndef BIT_TOO_LARGE
#define BIT_TOO_LARGE 1
#endif
#ifndef BIT_VERIFY_BUDGET
#define BIT_VERIFY_BUDGET 2
#endif
#ifndef BIT_HEIGHT_MISMATCH
#define BIT_HEIGHT_MISMATCH 3
#endif
#ifndef BIT_EMPTY_ID0
#define BIT_EMPTY_ID0 4
#endif
#ifndef BIT_EMPTY_ID1
#define BIT_EMPTY_ID1 5
#endif
#ifndef BIT_LONG_ID0
#define BIT_LONG_ID0 6
#endif
#ifndef BIT_LONG_ID1
#define BIT_LONG_ID1 7
#endif
#ifndef BIT_LONG_EXTRA
#define BIT_LONG_EXTRA 8
#endif
#ifndef BIT_ZERO_QUANTITY
#define BIT_ZERO_QUANTITY 9
#endif
#ifndef BIT_ZERO_VALUE
#define BIT_ZERO_VALUE 10
#endif
#ifndef BIT_EMPTY_SIGNATURE
#define BIT_EMPTY_SIGNATURE 11
#endif
#ifndef BIT_MALFORMED_SIGNATURE
#define BIT_MALFORMED_SIGNATURE 12
#endif

// Receipt kind codes (engine.validation.KIND_*).
#ifndef KIND_STORAGE
#define KIND_STORAGE 0
#endif
#ifndef KIND_COMPUTE
#define KIND_COMPUTE 1
#endif
#ifndef KIND_ENERGY
#define KIND_ENERGY 2
#endif
#ifndef KIND_AD
#define KIND_AD 3
#endif

// Block budgets and field limits (engine.limits).
#ifndef MAX_RECEIPTS
#define MAX_RECEIPTS 10000
#endif
#ifndef MAX_BLOCK_BYTES
#define MAX_BLOCK_BYTES 10000000
#endif
#ifndef MAX_VERIFY_UNITS
#define MAX_VERIFY_UNITS 100000
#endif
#ifndef MAX_STRING_BYTES
#define MAX_STRING_BYTES 256
#endif
#ifndef SIGNATURE_BYTES
#define SIGNATURE_BYTES 64
#endif

// Verify units: a base cost plus a kind-specific part (engine.limits).
#ifndef VERIFY_BASE
#define VERIFY_BASE 10
#endif
#ifndef STORAGE_BYTES_PER_UNIT
#define STORAGE_BYTES_PER_UNIT 1000
#endif
#ifndef STORAGE_MAX_EXTRA
#define STORAGE_MAX_EXTRA 50
#endif
#ifndef COMPUTE_EXTRA
#define COMPUTE_EXTRA 5
#endif
#ifndef COMPUTE_VERIFIED_EXTRA
#define COMPUTE_VERIFIED_EXTRA 5
#endif
#ifndef ENERGY_EXTRA
#define ENERGY_EXTRA 3
#endif
#ifndef AD_IMPRESSIONS_PER_UNIT
#define AD_IMPRESSIONS_PER_UNIT 10000
#endif
#ifndef AD_MAX_EXTRA
#define AD_MAX_EXTRA 10
#endif

__device__ __forceinline__ uint16_t rule_bit(bool failed, int bit)
{
    return failed ? (uint16_t)(1u << bit) : (uint16_t)0;
}

__device__ __forceinline__ uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

// engine.validation.verify_units for one receipt.
__device__ __forceinline__ uint64_t receipt_units(
    uint64_t kind, uint64_t quantity, uint64_t verified)
{
    uint64_t extra = 0;
    if (kind == KIND_STORAGE) {
        extra = min_u64(quantity / STORAGE_BYTES_PER_UNIT, STORAGE_MAX_EXTRA);
    } else if (kind == KIND_COMPUTE) {
        extra = COMPUTE_EXTRA + (uint64_t)COMPUTE_VERIFIED_EXTRA * verified;
    } else if (kind == KIND_ENERGY) {
        extra = ENERGY_EXTRA;
    } else if (kind == KIND_AD) {
        extra = min_u64(quantity / AD_IMPRESSIONS_PER_UNIT, AD_MAX_EXTRA);
    }
    return extra + VERIFY_BASE;
}

// Bits of the rules on the string and signature lengths.
__device__ __forceinline__ uint16_t length_bits(
    uint64_t id0, uint64_t id1, uint64_t extra, uint64_t signature)
{
    const uint64_t longest = MAX_STRING_BYTES;
    return rule_bit(id0 == 0, BIT_EMPTY_ID0)
        | rule_bit(id1 == 0, BIT_EMPTY_ID1)
        | rule_bit(id0 > longest, BIT_LONG_ID0)
        | rule_bit(id1 > longest, BIT_LONG_ID1)
        | rule_bit(extra > longest, BIT_LONG_EXTRA)
        | rule_bit(signature == 0, BIT_EMPTY_SIGNATURE)
        | rule_bit(signature != 0 && signature != SIGNATURE_BYTES,
                   BIT_MALFORMED_SIGNATURE);
}

extern "C" __global__ void validate_columns(
    const uint64_t* __restrict__ cols, const int64_t* __restrict__ offsets,
    const int64_t* __restrict__ lengths, int64_t n, uint64_t height,
    uint16_t* __restrict__ mask, uint64_t* __restrict__ units)
{
    const int64_t i = (int64_t)global_thread_index();
    if (i >= n) {
        return;
    }

    const uint64_t* __restrict__ col = cols + i;
    const uint64_t kind = col[ROW_KIND * n];
    const uint64_t quantity = col[ROW_QUANTITY * n];
    // NumPy adds the int64 offsets and lengths with wrap-around.
    const int64_t end = (int64_t)((uint64_t)offsets[i] + (uint64_t)lengths[i]);

    const uint16_t bits = rule_bit(i >= MAX_RECEIPTS, BIT_TOO_MANY)
        | rule_bit(end > MAX_BLOCK_BYTES, BIT_TOO_LARGE)
        | rule_bit(col[ROW_HEIGHT * n] != height, BIT_HEIGHT_MISMATCH)
        | rule_bit(quantity == 0, BIT_ZERO_QUANTITY)
        | rule_bit(col[ROW_VALUE * n] == 0, BIT_ZERO_VALUE)
        | length_bits(col[ROW_ID0 * n], col[ROW_ID1 * n],
                      col[ROW_EXTRA * n], col[ROW_SIGNATURE * n]);

    mask[i] = bits;
    units[i] = receipt_units(kind, quantity, col[ROW_VERIFIED * n]);
}

extern "C" __global__ void apply_verify_budget(
    const uint64_t* __restrict__ cumulative_units, int64_t n,
    uint16_t* __restrict__ mask)
{
    const int64_t i = (int64_t)global_thread_index();
    if (i >= n) {
        return;
    }

    if (cumulative_units[i] > (uint64_t)MAX_VERIFY_UNITS) {
        mask[i] |= (uint16_t)(1u << BIT_VERIFY_BUDGET);
    }
}
