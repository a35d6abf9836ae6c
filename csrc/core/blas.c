/* The one choice that depends on which kernels OpenBLAS runs (blas.h): how many rows a dense
 * layer's batch may have and still go through GEMV (one call per row) rather than GEMM.
 *
 * OpenBLAS's GEMM packs the whole weight matrix first, except where its kernels carry small-
 * matrix paths (the AVX-512 ones: SkylakeX, Cooperlake, SapphireRapids). Measured, one thread,
 * float32, 784×100 and 1024×1024 weights (python benchmarks/bench_step.py and a per-batch
 * sweep): with the Haswell kernels N GEMVs beat GEMM up to N = 3 and beyond (at N = 3: 9 µs
 * against 32 µs, 240 µs against 750 µs); with SkylakeX's they are even at N = 1 on 784×100 and
 * 15% faster on 1024×1024, but GEMM takes half the time from N = 2 on (N = 3: 5 µs against
 * 9.5 µs, 110 µs against 260 µs). */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include "blas.h"
#include "mlpc.h"

static size_t gemv_rows = 3;
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void)
{
    const char *core = MLPC_BLAS(openblas_get_corename)();
    static const char *small_matrix_kernels[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    for (size_t i = 0; core && i < sizeof small_matrix_kernels / sizeof *small_matrix_kernels; i++)
        if (strstr(core, small_matrix_kernels[i])) gemv_rows = 1;
}

size_t mlpc_gemv_rows(void)
{
    pthread_once(&chosen, choose);
    return gemv_rows;
}
