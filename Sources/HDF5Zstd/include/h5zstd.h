#ifndef H5ZSTD_H
#define H5ZSTD_H
// The Zstandard HDF5 filter (registered id 32015), in the public format that
// h5py + hdf5plugin and other readers use: each chunk is one plain zstd frame
// (ZSTD_compress, content size in the frame header); cd_values[0] = level.
//
// h5zstd.c is also built, alone, as an HDF5 plugin (libh5zstd.so exporting
// H5PLget_plugin_type / H5PLget_plugin_info) for h5dump and other tools.
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DISTILLERY_ZSTD_FILTER_ID 32015
#define DISTILLERY_ZSTD_DEFAULT_LEVEL 3

// Registers the filter with the HDF5 library in this process (H5Zregister).
// Idempotent and safe to call from any thread. Returns 0 on success, -1 on failure.
int distillery_register_zstd_filter(void);

// The same compression the filter applies, callable without HDF5 (thread-safe):
// one zstd frame of src[0..<n] into dst[0..<cap]. Returns the frame size, or 0 on error.
size_t distillery_zstd_compress(void *dst, size_t cap, const void *src, size_t n, int level);
// A capacity that always suffices for distillery_zstd_compress of n bytes.
size_t distillery_zstd_bound(size_t n);
// Decompresses one frame into dst[0..<cap]; returns the decoded size, or (size_t)-1 on error
// (a damaged frame, a frame without content size, or one that does not fit in cap).
size_t distillery_zstd_decompress(void *dst, size_t cap, const void *src, size_t n);
// The valid compression level range of the linked libzstd.
int distillery_zstd_min_level(void);
int distillery_zstd_max_level(void);

#ifdef __cplusplus
}
#endif
#endif
