/* Weight initializers (fan_in = cols, fan_out = rows of a (out, in) weight matrix).
 *   xavier (Glorot): std √(2/(fan_in + fan_out)), bound √(6/(fan_in + fan_out))
 *   he (Kaiming):    std √(2/fan_in),              bound √(6/fan_in)
 *   lecun:           std √(1/fan_in),              bound √(3/fan_in)  — the "Xavier" of some notes
 *   orthogonal:      gain · Q of a Gaussian matrix (rows or columns orthonormal, whichever fit) */
#include <math.h>
#include <string.h>
#include "mlpc.h"

static void fill_normal(double *w, size_t n, double std, mlpc_rng *rng)
{
    for (size_t i = 0; i < n; i++) w[i] = std * mlpc_rng_normal(rng);
}

static void fill_uniform(double *w, size_t n, double a, mlpc_rng *rng)
{
    for (size_t i = 0; i < n; i++) w[i] = a * (2.0 * mlpc_rng_uniform(rng) - 1.0);
}

/* Orthonormalize the k vectors of length m stored `vstride` apart with entries `estride` apart,
 * by modified Gram-Schmidt run twice ("twice is enough" for full working accuracy). */
static void orthonormalize(double *w, size_t k, size_t m, size_t vstride, size_t estride)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < k; i++) {
            double *vi = w + i * vstride;
            for (size_t j = 0; j < i; j++) {
                const double *vj = w + j * vstride;
                double dot = 0;
                for (size_t e = 0; e < m; e++) dot += vi[e * estride] * vj[e * estride];
                for (size_t e = 0; e < m; e++) vi[e * estride] -= dot * vj[e * estride];
            }
            double norm = 0;
            for (size_t e = 0; e < m; e++) norm += vi[e * estride] * vi[e * estride];
            norm = sqrt(norm);
            for (size_t e = 0; e < m; e++) vi[e * estride] = norm > 0 ? vi[e * estride] / norm : 0;
        }
}

int mlpc_init_fill(double *w, size_t rows, size_t cols, mlpc_init kind, double value,
                   mlpc_rng *rng)
{
    size_t n = rows * cols;
    double fan_in = (double)cols, fan_out = (double)rows;
    switch (kind) {
    case MLPC_INIT_ZEROS: memset(w, 0, n * sizeof *w); break;
    case MLPC_INIT_CONSTANT: for (size_t i = 0; i < n; i++) w[i] = value; break;
    case MLPC_INIT_NORMAL: fill_normal(w, n, value, rng); break;
    case MLPC_INIT_UNIFORM: fill_uniform(w, n, value, rng); break;
    case MLPC_INIT_XAVIER_NORMAL: fill_normal(w, n, sqrt(2.0 / (fan_in + fan_out)), rng); break;
    case MLPC_INIT_XAVIER_UNIFORM: fill_uniform(w, n, sqrt(6.0 / (fan_in + fan_out)), rng); break;
    case MLPC_INIT_HE_NORMAL: fill_normal(w, n, sqrt(2.0 / fan_in), rng); break;
    case MLPC_INIT_HE_UNIFORM: fill_uniform(w, n, sqrt(6.0 / fan_in), rng); break;
    case MLPC_INIT_LECUN_NORMAL: fill_normal(w, n, sqrt(1.0 / fan_in), rng); break;
    case MLPC_INIT_LECUN_UNIFORM: fill_uniform(w, n, sqrt(3.0 / fan_in), rng); break;
    case MLPC_INIT_ORTHOGONAL:
        fill_normal(w, n, 1.0, rng);
        if (rows <= cols) orthonormalize(w, rows, cols, cols, 1);   /* orthonormal rows */
        else orthonormalize(w, cols, rows, 1, cols);                /* orthonormal columns */
        for (size_t i = 0; i < n; i++) w[i] *= value;
        break;
    default: return MLPC_EINVAL;
    }
    return MLPC_OK;
}
