// HDF5's shuffle, Fletcher32 and deflate filters, byte for byte (see h5chunk.h).
// Checked against libhdf5: chunks encoded here are read back by H5Dread, and
// chunks HDF5 writes are identical to the ones encoded here (Tests/HDF5Tests).
#include "h5chunk.h"

#include <string.h>
#include <zlib.h>

void distillery_shuffle(void *dst, const void *src, size_t n, size_t element_size) {
    const uint8_t *in = (const uint8_t *)src;
    uint8_t *out = (uint8_t *)dst;
    size_t count = element_size > 0 ? n / element_size : 0;
    if (element_size <= 1 || count <= 1) { memcpy(out, in, n); return; }
    for (size_t j = 0; j < element_size; j++) {
        uint8_t *plane = out + j * count;
        const uint8_t *p = in + j;
        for (size_t i = 0; i < count; i++, p += element_size) plane[i] = *p;
    }
    size_t tail = n - count * element_size;
    memcpy(out + count * element_size, in + count * element_size, tail);
}

void distillery_unshuffle(void *dst, const void *src, size_t n, size_t element_size) {
    const uint8_t *in = (const uint8_t *)src;
    uint8_t *out = (uint8_t *)dst;
    size_t count = element_size > 0 ? n / element_size : 0;
    if (element_size <= 1 || count <= 1) { memcpy(out, in, n); return; }
    for (size_t j = 0; j < element_size; j++) {
        const uint8_t *plane = in + j * count;
        uint8_t *p = out + j;
        for (size_t i = 0; i < count; i++, p += element_size) *p = plane[i];
    }
    size_t tail = n - count * element_size;
    memcpy(out + count * element_size, in + count * element_size, tail);
}

uint32_t distillery_fletcher32(const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    size_t words = n / 2;
    uint32_t sum1 = 0, sum2 = 0;
    while (words > 0) {
        // 360 words is the most that can be summed before sum2 may overflow 32 bits.
        size_t block = words > 360 ? 360 : words;
        words -= block;
        do {
            sum1 += ((uint32_t)p[0] << 8) | (uint32_t)p[1];
            sum2 += sum1;
            p += 2;
        } while (--block);
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    if (n % 2) {
        sum1 += (uint32_t)p[0] << 8;
        sum2 += sum1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    return (sum2 << 16) | sum1;
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
