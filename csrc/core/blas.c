/* The choices that depend on which kernels OpenBLAS runs (blas.h): which batches of a dense
 * layer skip GEMM.
 *
 * OpenBLAS's GEMM packs the whole weight matrix first, except where its kernels carry small-
 * matrix paths (the AVX-512 ones: SkylakeX, Cooperlake, SapphireRapids) and the product is
 * small. Measured, one thread, float32 and float64 (benchmarks/bench_matvec.c, weights from
 * 10×10 to 1024×1024, 1 to 8 rows):
 *
 * - Forward. mlpc_linear_forward_rows (linear.inc) beats GEMM at every shape with the Haswell
 *   kernels up to 8 rows (100×784 at 8 rows: 10.5 µs against 26; 1024×1024: 194 against
 *   357). With SkylakeX's it beats GEMM at 1 row (1.8 µs against 2.6) and wherever GEMM packs,
 *   which it did in every case of more than 2^20 multiply-adds (1024×1024 at 2 rows: 44 µs
 *   against 332; 50×3072 at 8: 17 against 66); below that the small-matrix path wins from 2
 *   rows on (500×500 at 2 rows: 10.2 µs against 13.5; 100×784 at 4: 2.7 against 5.2).
 * - Backward, dx (and at N = 1 dW, by an outer product). N GEMVs beat GEMM up to N = 3 with
 *   the Haswell kernels (at N = 3: 9 µs against 32 µs, 240 µs against 750 µs); with SkylakeX's
 *   they are even at N = 1 on 784×100 and 15% faster on 1024×1024, but GEMM takes half the
 *   time from N = 2 on (N = 3: 5 µs against 9.5 µs, 110 µs against 260 µs). */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include "blas.h"
#include "mlpc.h"

static int small_matrix_paths;
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void)
{
    const char *core = MLPC_BLAS(openblas_get_corename)();
    static const char *with_paths[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    for (size_t i = 0; core && i < sizeof with_paths / sizeof *with_paths; i++)
        if (strstr(core, with_paths[i])) small_matrix_paths = 1;
}

int mlpc_forward_by_rows(size_t N, size_t n_in, size_t n_out)
{
    pthread_once(&chosen, choose);
    if (N > 8) return 0;
    return !small_matrix_paths || N == 1 || (double)N * (double)n_in * (double)n_out > 0x1p20;
}

size_t mlpc_gemv_rows(void)
{
    pthread_once(&chosen, choose);
    return small_matrix_paths ? 1 : 3;
}
