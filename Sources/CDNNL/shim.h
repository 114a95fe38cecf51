#ifndef DISTILLERY_CDNNL_SHIM_H
#define DISTILLERY_CDNNL_SHIM_H
// oneDNN (Debian libdnnl-dev 2.6): the matmul primitive with bf16 inputs and fp32 output.
#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>

// Debian's oneDNN runs on OpenMP (libgomp, loaded with it): a primitive uses the calling thread's
// team size, set here. Looked up at run time: libgomp.so (the link name) is not on every machine.
static inline void distillery_omp_set_num_threads(int n) {
    static void (*set)(int) = 0;
    if (!set) set = (void (*)(int))dlsym((void *)0 /* RTLD_DEFAULT */, "omp_set_num_threads");
    if (set) set(n);
}
#endif
