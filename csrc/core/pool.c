/* The worker pool (see pool.h): pthreads and C11 atomics, no OpenMP runtime.
 *
 * A job is published in one 64-bit word, `claim`: generation (32 bits) | block count (16) |
 * next unclaimed block (16). A thread takes a block by a compare-and-swap that advances the
 * next-block field of the generation it saw; the swap fails if a new job replaced the word, so
 * no thread can run a block of one job with the function of another. A job cannot end before
 * every claimed block is done, so fn and ctx, read after a successful claim, are still that
 * job's. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "blas.h"
#include "pool.h"
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/* The floating-point mode a block runs in is the caller's: rounding, flush-to-zero and
 * denormals-are-zero live in MXCSR, per thread, and a worker keeps the mode of the thread that
 * started it (a library loaded later with -ffast-math, or fesetround, changes the caller's). */
#define FP_MODE() _mm_getcsr()
#define SET_FP_MODE(m) _mm_setcsr(m)
#else
#define FP_MODE() 0u
#define SET_FP_MODE(m) ((void)(m))
#endif

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

enum { MAX_BLOCKS = 0xffff };

static struct {
    pthread_mutex_t run;            /* held by the caller whose job the pool runs */
    pthread_mutex_t lock;           /* guards sleeping and waking */
    pthread_cond_t wake;            /* workers sleep here between jobs */
    pthread_cond_t finished;        /* the caller sleeps here for the last blocks */
    _Atomic uint64_t claim;
    _Atomic size_t done;            /* blocks of the current job finished */
    mlpc_block_fn fn;
    unsigned fp_mode;               /* the caller's floating-point mode, for the current job */
    void *ctx;
    uint32_t generation;            /* of the last job published (the caller's, under `run`) */
    _Atomic int sleepers;           /* workers asleep on `wake` */
    _Atomic int caller_asleep;
    _Atomic int quit;               /* workers with index >= nworkers_wanted exit */
    int spawn_failed;               /* pthread_create failed: run with the workers there are */
    _Atomic int shared_cpu;         /* a worker saw itself descheduled while it ran blocks */
    unsigned sampled;               /* jobs since the caller last looked at its CPU time */
    unsigned strikes;               /* the caller's descheduled samples in a row */
    _Atomic size_t nthreads;        /* wanted, the caller included */
    size_t nworkers;                /* started */
    int64_t alone_until, alone_for; /* see straggled() */
    pthread_t workers[MLPC_POOL_MAX_THREADS];
} pool = {
    .run = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .finished = PTHREAD_COND_INITIALIZER,
};

static uint32_t gen_of(uint64_t c) { return (uint32_t)(c >> 32); }
static size_t count_of(uint64_t c) { return (size_t)((c >> 16) & 0xffff); }
static size_t next_of(uint64_t c) { return (size_t)(c & 0xffff); }

static int64_t clock_ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
static int64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* A thread that another program shares a CPU with gets less CPU time than the wall time its
 * blocks take. Looked at every SAMPLE_EVERY jobs (the thread's CPU clock is a system call),
 * over at least SAMPLE_MIN_NS of blocks; STRIKES samples in a row count, so that an interrupt
 * or a moment of another process on an idle machine does not. */
enum { SAMPLE_EVERY = 8, SAMPLE_MIN_NS = 20000, STRIKES = 2 };
static int struck(unsigned *strikes, int descheduled_now)
{
    *strikes = descheduled_now ? *strikes + 1 : 0;
    if (*strikes < STRIKES) return 0;
    *strikes = 0;
    return 1;
}
static int descheduled(int64_t wall0, int64_t cpu0)
{
    int64_t wall = now_ns() - wall0, cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    return wall >= SAMPLE_MIN_NS && 4 * cpu < 3 * wall;
}

/* Take and run blocks of job `gen` until none is left. */
static void drain(uint32_t gen)
{
    uint64_t c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        if (gen_of(c) != gen || next_of(c) >= count_of(c)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.claim, &c, c + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;                               /* c now holds the current word */
        size_t nblocks = count_of(c);
        if (FP_MODE() != pool.fp_mode) SET_FP_MODE(pool.fp_mode);
        pool.fn(pool.ctx, next_of(c));
        /* sequentially consistent, like the caller's store to caller_asleep then load of done:
         * one of the two sees the other, so the caller is never left asleep */
        size_t done = atomic_fetch_add(&pool.done, 1) + 1;
        if (done == nblocks && atomic_load(&pool.caller_asleep)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.finished);
            pthread_mutex_unlock(&pool.lock);
        }
        c = atomic_load_explicit(&pool.claim, memory_order_acquire);
    }
}

