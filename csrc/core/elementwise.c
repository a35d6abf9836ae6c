#include "mlpc.h"

/* Reductions that scan every value of a buffer get an AVX2 clone beside the baseline x86-64 one;
 * the loader picks per machine, so wheels still run everywhere. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define MLPC_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MLPC_SIMD_CLONES
#endif
#define MLPC_TEMPLATE "elementwise.inc"
#include "instantiate.h"
