/* Throughput of one linear layer's GEMM on this CPU: OpenBLAS sgemm (fp32) against oneDNN's
 * matmul primitive with bf16 inputs and fp32 accumulation and output (AVX-512 BF16), the
 * building block issue 16 plans for `--precision bf16`. Not product code: a measurement.
 *
 *   cc -O2 scripts/bench/gemm_probe.c -o build/gemm_probe $(pkg-config --cflags --libs openblas) -ldnnl -lm
 *   OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 build/gemm_probe 4096 384 1536
 *
 * Computes y (M, N) = x (M, K) · Wᵀ (W: N, K), as a linear layer does; prints the median GFLOP/s of
 * 7 runs each and the largest difference of the bf16 result from fp32, relative to max |y|. The
 * bf16 weights are reordered once into the layout the primitive prefers (format `any`), as a model's
 * weights would be when it is loaded; the reorder is not timed.
 */
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call) do { dnnl_status_t s = (call); if (s != dnnl_success) { fprintf(stderr, "%s: status %d\n", #call, s); exit(1); } } while (0)

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int compare(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static uint16_t to_bf16(float f) { uint32_t u; memcpy(&u, &f, 4); return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16); }

int main(int argc, char **argv) {
    long m = argc > 3 ? atol(argv[1]) : 4096, k = argc > 3 ? atol(argv[2]) : 384, n = argc > 3 ? atol(argv[3]) : 1536;
    float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k);
    float *y32 = malloc(sizeof(float) * m * n), *y16 = malloc(sizeof(float) * m * n);
    uint16_t *xb = malloc(2 * m * k), *wb = malloc(2 * n * k);
    srand(1);
    for (long i = 0; i < m * k; i++) { x[i] = (float)rand() / RAND_MAX - 0.5f; xb[i] = to_bf16(x[i]); }
    for (long i = 0; i < n * k; i++) { w[i] = (float)rand() / RAND_MAX - 0.5f; wb[i] = to_bf16(w[i]); }
    double flops = 2.0 * m * n * k, times[7];

    for (int r = 0; r < 8; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1, x, (int)k, w, (int)k, 0, y32, (int)n);
        if (r > 0) times[r - 1] = now() - t;
    }
    qsort(times, 7, sizeof(double), compare);
    printf("sgemm fp32 (OpenBLAS) %ldx%ldx%ld: %.0f GFLOP/s\n", m, k, n, flops / times[3] * 1e-9);

    dnnl_engine_t engine; dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    dnnl_memory_desc_t src, weights, dst;
    dnnl_dims_t src_dims = {m, k}, weight_dims = {k, n}, dst_dims = {m, n};
    CHECK(dnnl_memory_desc_init_by_tag(&src, 2, src_dims, dnnl_bf16, dnnl_ab));
    dnnl_memory_desc_t stored;
    CHECK(dnnl_memory_desc_init_by_tag(&stored, 2, weight_dims, dnnl_bf16, dnnl_ba));  /* W stored (N, K): Wᵀ in column order */
    CHECK(dnnl_memory_desc_init_by_tag(&weights, 2, weight_dims, dnnl_bf16, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst, 2, dst_dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, &src, &weights, NULL, &dst));
    dnnl_primitive_desc_t pd; dnnl_primitive_t matmul;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    CHECK(dnnl_primitive_create(&matmul, pd));
    const char *impl = NULL;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    dnnl_memory_t ms, mw, mstored, md;
    CHECK(dnnl_memory_create(&ms, &src, engine, xb));
    /* Reorder the stored weights into the primitive's layout, once. */
    const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    CHECK(dnnl_memory_create(&mstored, &stored, engine, wb));
    CHECK(dnnl_memory_create(&mw, chosen, engine, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd; dnnl_primitive_t reorder;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &stored, engine, chosen, engine, NULL));
    CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t reorder_args[2] = {{DNNL_ARG_FROM, mstored}, {DNNL_ARG_TO, mw}};
    CHECK(dnnl_primitive_execute(reorder, stream, 2, reorder_args));
    CHECK(dnnl_stream_wait(stream));
    CHECK(dnnl_memory_create(&md, &dst, engine, y16));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}};
    for (int r = 0; r < 8; r++) {
        double t = now();
        CHECK(dnnl_primitive_execute(matmul, stream, 3, args));
        CHECK(dnnl_stream_wait(stream));
        if (r > 0) times[r - 1] = now() - t;
    }
    qsort(times, 7, sizeof(double), compare);
    double worst = 0, scale = 0;
    for (long i = 0; i < m * n; i++) { worst = fmax(worst, fabs(y16[i] - y32[i])); scale = fmax(scale, fabs(y32[i])); }
    printf("matmul bf16 in, fp32 out (oneDNN %d.%d, %s) %ldx%ldx%ld: %.0f GFLOP/s; max |bf16 - fp32| / max |y| = %.2e\n",
           DNNL_VERSION_MAJOR, DNNL_VERSION_MINOR, impl, m, k, n, flops / times[3] * 1e-9, worst / scale);
    return 0;
}
