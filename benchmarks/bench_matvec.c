/* A dense layer's forward pass for a few examples: mlpc's kernel without BLAS
 * (mlpc_linear_forward_rows, linear.inc) against OpenBLAS's GEMV (once per row) and its GEMM (all
 * rows at once), on cache-line-aligned weights as a network allocates them. Thread CPU time per
 * call, median of 15 rounds, the three interleaved round by round. blas.c's crossover comes
 * from these figures. Built with setup.py's flags:
 *
 *   B=$(python -c "import scipy_openblas32 as s; print(s.get_lib_dir(), s.get_include_dir())")
 *   set -- $B; cc -O3 -std=gnu11 -fno-math-errno -fno-trapping-math -fopenmp-simd -Icsrc/core \
 *       -I$2 -DBLAS_SYMBOL_PREFIX=scipy_ benchmarks/bench_matvec.c csrc/core/linear.c \
 *       csrc/core/blas.c -L$1 -lscipy_openblas -Wl,-rpath,$1 -lpthread -o /tmp/bench_matvec
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /tmp/bench_matvec
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "blas.h"
#include "mlpc.h"

static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e6 + 1e-3 * t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { ROUNDS = 15, WAYS = 3 };

static void run(size_t N, size_t n_in, size_t n_out, int dbl)
{
    size_t el = dbl ? sizeof(double) : sizeof(float);
    void *W = aligned_alloc(64, (n_in * n_out * el + 63) / 64 * 64);
    void *x = aligned_alloc(64, (N * n_in * el + 63) / 64 * 64);
    void *b = calloc(n_out, el), *y = malloc(N * n_out * el);
    for (size_t i = 0; i < n_in * n_out; i++)
        if (dbl) ((double *)W)[i] = rand() / (double)RAND_MAX - 0.5;
        else ((float *)W)[i] = rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < N * n_in; i++)
        if (dbl) ((double *)x)[i] = rand() / (double)RAND_MAX;
        else ((float *)x)[i] = rand() / (float)RAND_MAX;
    size_t reps = 1 + 20000000 / (N * n_in * n_out);
    double t[WAYS][ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (int w = 0; w < WAYS; w++) {
            double t0 = cpu_us();
            for (size_t k = 0; k < reps; k++)
                for (size_t n = 0; n < (w == 1 ? N : 1); n++) {
                    const char *xn = (const char *)x + n * n_in * el;
                    char *yn = (char *)y + n * n_out * el;
                    if (w == 0 && dbl) mlpc_linear_forward_rows_f64(y, x, W, b, N, n_in, n_out, n_out);
                    if (w == 0 && !dbl) mlpc_linear_forward_rows_f32(y, x, W, b, N, n_in, n_out, n_out);
                    if (w == 1 && dbl)
                        MLPC_BLAS(cblas_dgemv)(CblasRowMajor, CblasNoTrans, (int)n_out, (int)n_in, 1, W,
                                               (int)n_in, (const double *)xn, 1, 0, (double *)yn, 1);
                    if (w == 1 && !dbl)
                        MLPC_BLAS(cblas_sgemv)(CblasRowMajor, CblasNoTrans, (int)n_out, (int)n_in, 1, W,
                                               (int)n_in, (const float *)xn, 1, 0, (float *)yn, 1);
                    if (w == 2 && dbl)
                        MLPC_BLAS(cblas_dgemm)(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)n_out,
                                               (int)n_in, 1, x, (int)n_in, W, (int)n_in, 0, y, (int)n_out);
                    if (w == 2 && !dbl)
                        MLPC_BLAS(cblas_sgemm)(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)n_out,
                                               (int)n_in, 1, x, (int)n_in, W, (int)n_in, 0, y, (int)n_out);
                    __asm__ volatile("" ::: "memory");
                }
            t[w][r] = (cpu_us() - t0) / reps;
        }
    printf("%-8s N=%zu %5zu x %-5zu", dbl ? "float64" : "float32", N, n_out, n_in);
    for (int w = 0; w < WAYS; w++) {
        qsort(t[w], ROUNDS, sizeof(double), by_value);
        printf("  %9.2f", t[w][ROUNDS / 2]);
    }
    printf("\n");
    free(W), free(x), free(b), free(y);
}

int main(void)
{
    printf("OpenBLAS kernels: %s\n", MLPC_BLAS(openblas_get_corename)());
    printf("µs per call        shape    mlpc dot  OpenBLAS GEMV  GEMM\n");
    size_t shapes[][2] = {{100, 784}, {10, 100}, {1024, 784}, {1024, 1024}, {10, 1024},
                          {500, 500}, {50, 3072}, {10, 10}};
    size_t batches[] = {1, 2, 3, 4, 6, 8};
    for (int dbl = 0; dbl < 2; dbl++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (size_t k = 0; k < sizeof batches / sizeof *batches; k++)
                run(batches[k], shapes[s][1], shapes[s][0], dbl);
    return 0;
}
