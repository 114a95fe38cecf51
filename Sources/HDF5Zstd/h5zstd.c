// The Zstandard HDF5 filter, id 32015: one plain zstd frame per chunk.
//
// Write: out = ZSTD_compress(chunk, level), level = cd_values[0] (default 3).
// Read:  size = ZSTD_getFrameContentSize(frame); out = ZSTD_decompress(frame).
// A filter returns 0 on error, and HDF5 then fails the read or write.
//
// This file is built twice: into the HDF5Zstd Swift package target, and alone
// by the Makefile as the plugin build/hdf5-plugins/libh5zstd.so, which HDF5
// tools load through HDF5_PLUGIN_PATH (H5PLget_plugin_type / _info below).
#include "h5zstd.h"

#include <hdf5.h>
#include <H5PLextern.h>
#include <stdlib.h>
#include <zstd.h>

size_t distillery_zstd_bound(size_t n) { return ZSTD_compressBound(n); }

int distillery_zstd_min_level(void) { return ZSTD_minCLevel(); }
int distillery_zstd_max_level(void) { return ZSTD_maxCLevel(); }

size_t distillery_zstd_compress(void *dst, size_t cap, const void *src, size_t n, int level) {
    size_t written = ZSTD_compress(dst, cap, src, n, level);
    return ZSTD_isError(written) ? 0 : written;
}

size_t distillery_zstd_decompress(void *dst, size_t cap, const void *src, size_t n) {
    unsigned long long content = ZSTD_getFrameContentSize(src, n);
    if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR || content > cap)
        return (size_t)-1;
    size_t decoded = ZSTD_decompress(dst, cap, src, n);
    if (ZSTD_isError(decoded) || decoded != content) return (size_t)-1;
    return decoded;
}

// The H5Z_func_t. Buffers belong to HDF5 and are malloc/free'd (HDF5's H5MM
// allocator is plain malloc in release builds; every public filter relies on it).
static size_t zstd_filter(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[],
                          size_t nbytes, size_t *buf_size, void **buf) {
    void *out;
    size_t out_size, written;

    if (flags & H5Z_FLAG_REVERSE) {
        unsigned long long content = ZSTD_getFrameContentSize(*buf, nbytes);
        if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR) return 0;
        out_size = (size_t)content;
        out = malloc(out_size > 0 ? out_size : 1);
        if (out == NULL) return 0;
        written = distillery_zstd_decompress(out, out_size, *buf, nbytes);
        if (written == (size_t)-1) { free(out); return 0; }
    } else {
        int level = cd_nelmts > 0 ? (int)cd_values[0] : DISTILLERY_ZSTD_DEFAULT_LEVEL;
        out_size = ZSTD_compressBound(nbytes);
        out = malloc(out_size);
        if (out == NULL) return 0;
        written = distillery_zstd_compress(out, out_size, *buf, nbytes, level);
        if (written == 0) { free(out); return 0; }
    }
    free(*buf);
    *buf = out;
    *buf_size = out_size;
    return written;
}

static const H5Z_class2_t zstd_filter_class = {
    H5Z_CLASS_T_VERS,                          // version of this struct
    (H5Z_filter_t)DISTILLERY_ZSTD_FILTER_ID,   // id
    1,                                         // encoder present
    1,                                         // decoder present
    "zstd",                                    // name, shown by h5dump and H5Pget_filter2
    NULL,                                      // can_apply
    NULL,                                      // set_local
    zstd_filter,
};

// Registering the same class again replaces it with itself, so this is idempotent.
// (H5Zfilter_avail is not used as a guard: it would search the plugin path first.)
int distillery_register_zstd_filter(void) {
    return H5Zregister(&zstd_filter_class) < 0 ? -1 : 0;
}

// Plugin entry points (HDF5 dlopen()s the library and asks for these two).
H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_FILTER; }
const void *H5PLget_plugin_info(void) { return &zstd_filter_class; }
