// The cache writer's fp16 encoding with the hardware conversion. Swift's Float16 converts one value
// an instruction; here VCVTPS2PH converts eight, and VCVTPH2PS decodes them again for the error.
#include "HalfFloatVector.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline uint32_t error_bits(float x, float decoded) {
    union { float f; uint32_t u; } a = { .f = x }, e = { .f = decoded - x };
    if ((a.u & 0x7f800000u) == 0x7f800000u) return 0;  // inf and NaN are kept as themselves
    return e.u & 0x7fffffffu;
}

uint32_t hfv_encode_halves(const float *values, uint16_t *out, size_t count) {
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff), exponent = _mm256_set1_epi32(0x7f800000);
    __m256i worst = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 x = _mm256_loadu_ps(values + i);
        __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(out + i), h);
        __m256i error = _mm256_and_si256(_mm256_castps_si256(_mm256_sub_ps(_mm256_cvtph_ps(h), x)), magnitude);
        __m256i special = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(x), exponent), exponent);
        worst = _mm256_max_epu32(worst, _mm256_andnot_si256(special, error));
    }
    uint32_t lanes[8], result = 0;
    _mm256_storeu_si256((__m256i *)lanes, worst);
    for (int j = 0; j < 8; j++) result = lanes[j] > result ? lanes[j] : result;
    for (; i < count; i++) {
        uint16_t h = _cvtss_sh(values[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        out[i] = h;
        uint32_t e = error_bits(values[i], _cvtsh_ss(h));
        result = e > result ? e : result;
    }
    return result;
}
#endif
