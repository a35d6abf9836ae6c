/* The worker pool's own cost: a job of two blocks run alone, handed to a spinning worker, and
 * handed to a sleeping one (the caller's wall time, best of many). pool.h's MLPC_POOL_MIN_NS
 * and MLPC_POOL_SPIN_NS come from these figures.
 *
 *   B=$(python -c "import scipy_openblas32 as s; print(s.get_lib_dir(), s.get_include_dir())")
 *   set -- $B; cc -O2 -Icsrc/core -I$2 -DBLAS_SYMBOL_PREFIX=scipy_ benchmarks/bench_pool.c \
 *       csrc/core/pool.c -L$1 -lscipy_openblas -Wl,-rpath,$1 -lpthread -o /tmp/bench_pool
 *   /tmp/bench_pool
 */
#include <stdio.h>
#include <time.h>
#include "pool.h"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + 1e-3 * t.tv_nsec;
}

static volatile double sink;

static void adds(void *ctx, size_t block)
{
    size_t n = *(size_t *)ctx;
    double s = (double)block;
    for (size_t i = 0; i < n; i++) s += (double)i * 1e-9;
    sink = s;
}

int main(void)
{
    mlpc_pool_set_threads(2);
    size_t sizes[] = {0, 100, 1000, 10000, 100000};
    for (int k = 0; k < 5; k++) {
        size_t n = sizes[k];
        double alone = 1e9, spinning = 1e9, asleep = 1e9;
        for (int rep = 0; rep < 2000; rep++) {
            double t0 = now_us();
            mlpc_pool_run(adds, &n, 2, 0);           /* below the threshold: on the caller */
            double t1 = now_us();
            mlpc_pool_run(adds, &n, 2, 1e9);         /* the worker spins from the last job */
            double t2 = now_us();
            if (t1 - t0 < alone) alone = t1 - t0;
            if (t2 - t1 < spinning) spinning = t2 - t1;
        }
        for (int rep = 0; rep < 50; rep++) {
            struct timespec pause = {0, 2000000};    /* 2 ms: the worker has gone to sleep */
            nanosleep(&pause, NULL);
            double t0 = now_us();
            mlpc_pool_run(adds, &n, 2, 1e9);
            double t = now_us() - t0;
            if (t < asleep) asleep = t;
        }
        printf("2 blocks of %6zu adds: alone %7.2f us, worker spinning %7.2f us, "
               "worker asleep %7.2f us\n", n, alone, spinning, asleep);
    }
    return 0;
}
