#ifndef H5CHUNK_H
#define H5CHUNK_H
// HDF5's built-in chunk filters re-implemented byte for byte, so that chunks can
// be encoded and decoded in the caller's threads and handed to H5Dwrite_chunk /
// taken from H5Dread_chunk. None of these call HDF5; all are thread-safe.
// (Part of the HDF5Zstd package target only, not of the h5zstd plugin.)
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Shuffle (filter 2): byte j of element i moves to dst[j * count + i], count = n / size;
// the n % size trailing bytes are copied unchanged. unshuffle is the inverse.
void distillery_shuffle(void *dst, const void *src, size_t n, size_t element_size);
void distillery_unshuffle(void *dst, const void *src, size_t n, size_t element_size);

// Fletcher32 (filter 3) over n bytes, as H5_checksum_fletcher32: big-endian 16-bit
// words, an odd last byte as the high half of a word, sums folded mod 65535.
// The filter appends the result to the chunk as 4 little-endian bytes.
uint32_t distillery_fletcher32(const void *data, size_t n);

// Deflate (filter 1): zlib format (compress2 / uncompress), cd_values[0] = level.
// deflate returns the compressed size or 0 on error; inflate returns the decoded
// size or (size_t)-1 on error (including output that does not fit in cap).
size_t distillery_deflate_bound(size_t n);
size_t distillery_deflate(void *dst, size_t cap, const void *src, size_t n, int level);
size_t distillery_inflate(void *dst, size_t cap, const void *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
