"""Does OpenBLAS round a product differently when its fixed blocks run along the other side?

The training kernels split each product into 8 fixed blocks (`parallelBlocks`), one
single-threaded sgemm each. This probe computes the student's products (forward, input gradient,
weight gradient) at several row counts both ways, split over rows/output features and over the
other side, through the system's OpenBLAS, and prints whether the bits agree. On the Emerald Rapids
machine of docs/benchmarks.md ("Sixth session") the weight gradient agreed in every shape, and the
forward and input gradient did not at 16 rows (OpenBLAS takes other kernels for small blocks).

Run: OPENBLAS_CORETYPE=SkylakeX python3 scripts/bench/split_probe.py
(the CLI picks that core type itself on CPUs OpenBLAS 0.3.21 does not know; see docs/benchmarks.md).
"""
import ctypes

import numpy as np

blas = ctypes.CDLL("libopenblas.so.0")
blas.openblas_set_num_threads(1)
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
FloatPointer = ctypes.POINTER(ctypes.c_float)


def at(array, offset=0):
    return ctypes.cast(array.ctypes.data + 4 * offset, FloatPointer)


def sgemm(c, a, b, m, n, k, trans_a, trans_b, lda, ldb, ldc, beta):
    blas.cblas_sgemm(ROW_MAJOR, TRANS if trans_a else NO_TRANS, TRANS if trans_b else NO_TRANS, m, n, k,
                     ctypes.c_float(1.0), a, lda, b, ldb, ctypes.c_float(beta), c, ldc)


def blocks(count, minimum, most=8):
    """The partition of Kernels.parallelBlocks."""
    n = max(1, min(most, count // max(1, minimum)))
    return [(count * i // n, count * (i + 1) // n) for i in range(n)]


def main():
    rng = np.random.default_rng(0)
    shapes = [(1024, 384, 1536), (1024, 384, 1152), (1024, 1536, 384), (4096, 1536, 384), (4096, 384, 1536),
              (640, 384, 1536), (320, 384, 1536), (320, 1536, 384), (96, 384, 1536), (96, 384, 384),
              (32, 384, 384), (16, 384, 384), (16, 384, 1152), (16, 1536, 384), (16, 384, 2)]  # short batches, pooler, classifier
    for rows, inputs, outputs in shapes:
        x = rng.standard_normal((rows, inputs), dtype=np.float32)
        w = rng.standard_normal((outputs, inputs), dtype=np.float32)
        g = rng.standard_normal((rows, outputs), dtype=np.float32)
        # out = x · wᵀ: row blocks against output-feature blocks.
        by_rows, by_features = np.zeros((rows, outputs), np.float32), np.zeros((rows, outputs), np.float32)
        for s, e in blocks(rows, 64):
            sgemm(at(by_rows, s * outputs), at(x, s * inputs), at(w), e - s, outputs, inputs, False, True, inputs, inputs, outputs, 0)
        for s, e in blocks(outputs, 32):
            sgemm(at(by_features, s), at(x), at(w, s * inputs), rows, e - s, inputs, False, True, inputs, inputs, outputs, 0)
        # dw += gᵀ · x: output-feature blocks against input-feature blocks.
        by_out, by_in = np.zeros((outputs, inputs), np.float32), np.zeros((outputs, inputs), np.float32)
        for s, e in blocks(outputs, 32):
            sgemm(at(by_out, s * inputs), at(g, s), at(x), e - s, inputs, rows, True, False, outputs, inputs, inputs, 1)
        for s, e in blocks(inputs, 32):
            sgemm(at(by_in, s), at(g), at(x, s), outputs, e - s, rows, True, False, outputs, inputs, inputs, 1)
        # dx += g · w: row blocks against input-feature blocks.
        dx_rows, dx_features = np.zeros((rows, inputs), np.float32), np.zeros((rows, inputs), np.float32)
        for s, e in blocks(rows, 64):
            sgemm(at(dx_rows, s * inputs), at(g, s * outputs), at(w), e - s, inputs, outputs, False, False, outputs, inputs, inputs, 1)
        for s, e in blocks(inputs, 32):
            sgemm(at(dx_features, s), at(g), at(w, s), rows, e - s, outputs, False, False, outputs, inputs, inputs, 1)
        print(f"{rows} rows, {inputs} -> {outputs}: forward same bits {np.array_equal(by_rows, by_features)}, "
              f"weight gradient {np.array_equal(by_out, by_in)}, input gradient {np.array_equal(dx_rows, dx_features)}")


if __name__ == "__main__":
    main()
