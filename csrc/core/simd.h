/* Run-time CPU dispatch of the hot loops.
 *
 * A function marked MLPC_CLONES is compiled three times, for baseline x86-64 (SSE2), for
 * x86-64-v3 (AVX2, FMA) and for x86-64-v4 (AVX-512), and the dynamic loader binds the best one
 * the machine has (a GNU ifunc), once, at load time. The build itself stays baseline x86-64 (no
 * -march=native), so one wheel runs everywhere. The clones round differently (FMA contraction,
 * lane counts of the reductions written for the vectorizer), so results may differ in the last
 * bits between machines; on one machine every call takes the same clone. */
#ifndef MLPC_SIMD_H
#define MLPC_SIMD_H
#include <stdint.h>   /* a libc header (not the compiler's): it defines __GLIBC__ on glibc, which ifuncs need */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__) && \
    !defined(MLPC_NO_CLONES)
#define MLPC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MLPC_CLONES
#endif
#endif
