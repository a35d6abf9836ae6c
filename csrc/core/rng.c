/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. Integer arithmetic only, so a seed
 * gives the same stream on every machine; normals go through libm's log, sqrt and cos. */
#include <math.h>
#include "mlpc.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mlpc_rng_seed(mlpc_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mlpc_rng_next(mlpc_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mlpc_rng_uniform(mlpc_rng *rng) { return (double)(mlpc_rng_next(rng) >> 11) * 0x1.0p-53; }

double mlpc_rng_normal(mlpc_rng *rng)
{
    /* Box-Muller with 1 − u ∈ (0, 1] so the log is finite; one variate per call keeps no state */
    double u = 1.0 - mlpc_rng_uniform(rng), v = mlpc_rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}
