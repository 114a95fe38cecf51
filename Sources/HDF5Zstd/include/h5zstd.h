#ifndef H5ZSTD_H
#define H5ZSTD_H
#endif
