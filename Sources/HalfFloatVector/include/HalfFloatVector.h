#ifndef DISTILLERY_HALF_FLOAT_VECTOR_H
#define DISTILLERY_HALF_FLOAT_VECTOR_H

#include <stddef.h>
#include <stdint.h>

/// Float -> IEEE binary16 bits (little-endian), rounded to nearest even by the CPU's conversion
/// (F16C, eight values an instruction), and the bit pattern of the largest |decoded - x| over the
/// finite x (non-negative floats order like their bit patterns). The same bits as
/// `HalfFloat.half`, which the tests check; the CLI refuses CPUs without F16C (CPUFeatures).
#if defined(__x86_64__)
uint32_t hfv_encode_halves(const float *values, uint16_t *out, size_t count);
#endif

#endif