/* drain(gen), on every SAMPLE_EVERY-th call of this thread also looking at its CPU time since
 * wall0: whether it was descheduled (STRIKES samples in a row) */
static int drain_watched(uint32_t gen, unsigned *sampled, unsigned *strikes, int64_t wall0)
{
    int sample = ++*sampled % SAMPLE_EVERY == 0;
    int64_t cpu0 = sample ? clock_ns(CLOCK_THREAD_CPUTIME_ID) : 0;
    drain(gen);
    return sample && struck(strikes, descheduled(wall0, cpu0));
}

/* OpenBLAS takes its per-thread memory (thread-local storage, a malloc) on a thread's first
 * product that packs: taken here, at the worker's start, a steady-state step allocates nothing
 * on whichever thread its blocks land. 128³ is above the sizes OpenBLAS multiplies unpacked. */
static void warm_blas(void)
{
    enum { n = 128 };
    float *m = calloc(3 * n * n, sizeof *m);
    if (!m) return;
    MLPC_BLAS(cblas_sgemm)(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, m, n, m + n * n,
                           n, 0, m + 2 * n * n, n);
    free(m);
}

static void *worker_main(void *arg)
{
    size_t index = (size_t)(uintptr_t)arg;
    warm_blas();
    unsigned sampled = 0, strikes = 0;
    uint32_t seen = gen_of(atomic_load(&pool.claim));
    for (;;) {
        /* spin a while for the next job, then sleep */
        int64_t until = now_ns() + MLPC_POOL_SPIN_NS;
        uint32_t gen = seen;
        for (unsigned i = 1; gen == seen; i++) {
            if (atomic_load_explicit(&pool.quit, memory_order_relaxed)) break;
            CPU_RELAX();
            gen = gen_of(atomic_load_explicit(&pool.claim, memory_order_acquire));
            if (i % 64 == 0 && now_ns() > until) break;
        }
        if (gen == seen) {
            pthread_mutex_lock(&pool.lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while ((gen = gen_of(atomic_load(&pool.claim))) == seen && !atomic_load(&pool.quit))
                pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        if (atomic_load(&pool.quit) && index + 1 >= pool.nthreads) return NULL;
        if (gen != seen) {
            if (drain_watched(gen, &sampled, &strikes, now_ns())) atomic_store(&pool.shared_cpu, 1);
            seen = gen;
        }
    }
}

/* ---- threads ---- */
size_t mlpc_pool_default_threads(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
        size_t n = (size_t)CPU_COUNT(&set);
        return n < MLPC_POOL_MAX_THREADS ? n : MLPC_POOL_MAX_THREADS;
    }
#endif
    return 1;
}

/* After fork() only the forking thread exists: the child has no workers, nobody asleep. The
 * handlers hold both locks across fork() so the child gets them in a known state. */
static void before_fork(void)
{
    pthread_mutex_lock(&pool.run);
    pthread_mutex_lock(&pool.lock);
}
static void after_fork_parent(void)
{
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.run);
}
static void after_fork_child(void)
{
    pool.nworkers = 0;
    pool.spawn_failed = 0;
    pool.alone_until = pool.alone_for = 0;
    atomic_store(&pool.shared_cpu, 0);
    pool.strikes = 0;
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.caller_asleep, 0);
    atomic_store(&pool.quit, 0);
    pthread_cond_init(&pool.wake, NULL);       /* forget the waiters that were not copied */
    pthread_cond_init(&pool.finished, NULL);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.run);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void setup(void)
{
    /* OpenBLAS runs single-threaded inside every block: its own threads would compete with the
     * pool's, spin for milliseconds after each product, and sum in a thread-dependent order */
    MLPC_BLAS(openblas_set_num_threads)(1);
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    if (pool.nthreads == 0) pool.nthreads = mlpc_pool_default_threads();
}

size_t mlpc_pool_threads(void)
{
    pthread_once(&once, setup);
    return pool.nthreads;
}

/* Stops the workers beyond n − 1 (under `run`). */
static void stop_workers(size_t n)
{
    if (pool.nworkers + 1 <= n) return;
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.quit, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    /* a quitting worker checks index + 1 >= nthreads: every worker from n − 1 on leaves */
    for (size_t w = n - 1; w < pool.nworkers; w++) pthread_join(pool.workers[w], NULL);
    atomic_store(&pool.quit, 0);
    pool.nworkers = n - 1;
}

