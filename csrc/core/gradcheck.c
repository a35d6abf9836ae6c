/* Gradient checks: costs along perturbation directions, evaluated in a loop in C so that an
 * elementwise check costs one forward pass per point and no round trip to Python. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gradcheck.h"

static double get(const mlpc_net *net, const void *p, size_t i)
{
    return net->dtype == MLPC_FLOAT32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static void set(const mlpc_net *net, void *p, size_t i, double v)
{
    if (net->dtype == MLPC_FLOAT32) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
}

/* Columns [0, *cols) of each input row of layer L are where it is not smooth; 0 if nowhere. */
static size_t kinked_columns(const mlpc_layer *L)
{
    if (L->kind == MLPC_LAYER_PRELU) return L->in;
    if (L->kind == MLPC_LAYER_GATED) return L->act == MLPC_RELU ? L->out : 0;   /* the gate u */
    if (L->kind != MLPC_LAYER_ACTIVATION) return 0;
    switch (L->act) {
    case MLPC_STEP: case MLPC_RELU: case MLPC_LEAKY_RELU: case MLPC_ELU: case MLPC_SELU:
    case MLPC_SOFTSIGN:
        return L->in;
    default:
        return 0;
    }
}

/* Whether f' itself jumps at 0 (softsign, and ELU with α = 1, only bend f'): only there is the
 * analytic gradient at exactly 0 a convention */
static int derivative_jumps(const mlpc_layer *L)
{
    return !(L->kind == MLPC_LAYER_ACTIVATION &&
             (L->act == MLPC_SOFTSIGN || (L->act == MLPC_ELU && L->alpha == 1)));
}

static const void *layer_input(const mlpc_net *net, size_t l)
{
    return l == 0 ? net->input : mlpc_net_output(net, l - 1);
}

/* One evaluation from the entry state: J = loss + penalty. */
static int evaluate(mlpc_net *net, const mlpc_rng *rngs, const void *buffers, void *x, size_t N,
                    mlpc_loss loss, const int64_t *labels, const void *targets, double *J)
{
    for (size_t l = 0; l < net->nlayers; l++) net->layers[l].rng = rngs[l];
    memcpy(net->buffers, buffers, net->nbuffers * net->elsize);
    int rc = mlpc_net_forward(net, x, N);
    if (!rc) rc = mlpc_net_loss(net, loss, labels, targets, J);
    if (!rc) *J += mlpc_net_penalty(net);
    return rc;
}

/* Compares the kinked inputs with the unperturbed ones z0 (the layers' order, row by row).
 * *crossed: bit 0, an input changed sides; bit 1, an input sat exactly on its kink and moved
 * (then no step is clear of it, and the analytic gradient is a convention, x > 0, whatever the
 * one-sided derivatives say: when kinks crossed in opposite directions balance, they agree
 * with each other but not with it). */
static void kink_scan(const mlpc_net *net, size_t N, const double *z0, double t, double *radius,
                      uint8_t *crossed)
{
    double r = INFINITY;
    int changed = 0, on_kink = 0;
    size_t i = 0;
    for (size_t l = 0; l < net->nlayers; l++) {
        size_t cols = kinked_columns(&net->layers[l]), width = net->layers[l].in;
        const void *z = layer_input(net, l);
        int jumps = derivative_jumps(&net->layers[l]);
        for (size_t n = 0; cols && n < N; n++)
            for (size_t c = 0; c < cols; c++, i++) {
                double a = z0[i], b = get(net, z, n * width + c), dz = b - a;
                changed |= (a > 0) != (b > 0);
                on_kink |= jumps && a == 0 && dz != 0;
                if ((a > 0 && dz < 0) || (a <= 0 && dz > 0)) {
                    double ri = fabs(t) * fabs(a) / fabs(dz);
                    if (ri < r) r = ri;
                }
            }
    }
    *radius = r;
    *crossed = (uint8_t)(changed | on_kink << 1);
}

int mlpc_net_line_costs(mlpc_net *net, void *x, size_t N, mlpc_loss loss, const int64_t *labels,
                        const void *targets, size_t tensor, const size_t *start, size_t ndirs,
                        const size_t *index, const double *value, const double *steps,
                        size_t nsteps, double *base, double *costs, double *radius,
                        uint8_t *crossed)
{
    if (N == 0 || N > net->capacity || tensor > net->ntensors || start[0] != 0) return MLPC_EINVAL;
    size_t size = tensor == net->ntensors ? N * net->layers[0].in : net->tensors[tensor].size;
    size_t widest = 0;
    for (size_t d = 0; d < ndirs; d++) {
        if (start[d + 1] < start[d]) return MLPC_EINVAL;
        if (start[d + 1] - start[d] > widest) widest = start[d + 1] - start[d];
    }
    for (size_t j = 0; j < start[ndirs]; j++)
        if (index[j] >= size) return MLPC_EINVAL;
    void *target = tensor == net->ntensors ? x
                 : (char *)net->params + net->tensors[tensor].offset * net->elsize;

    size_t nkinked = 0;
    for (size_t l = 0; l < net->nlayers; l++) nkinked += N * kinked_columns(&net->layers[l]);
    double *z0 = malloc((nkinked ? nkinked : 1) * sizeof *z0);
    double *orig = malloc((widest ? widest : 1) * sizeof *orig);
    mlpc_rng *rngs = malloc(net->nlayers * sizeof *rngs);
    void *buffers = malloc((net->nbuffers ? net->nbuffers : 1) * net->elsize);
    int rc = MLPC_ENOMEM;
    if (!z0 || !orig || !rngs || !buffers) goto done;
    for (size_t l = 0; l < net->nlayers; l++) rngs[l] = net->layers[l].rng;
    memcpy(buffers, net->buffers, net->nbuffers * net->elsize);

    rc = evaluate(net, rngs, buffers, x, N, loss, labels, targets, base);
    if (rc) goto done;
    size_t i = 0;
    for (size_t l = 0; l < net->nlayers; l++) {
        size_t cols = kinked_columns(&net->layers[l]), width = net->layers[l].in;
        const void *z = layer_input(net, l);
        for (size_t n = 0; cols && n < N; n++)
            for (size_t c = 0; c < cols; c++) z0[i++] = get(net, z, n * width + c);
    }
    for (size_t d = 0; d < ndirs && !rc; d++) {
        size_t first = start[d], count = start[d + 1] - start[d];
        for (size_t j = 0; j < count; j++) orig[j] = get(net, target, index[first + j]);
        for (size_t k = 0; k < nsteps && !rc; k++) {
            double t = steps[d * nsteps + k];
            for (size_t j = 0; j < count; j++)
                set(net, target, index[first + j], orig[j] + t * value[first + j]);
            rc = evaluate(net, rngs, buffers, x, N, loss, labels, targets, &costs[d * nsteps + k]);
            if (!rc) kink_scan(net, N, z0, t, &radius[d * nsteps + k], &crossed[d * nsteps + k]);
        }
        for (size_t j = 0; j < count; j++) set(net, target, index[first + j], orig[j]);
    }
    if (!rc) {   /* leave the passes of the unperturbed batch */
        double J;
        rc = evaluate(net, rngs, buffers, x, N, loss, labels, targets, &J);
    }
done:
    free(z0);
    free(orig);
    free(rngs);
    free(buffers);
    return rc;
}
