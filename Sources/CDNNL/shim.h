#ifndef DISTILLERY_CDNNL_SHIM_H
#define DISTILLERY_CDNNL_SHIM_H
// oneDNN (Debian libdnnl-dev 2.6): the matmul primitive with bf16 inputs and fp32 output.
#include <oneapi/dnnl/dnnl.h>

// DNNL_MEMORY_ALLOCATE is a cast macro Swift cannot import.
static inline void *distillery_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
#endif
