// blake3_leaves and blake3_parents: the BLAKE3 hashes behind the receipts
// Merkle tree (engine/merkle.py), one thread per hash.
//
// Algorithm: BLAKE3 hash mode (spec §2), any input length, through
// blake3_hash in blake3.cuh: chunks compressed in order, chaining values
// merged on a stack of BLAKE3_MAX_DEPTH levels (inputs up to
// BLAKE3_MAX_INPUT bytes, 4 TiB by default, beyond any device buffer).
//
// blake3_leaves inputs:
//   buf              the batch's bytes
//   offsets, lengths item i is buf[offsets[i] : offsets[i] + lengths[i]]
//                    (int64, each range inside buf; the host checks this)
//   n                number of items
//   tag              a byte 0..255 hashed before every item (LEAF_TAG), or
//                    BLAKE3_NO_TAG (256) to hash the items alone
// blake3_parents inputs:
//   level            2 * pairs hashes of 32 bytes, one tree level
//   pairs            number of parents to compute
//   tag              as above (NODE_TAG)
//
// Launch: 1-D grid of at least n (or pairs) threads; thread i computes
// item i, threads past the end return at once.
//
// Output: out[32 * i .. 32 * i + 32] = BLAKE3(tag || item i), the hash's
// bytes in BLAKE3's little-endian output order; for parents, item k is
// level[64 * k .. 64 * k + 64] (left child || right child).
#include "blake3.cuh"

extern "C" __global__ void blake3_leaves(
    const uint8_t* __restrict__ buf, const int64_t* __restrict__ offsets,
    const int64_t* __restrict__ lengths, int64_t n, uint32_t tag,
    uint8_t* __restrict__ out)
{
    const int64_t i = (int64_t)global_thread_index();
    if (i >= n) {
        return;
    }

    const Blake3Input item = {buf + offsets[i], lengths[i], tag};

    uint32_t h[BLAKE3_CV_WORDS];
    blake3_hash(item, h);

    blake3_store_hash(h, out + (int64_t)BLAKE3_OUT_LEN * i);
}

extern "C" __global__ void blake3_parents(
    const uint8_t* __restrict__ level, int64_t pairs, uint32_t tag,
    uint8_t* __restrict__ out)
{
    const int64_t k = (int64_t)global_thread_index();
    if (k >= pairs) {
        return;
    }

    const int64_t width = 2 * (int64_t)BLAKE3_OUT_LEN;
    const Blake3Input children = {level + width * k, width, tag};

    uint32_t h[BLAKE3_CV_WORDS];
    blake3_hash(children, h);

    blake3_store_hash(h, out + (int64_t)BLAKE3_OUT_LEN * k);
}
