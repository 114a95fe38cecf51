// HDF5's shuffle, Fletcher32 and deflate filters, byte for byte (see h5chunk.h).
// Checked against libhdf5: chunks encoded here are read back by H5Dread, and
// chunks HDF5 writes are identical to the ones encoded here (Tests/HDF5Tests).
#include "h5chunk.h"

#include <string.h>
#include <zlib.h>

// Element sizes 2, 4 and 8 (fp16/bf16, float32/int32, int64 data) get loops of a fixed
// stride, which the compiler turns into vector shuffles; other sizes take the generic loop.
#define SHUFFLE_FIXED(SIZE)                                                             \
    static void shuffle_##SIZE(uint8_t *restrict out, const uint8_t *restrict in, size_t count) { \
        for (size_t i = 0; i < count; i++)                                              \
            for (size_t j = 0; j < SIZE; j++) out[j * count + i] = in[i * SIZE + j];     \
    }                                                                                   \
    static void unshuffle_##SIZE(uint8_t *restrict out, const uint8_t *restrict in, size_t count) { \
        for (size_t i = 0; i < count; i++)                                              \
            for (size_t j = 0; j < SIZE; j++) out[i * SIZE + j] = in[j * count + i];     \
    }
SHUFFLE_FIXED(2)
SHUFFLE_FIXED(4)
SHUFFLE_FIXED(8)

void distillery_shuffle(void *dst, const void *src, size_t n, size_t element_size) {
    const uint8_t *in = (const uint8_t *)src;
    uint8_t *out = (uint8_t *)dst;
    size_t count = element_size > 0 ? n / element_size : 0;
    if (element_size <= 1 || count <= 1) { memcpy(out, in, n); return; }
    switch (element_size) {
    case 2: shuffle_2(out, in, count); break;
    case 4: shuffle_4(out, in, count); break;
    case 8: shuffle_8(out, in, count); break;
    default:
        for (size_t j = 0; j < element_size; j++) {
            uint8_t *plane = out + j * count;
            const uint8_t *p = in + j;
            for (size_t i = 0; i < count; i++, p += element_size) plane[i] = *p;
        }
    }
    size_t tail = n - count * element_size;
    memcpy(out + count * element_size, in + count * element_size, tail);
}

void distillery_unshuffle(void *dst, const void *src, size_t n, size_t element_size) {
    const uint8_t *in = (const uint8_t *)src;
    uint8_t *out = (uint8_t *)dst;
    size_t count = element_size > 0 ? n / element_size : 0;
    if (element_size <= 1 || count <= 1) { memcpy(out, in, n); return; }
    switch (element_size) {
    case 2: unshuffle_2(out, in, count); break;
    case 4: unshuffle_4(out, in, count); break;
    case 8: unshuffle_8(out, in, count); break;
    default:
        for (size_t j = 0; j < element_size; j++) {
            const uint8_t *plane = in + j * count;
            uint8_t *p = out + j;
            for (size_t i = 0; i < count; i++, p += element_size) *p = plane[i];
        }
    }
    size_t tail = n - count * element_size;
    memcpy(out + count * element_size, in + count * element_size, tail);
}

// HDF5 adds word by word (sum1 += w; sum2 += sum1) and folds both sums every 360 words.
// The same value, computed in blocks that vectorise: over a block of B words starting from
// sums s1, s2, sum1 gains Σw and sum2 gains B·s1 + Σ(B − i)·w_i. With B ≤ 256 both block
// sums fit 32 bits (65535 · 256·257/2 < 2³²); the running sums are kept mod 65535.
// HDF5's folding keeps a sum at 0 only while every word so far is 0, and otherwise yields a
// value in 1...65535 congruent to the true sum: a true sum ≡ 0 becomes 65535, not 0.
uint32_t distillery_fletcher32(const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    size_t words = n / 2;
    uint64_t sum1 = 0, sum2 = 0;
    uint32_t nonzero = 0;
    while (words > 0) {
        uint32_t block = words > 256 ? 256 : (uint32_t)words;
        uint32_t s1 = 0, s2 = 0;
        for (uint32_t i = 0; i < block; i++) {
            uint32_t w = ((uint32_t)p[2 * i] << 8) | (uint32_t)p[2 * i + 1];
            s1 += w;
            s2 += (block - i) * w;
        }
        nonzero |= s1;
        sum2 = (sum2 + (uint64_t)block * sum1 + s2) % 65535;
        sum1 = (sum1 + s1) % 65535;
        p += 2 * (size_t)block;
        words -= block;
    }
    if (n % 2) {  // an odd last byte is the high half of a word
        uint32_t w = (uint32_t)p[0] << 8;
        nonzero |= w;
        sum1 = (sum1 + w) % 65535;
        sum2 = (sum2 + sum1) % 65535;
    }
    if (!nonzero) return 0;
    uint32_t a = sum1 ? (uint32_t)sum1 : 65535, b = sum2 ? (uint32_t)sum2 : 65535;
    return (b << 16) | a;
}

size_t distillery_deflate_bound(size_t n) { return (size_t)compressBound((uLong)n); }

size_t distillery_deflate(void *dst, size_t cap, const void *src, size_t n, int level) {
    uLongf written = (uLongf)cap;
    if (compress2((Bytef *)dst, &written, (const Bytef *)src, (uLong)n, level) != Z_OK) return 0;
    return (size_t)written;
}

size_t distillery_inflate(void *dst, size_t cap, const void *src, size_t n) {
    uLongf written = (uLongf)cap;
    uLong consumed = (uLong)n;
    if (uncompress2((Bytef *)dst, &written, (const Bytef *)src, &consumed) != Z_OK) return (size_t)-1;
    return (size_t)written;
}