void mlpc_pool_set_threads(size_t n)
{
    pthread_once(&once, setup);
    if (n == 0) n = mlpc_pool_default_threads();
    if (n > MLPC_POOL_MAX_THREADS) n = MLPC_POOL_MAX_THREADS;
    pthread_mutex_lock(&pool.run);
    pool.nthreads = n;
    pool.spawn_failed = 0;
    stop_workers(n);
    pthread_mutex_unlock(&pool.run);
}

/* Starts the missing workers (under `run`); a failure leaves fewer workers, not an error. */
static void start_workers(void)
{
    if (pool.nworkers + 1 >= pool.nthreads || pool.spawn_failed) return;
    /* workers block every signal: Python and the application handle them on their threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.nworkers + 1 < pool.nthreads) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 1 << 20);   /* blocks need little: GEMM packs on the heap */
        int rc = pthread_create(&pool.workers[pool.nworkers], &attr, worker_main,
                                (void *)(uintptr_t)pool.nworkers);
        pthread_attr_destroy(&attr);
        if (rc) {   /* not again on every job: until the thread count is set again */
            pool.spawn_failed = 1;
            break;
        }
        pool.nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* A loaded machine. A worker that the operating system preempts while it holds a block
 * (another program busy on its core) makes the caller wait for that block: longer than the
 * caller's own share took, at worst a whole scheduler time slice. And a thread of the pool that
 * shares its CPU with another program runs at a fraction of its speed: a slow worker makes the
 * caller wait at the end of every job, a slow caller makes the passes too small to cut slower
 * than one thread alone would be, since alone it would have the free CPU. After a job that
 * straggled so, or showed a thread of the pool descheduled, the caller runs jobs alone for a
 * while (its workers then sleep and it gets a CPU of its own), 10 ms the first time and twice as
 * long after each further such job (up to a second), half as long after a job that went well;
 * results stay the same, since the blocks do. */
enum { STRAGGLE_NS = 100000, ALONE_MIN_NS = 10000000, ALONE_MAX_NS = 1000000000 };

static void straggled(int64_t start, int64_t drained, int64_t end, int slow)
{
    if (slow || end - drained > (drained - start) / 2 + STRAGGLE_NS) {
        pool.alone_for = pool.alone_for ? 2 * pool.alone_for : ALONE_MIN_NS;
        if (pool.alone_for > ALONE_MAX_NS) pool.alone_for = ALONE_MAX_NS;
        pool.alone_until = end + pool.alone_for;
    } else {
        pool.alone_for = pool.alone_for / 2 < ALONE_MIN_NS ? 0 : pool.alone_for / 2;
    }
}

static void run_alone(mlpc_block_fn fn, void *ctx, size_t nblocks)
{
    for (size_t b = 0; b < nblocks; b++) fn(ctx, b);
}

void mlpc_pool_run(mlpc_block_fn fn, void *ctx, size_t nblocks, double cost_ns)
{
    pthread_once(&once, setup);
    if (nblocks < 2 || nblocks > MAX_BLOCKS || cost_ns < MLPC_POOL_MIN_NS || pool.nthreads < 2 ||
        pthread_mutex_trylock(&pool.run) != 0) {
        run_alone(fn, ctx, nblocks);
        return;
    }
    start_workers();   /* even for a job run alone: a steady state then starts no thread */
    int64_t start = now_ns();
    if (start < pool.alone_until || pool.nworkers == 0) {
        pthread_mutex_unlock(&pool.run);
        run_alone(fn, ctx, nblocks);
        return;
    }
    pool.fn = fn;
    pool.fp_mode = FP_MODE();
    pool.ctx = ctx;
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t gen = ++pool.generation;
    atomic_store(&pool.claim, (uint64_t)gen << 32 | (uint64_t)nblocks << 16);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    int slow = drain_watched(gen, &pool.sampled, &pool.strikes, start);
    /* the blocks still running are the workers': spin a while, then sleep until the last ends */
    int64_t drained = now_ns(), until = drained + MLPC_POOL_SPIN_NS;
    for (unsigned i = 1; atomic_load_explicit(&pool.done, memory_order_acquire) < nblocks; i++) {
        CPU_RELAX();
        if (i % 64 == 0 && now_ns() > until) {
            pthread_mutex_lock(&pool.lock);
            atomic_store(&pool.caller_asleep, 1);
            while (atomic_load(&pool.done) < nblocks) pthread_cond_wait(&pool.finished, &pool.lock);
            atomic_store(&pool.caller_asleep, 0);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    slow |= atomic_exchange(&pool.shared_cpu, 0);
    straggled(start, drained, now_ns(), slow);
    pthread_mutex_unlock(&pool.run);
}
