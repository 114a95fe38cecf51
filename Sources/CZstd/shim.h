#ifndef DISTILLERY_CZSTD_SHIM_H
#define DISTILLERY_CZSTD_SHIM_H
#include <zstd.h>
#endif
