/* mlpc's worker pool: the one source of parallelism in the core.
 *
 * A pass splits its work into blocks whose boundaries depend only on the shapes of the work,
 * never on the number of threads, and writes each block's results to memory no other block
 * touches (a value summed over blocks goes to a per-block partial that the caller combines in
 * block order afterwards). Which thread runs a block then cannot change a single bit: results
 * are the same for 1, 2, 3, ... threads.
 *
 * The caller works too: it takes blocks like any worker, so n threads are the caller and n − 1
 * workers. Blocks are handed out one at a time as threads become free, so a worker that the
 * operating system preempts (a loaded machine) delays only the block it holds. A worker that
 * finds no work spins for MLPC_POOL_SPIN_NS, then sleeps on a condition variable.
 *
 * Threads: mlpc_pool_set_threads(n) (0: the default, the CPUs this process may run on). One
 * pool serves the process; a second thread that calls mlpc_pool_run while the pool is busy, or
 * a block that calls it, runs its blocks alone, in order: the same results, no deadlock.
 * After fork() the child starts with no workers and creates them on its first parallel job. */
#ifndef MLPC_POOL_H
#define MLPC_POOL_H
#include <stddef.h>

/* Below this estimated single-thread time a job runs on the caller: waking a worker and
 * waiting for the last block costs a few microseconds (benchmarks/bench_pool.c measures it). */
#define MLPC_POOL_MIN_NS 20000.0
/* How long an idle worker spins before it sleeps: longer than the gaps between the passes of
 * a step and between the steps of a training loop, far shorter than a human notices as load. */
#define MLPC_POOL_SPIN_NS 50000
#define MLPC_POOL_MAX_THREADS 256

typedef void (*mlpc_block_fn)(void *ctx, size_t block);

/* Runs fn(ctx, b) for every b in [0, nblocks) and returns when all are done. cost_ns: the
 * estimated time of the whole job on one thread; below MLPC_POOL_MIN_NS the caller runs the
 * blocks alone, in order. */
void mlpc_pool_run(mlpc_block_fn fn, void *ctx, size_t nblocks, double cost_ns);

/* The threads a job may use, the caller included: n in [1, MLPC_POOL_MAX_THREADS] or 0 for the
 * default. Waits for a running job to finish; surplus workers exit. */
void mlpc_pool_set_threads(size_t n);
size_t mlpc_pool_threads(void);
size_t mlpc_pool_default_threads(void);   /* CPUs in this process's affinity mask */

/* Block b of a range of n items cut into blocks of `size` items: [*lo, *hi). */
static inline void mlpc_block_range(size_t b, size_t n, size_t size, size_t *lo, size_t *hi)
{
    *lo = b * size;
    *hi = *lo + size < n ? *lo + size : n;
}
static inline size_t mlpc_block_count(size_t n, size_t size) { return (n + size - 1) / size; }
#endif
