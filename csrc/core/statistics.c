#include <math.h>
#include <string.h>
#include "mlpc.h"

/* The recorder's scans run over every recorded value at every recorded step: each gets an AVX2
 * clone beside the baseline x86-64 one, and the loader picks per machine, so wheels still run
 * everywhere. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define MLPC_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MLPC_SIMD_CLONES
#endif
#if defined(__GNUC__)
#define MLPC_ALWAYS_INLINE __attribute__((always_inline))
#else
#define MLPC_ALWAYS_INLINE
#endif
#define MLPC_TEMPLATE "statistics.inc"
#include "instantiate.h"
