/* Network construction, memory, and the dtype dispatch of the passes in net.inc. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "net.h"
#include "pool.h"

#define MLPC_TEMPLATE "net.inc"
#include "instantiate.h"

const char *mlpc_strerror(int code)
{
    switch (code) {
    case MLPC_OK: return "ok";
    case MLPC_ENOMEM: return "out of memory";
    case MLPC_EINVAL: return "invalid argument";
    case MLPC_ELABEL: return "class label out of range";
    case MLPC_ESTATE: return "call out of order";
    case MLPC_EBATCH: return "batch normalization in training mode needs more than one example per batch";
    default: return "unknown error";
    }
}

/* a * b, or SIZE_MAX when it overflows (an allocation of SIZE_MAX then fails cleanly) */
static size_t mul(size_t a, size_t b) { return (b && a > SIZE_MAX / b) ? SIZE_MAX : a * b; }
static size_t add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* n · size zero bytes starting on a cache line, released by released(): a weight matrix whose
 * rows start off one reads every 64-byte vector from two lines (B4's batch-1 forward: 2.2–2.4
 * µs against 1.9 µs). From calloc, so that a large block stays untouched zero pages until it is
 * used (an eval forward never writes its gradient block); the pointer calloc gave is kept in
 * the bytes below the aligned start. */
static void *zeroed(size_t n, size_t size)
{
    size_t bytes = mul(n ? n : 1, size);
    if (bytes > SIZE_MAX - 64) return NULL;
    char *raw = calloc(bytes + 64, 1);
    if (!raw) return NULL;
    char *p = raw + (64 - (uintptr_t)raw % 64);   /* 16 to 64 bytes in: room for the pointer */
    memcpy(p - sizeof raw, &raw, sizeof raw);
    return p;
}

static void released(void *p)
{
    if (!p) return;
    char *raw;
    memcpy(&raw, (char *)p - sizeof raw, sizeof raw);
    free(raw);
}

/* ---- reference-counted blocks ---- */
mlpc_block *mlpc_block_new(size_t bytes)
{
    mlpc_block *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->data = zeroed(bytes, 1);
    if (!b->data) { free(b); return NULL; }
    b->refs = 1;
    b->bytes = bytes;
    return b;
}

void mlpc_block_retain(mlpc_block *b) { b->refs++; }

void mlpc_block_release(mlpc_block *b)
{
    if (b && --b->refs == 0) { released(b->data); free(b); }
}

/* tensors a layer owns, as (rows, cols, is_weight) */
static size_t layer_tensors(const mlpc_layer *L, size_t shape[2][3])
{
    switch (L->kind) {
    case MLPC_LAYER_LINEAR:
        shape[0][0] = L->out; shape[0][1] = L->in; shape[0][2] = 1;
        shape[1][0] = 1; shape[1][1] = L->out; shape[1][2] = 0;
        return L->option ? 2 : 1;
    case MLPC_LAYER_ACTIVATION:
        shape[0][0] = 1; shape[0][1] = 1; shape[0][2] = 0;
        return L->option ? 1 : 0;
    case MLPC_LAYER_PRELU:
        shape[0][0] = 1; shape[0][1] = L->option ? 1 : L->out; shape[0][2] = 0;
        return 1;
    case MLPC_LAYER_BATCHNORM:
    case MLPC_LAYER_LAYERNORM:
        for (int k = 0; k < 2; k++) { shape[k][0] = 1; shape[k][1] = L->out; shape[k][2] = 0; }
        return L->option ? 2 : 0;
    default:
        return 0;
    }
}

static int check_layer(const mlpc_layer *layers, size_t l)
{
    const mlpc_layer *L = &layers[l];
    if (L->in == 0 || L->out == 0) return MLPC_EINVAL;
    if (L->in > INT_MAX || L->out > INT_MAX) return MLPC_ENOMEM;   /* GEMM takes int sizes */
    if (l > 0 && layers[l - 1].out != L->in) return MLPC_EINVAL;
    switch (L->kind) {
    case MLPC_LAYER_LINEAR: return MLPC_OK;
    case MLPC_LAYER_GATED:
        if (L->in != 2 * L->out) return MLPC_EINVAL;
        /* fall through */
    case MLPC_LAYER_ACTIVATION:
        return (unsigned)L->act < MLPC_NUM_ACTIVATIONS ? MLPC_OK : MLPC_EINVAL;
    case MLPC_LAYER_BATCHNORM:
    case MLPC_LAYER_LAYERNORM:
        return L->in == L->out && L->alpha >= 0 ? MLPC_OK : MLPC_EINVAL;
    case MLPC_LAYER_DROPOUT:
        return L->in == L->out && L->alpha >= 0 && L->alpha < 1 ? MLPC_OK : MLPC_EINVAL;
    case MLPC_LAYER_RESIDUAL:
        return L->in == L->out && L->skip < l && layers[L->skip].in == L->in ? MLPC_OK : MLPC_EINVAL;
    case MLPC_LAYER_PRELU:
        return L->in == L->out ? MLPC_OK : MLPC_EINVAL;
    default:
        return MLPC_EINVAL;
    }
}

static void fill(void *buf, mlpc_dtype dtype, size_t offset, size_t n, double value)
{
    for (size_t i = 0; i < n; i++) {
        if (dtype == MLPC_FLOAT32) ((float *)buf)[offset + i] = (float)value;
        else ((double *)buf)[offset + i] = value;
    }
}

int mlpc_net_create(mlpc_net **out, mlpc_dtype dtype, const mlpc_layer *layers, size_t nlayers)
{
    *out = NULL;
    if (nlayers == 0 || (dtype != MLPC_FLOAT32 && dtype != MLPC_FLOAT64)) return MLPC_EINVAL;
    for (size_t l = 0; l < nlayers; l++) {
        int rc = check_layer(layers, l);
        if (rc) return rc;
    }
    mlpc_net *net = calloc(1, sizeof *net);
    if (!net) return MLPC_ENOMEM;
    net->dtype = dtype;
    net->elsize = dtype == MLPC_FLOAT32 ? sizeof(float) : sizeof(double);
    net->nlayers = nlayers;
    net->training = 1;
    net->layers = malloc(nlayers * sizeof *net->layers);
    net->tensors = malloc(2 * nlayers * sizeof *net->tensors);
    net->out_off = calloc(nlayers, sizeof(size_t));
    net->grad_off = calloc(nlayers + 1, sizeof(size_t));
    net->cache_off = calloc(nlayers, sizeof(size_t));
    if (!net->layers || !net->tensors || !net->out_off || !net->grad_off || !net->cache_off)
        goto nomem;
    memcpy(net->layers, layers, nlayers * sizeof *layers);

    /* lay the tensors out one after another in the parameter block */
    for (size_t l = 0; l < nlayers; l++) {
        mlpc_layer *L = &net->layers[l];
        size_t shape[2][3];
        L->tensor = net->ntensors;
        L->ntensors = layer_tensors(L, shape);
        for (size_t k = 0; k < L->ntensors; k++) {
            mlpc_tensor *T = &net->tensors[net->ntensors++];
            T->rows = shape[k][0];
            T->cols = shape[k][1];
            T->size = mul(T->rows, T->cols);
            T->offset = net->nparams;
            T->layer = l;
            T->is_weight = (int)shape[k][2];
            net->nparams = add(net->nparams, T->size);
        }
        if (L->kind == MLPC_LAYER_BATCHNORM) {
            L->buffer = net->nbuffers;
            net->nbuffers = add(net->nbuffers, 2 * L->out);
        }
        if (L->kind == MLPC_LAYER_DROPOUT) mlpc_rng_seed(&L->rng, L->seed);
    }
    net->params = zeroed(net->nparams, net->elsize);
    net->grads = zeroed(net->nparams, net->elsize);
    net->buffers = zeroed(net->nbuffers, net->elsize);
    net->chunk_sums = calloc(mlpc_block_count(net->nparams, MLPC_CHUNK) + 1, sizeof(double));
    if (!net->params || !net->grads || !net->buffers || !net->chunk_sums) goto nomem;

    /* starting values that are not zero: γ = 1, slopes and β at alpha, running variance 1 */
    for (size_t l = 0; l < nlayers; l++) {
        const mlpc_layer *L = &net->layers[l];
        const mlpc_tensor *T = &net->tensors[L->tensor];
        if (L->ntensors && (L->kind == MLPC_LAYER_PRELU || L->kind == MLPC_LAYER_ACTIVATION))
            fill(net->params, dtype, T->offset, T->size, L->alpha);
        if (L->ntensors && (L->kind == MLPC_LAYER_BATCHNORM || L->kind == MLPC_LAYER_LAYERNORM))
            fill(net->params, dtype, T->offset, T->size, 1.0);
        if (L->kind == MLPC_LAYER_BATCHNORM)
            fill(net->buffers, dtype, L->buffer + L->out, L->out, 1.0);
    }
    *out = net;
    return mlpc_net_reserve(net, 1);
nomem:
    mlpc_net_free(net);
    return MLPC_ENOMEM;
}

void mlpc_net_free(mlpc_net *net)
{
    if (!net) return;
    mlpc_block_release(net->outputs);
    mlpc_block_release(net->doutputs);
    mlpc_block_release(net->cache);
    released(net->params); released(net->grads); released(net->buffers); free(net->chunk_sums);
    free(net->out_off); free(net->grad_off); free(net->cache_off);
    free(net->layers); free(net->tensors);
    free(net);
}

/* elements of per-batch cache a layer needs for C examples */
static size_t cache_size(const mlpc_layer *L, size_t C)
{
    size_t M = L->out;
    switch (L->kind) {
    case MLPC_LAYER_BATCHNORM: return add(mul(C, M), 2 * M);   /* x̂, mean, var */
    case MLPC_LAYER_LAYERNORM: return add(mul(C, M), mul(2, C));
    case MLPC_LAYER_DROPOUT: return mul(C, M);                 /* the mask */
    default: return 0;
    }
}

/* Element counts of the three per-batch blocks for C examples; with `write`, also the offsets. */
static void layout(mlpc_net *net, size_t C, int write, size_t *nout, size_t *ngrad, size_t *ncache)
{
    *nout = *ngrad = *ncache = 0;
    for (size_t l = 0; l < net->nlayers; l++) {
        const mlpc_layer *L = &net->layers[l];
        if (write) {
            net->out_off[l] = *nout;
            net->grad_off[l] = *ngrad;
            net->cache_off[l] = *ncache;
        }
        *nout = add(*nout, mul(C, L->out));
        *ngrad = add(*ngrad, mul(C, L->in));
        *ncache = add(*ncache, cache_size(L, C));
    }
    if (write) net->grad_off[net->nlayers] = *ngrad;
    *ngrad = add(*ngrad, mul(C, net->layers[net->nlayers - 1].out));
    /* after the layer caches: room for the per-block partial sums of a row pass or the
     * partial products of a dense layer (split.inc), used within one pass at a time */
    size_t scratch = 0;
    for (size_t l = 0; l < net->nlayers; l++) {
        const mlpc_layer *L = &net->layers[l];
        size_t need = 0;
        if (L->kind == MLPC_LAYER_PRELU || L->kind == MLPC_LAYER_BATCHNORM ||
            L->kind == MLPC_LAYER_LAYERNORM)
            need = split_partials(C, L->out);
        if (L->kind == MLPC_LAYER_LINEAR) need = split_inner_room(C, L->in, L->out);
        scratch = need > scratch ? need : scratch;
    }
    if (write) net->scratch_off = *ncache;
    *ncache = add(*ncache, scratch);
}

int mlpc_net_reserve(mlpc_net *net, size_t N)
{
    if (N > INT_MAX) return MLPC_ENOMEM;   /* GEMM takes int sizes */
    if (N <= net->capacity && net->outputs) return MLPC_OK;
    size_t nout, ngrad, ncache;
    layout(net, N, 0, &nout, &ngrad, &ncache);
    mlpc_block *o = mlpc_block_new(mul(nout, net->elsize));
    mlpc_block *g = mlpc_block_new(mul(ngrad, net->elsize));
    mlpc_block *c = mlpc_block_new(mul(ncache, net->elsize));
    if (!o || !g || !c) {   /* the network keeps its old blocks and offsets */
        mlpc_block_release(o);
        mlpc_block_release(g);
        mlpc_block_release(c);
        return MLPC_ENOMEM;
    }
    layout(net, N, 1, &nout, &ngrad, &ncache);
    mlpc_block_release(net->outputs);
    mlpc_block_release(net->doutputs);
    mlpc_block_release(net->cache);
    net->outputs = o;
    net->doutputs = g;
    net->cache = c;
    net->capacity = N;
    net->forward_done = net->backward_done = net->loss_done = 0;
    net->mask_N = 0;
    return MLPC_OK;
}

#define DISPATCH(fn, ...) (net->dtype == MLPC_FLOAT32 ? fn##_f32(__VA_ARGS__) : fn##_f64(__VA_ARGS__))

/* Batch normalization in training mode needs two examples; checked before any layer runs, so
 * that a refused batch leaves dropout generators and running statistics as they were. */
static int batch_fits(const mlpc_net *net, size_t N)
{
    for (size_t l = 0; net->training && N < 2 && l < net->nlayers; l++)
        if (net->layers[l].kind == MLPC_LAYER_BATCHNORM) return 0;
    return 1;
}

static int labels_in_range(const int64_t *labels, size_t N, size_t K)
{
    for (size_t n = 0; labels && n < N; n++)
        if (labels[n] < 0 || (uint64_t)labels[n] >= K) return 0;
    return 1;
}

int mlpc_net_forward(mlpc_net *net, const void *x, size_t N)
{
    if (N == 0 || N > net->capacity) return MLPC_EINVAL;
    if (!batch_fits(net, N)) return MLPC_EBATCH;
    net->input = x;
    net->N = N;
    net->forward_done = net->backward_done = net->loss_done = 0;
    int rc = DISPATCH(forward, net);
    net->forward_done = rc == MLPC_OK;
    if (net->training) net->mask_N = rc == MLPC_OK ? N : 0;
    return rc;
}

int mlpc_net_backward(mlpc_net *net, const void *dy, int need_dx)
{
    if (!net->forward_done || !net->input || (!dy && !net->loss_done)) return MLPC_ESTATE;
    if (dy) {
        memcpy((char *)net->doutputs->data + net->grad_off[net->nlayers] * net->elsize, dy,
               net->N * net->layers[net->nlayers - 1].out * net->elsize);
        net->loss_done = 0;          /* the slot no longer holds a loss gradient */
    }
    int rc = DISPATCH(backward, net, need_dx, 1, NULL, NULL);
    net->backward_done = rc == MLPC_OK;
    return rc;
}

/* A loss kind, and labels or targets (one of them) as it takes them */
static int loss_args_ok(mlpc_loss loss, const int64_t *labels, const void *targets)
{
    return (unsigned)loss <= MLPC_MSE && !labels != !targets &&
           (!labels || loss == MLPC_SOFTMAX_CROSS_ENTROPY);
}

int mlpc_net_loss(mlpc_net *net, mlpc_loss loss, const int64_t *labels, const void *targets,
                  double *cost)
{
    if (!net->forward_done) return MLPC_ESTATE;
    if (!loss_args_ok(loss, labels, targets)) return MLPC_EINVAL;
    int rc = DISPATCH(loss, net, loss, labels, targets, cost);
    net->loss_done = rc == MLPC_OK;
    return rc;
}

double mlpc_net_penalty(const mlpc_net *net) { return net->l2 ? DISPATCH(penalty, net) : 0.0; }

void mlpc_net_zero_grad(mlpc_net *net)
{
    DISPATCH(par_elementwise, PASS_ZERO, net->grads, NULL, NULL, net->nparams);
}

double mlpc_net_grad_norm(const mlpc_net *net)
{
    return DISPATCH(par_grad_norm, net->grads, net->nparams, net->chunk_sums);
}

typedef struct {
    const mlpc_net *net;
    const mlpc_source *sources;
    size_t bins;
    double saturation;
    const void *before;
    double *stats;
    int64_t *counts;
} snapshot_job;

static void snapshot_source(void *ctx, size_t s)
{
    const snapshot_job *j = ctx;
    const mlpc_net *net = j->net;
    const mlpc_source *src = &j->sources[s];
    size_t bins = j->bins, k = 0;   /* k: the histograms of the sources before this one */
    for (size_t t = 0; t < s; t++) k += j->sources[t].lo < j->sources[t].hi;
    const void *x = NULL, *minus = NULL;
    size_t n = 0;
    if (src->kind == MLPC_SOURCE_OUTPUT || src->kind == MLPC_SOURCE_GRAD_OUTPUT) {
        if (src->kind == MLPC_SOURCE_OUTPUT ? net->forward_done : net->backward_done) {
            x = src->kind == MLPC_SOURCE_OUTPUT ? mlpc_net_output(net, src->index)
                                                : mlpc_net_grad_output(net, src->index);
            n = net->N * net->layers[src->index].out;
        }
    } else if (src->kind != MLPC_SOURCE_UPDATE || j->before) {
        const mlpc_tensor *T = &net->tensors[src->index];
        const char *block = src->kind == MLPC_SOURCE_GRAD ? net->grads : net->params;
        x = block + T->offset * net->elsize;
        if (src->kind == MLPC_SOURCE_UPDATE)
            minus = (const char *)j->before + T->offset * net->elsize;
        n = T->size;
    }
    double *st = j->stats + MLPC_STATS * s;
    int64_t *hist = src->lo < src->hi ? j->counts + (bins + 2) * k : NULL;
    if (!x) {
        for (int i = 0; i < MLPC_STATS; i++) st[i] = NAN;
        if (hist) memset(hist, 0, (bins + 2) * sizeof *hist);
        return;
    }
    if (minus)
        DISPATCH(mlpc_moments_of_difference, st, x, minus, n, j->saturation);
    else
        DISPATCH(mlpc_moments, st, x, n, j->saturation);
    if (hist) DISPATCH(mlpc_histogram, hist, x, n, bins, src->lo, src->hi);
}

int mlpc_net_snapshot(const mlpc_net *net, const mlpc_source *sources, size_t nsources,
                      size_t bins, double saturation, const void *before, double *stats,
                      int64_t *counts)
{
    for (size_t s = 0; s < nsources; s++) {
        const mlpc_source *src = &sources[s];
        int on_layer = src->kind == MLPC_SOURCE_OUTPUT || src->kind == MLPC_SOURCE_GRAD_OUTPUT;
        int on_tensor = src->kind == MLPC_SOURCE_PARAM || src->kind == MLPC_SOURCE_GRAD ||
                        src->kind == MLPC_SOURCE_UPDATE;
        if (!(on_layer && src->index < net->nlayers) && !(on_tensor && src->index < net->ntensors))
            return MLPC_EINVAL;
        /* a histogram needs bins that fit the kernel and a finite width (hi − lo = inf would
         * put every value in the last bin) */
        int histogram = src->lo < src->hi;
        if (histogram && src->kind == MLPC_SOURCE_UPDATE) return MLPC_EINVAL;   /* moments only */
        if (histogram && (bins == 0 || bins > INT32_MAX - 3 || !isfinite(src->hi - src->lo)))
            return MLPC_EINVAL;
    }
    if (isnan(saturation)) return MLPC_EINVAL;
    /* one block per source: each source's statistics are one kernel call, as on one thread */
    snapshot_job job = {net, sources, bins, saturation, before, stats, counts};
    double cost = 0;
    for (size_t s = 0; s < nsources; s++) {
        const mlpc_source *src = &sources[s];
        int on_layer = src->kind == MLPC_SOURCE_OUTPUT || src->kind == MLPC_SOURCE_GRAD_OUTPUT;
        cost += 0.5 * (double)(on_layer ? net->N * net->layers[src->index].out
                                        : net->tensors[src->index].size);
    }
    mlpc_pool_run(snapshot_source, &job, nsources, cost);
    return MLPC_OK;
}

void mlpc_net_optim_step(mlpc_net *net, void *state, mlpc_optim_config *cfg)
{
    DISPATCH(par_optim_step, net->params, net->grads, state, net->tensors, net->ntensors,
             net->nparams, cfg, net->chunk_sums);
}

/* Passes over memory per step: forward, one per layer (batch norm: mean, variance, x̂, affine);
 * the loss, one over the scores; backward, one per layer, whose first write to each parameter
 * gradient overwrites it (no zero_grad pass); the update, one pass over parameters, gradients
 * and optimizer state that also sums the gradient norm, run inside the backward pass chunk by
 * chunk while the gradients are in cache. Extra: the L2 penalty's gradient 2λW when l2 > 0 (a
 * pass over each weight matrix right after its gradient), and when clipping (the norm must be
 * known before the update, which then is a pass of its own): the norm, then by value a clamp,
 * by norm a rescale if the norm is above the limit, and with both the clamped gradient's norm
 * in between (one to four passes). */
int mlpc_net_train_step(mlpc_net *net, const void *x, size_t N, mlpc_loss loss,
                        const int64_t *labels, const void *targets, void *state,
                        mlpc_optim_config *cfg, double *cost)
{
    /* everything that can refuse the step before the forward pass moves dropout streams and
     * running statistics */
    if (N == 0 || N > net->capacity || !loss_args_ok(loss, labels, targets)) return MLPC_EINVAL;
    if (!batch_fits(net, N)) return MLPC_EBATCH;
    if (!labels_in_range(labels, N, net->layers[net->nlayers - 1].out)) return MLPC_ELABEL;
    int rc = mlpc_net_forward(net, x, N);
    if (!rc) rc = mlpc_net_loss(net, loss, labels, targets, cost);
    if (rc) {
        net->backward_done = 0;
        net->input = NULL;
        return rc;
    }
    *cost += mlpc_net_penalty(net);   /* of the weights before the update */
    /* Clipping needs the whole gradient before any update; otherwise the update runs inside
     * the backward pass, a chunk as soon as its gradients are final (net.inc). The backward
     * pass overwrites the gradients: no zero_grad. */
    int early = !(cfg->clip_value > 0 || cfg->clip_norm > 0);
    rc = DISPATCH(backward, net, 0, 0, early ? state : NULL, early ? cfg : NULL);
    net->backward_done = rc == MLPC_OK;
    /* x is lent for this call only: the outputs stay readable, a later backward needs a forward
     * pass of its own (the caller may change or free x once the call returns) */
    net->input = NULL;
    if (rc) return rc;
    if (!early) mlpc_net_optim_step(net, state, cfg);
    return MLPC_OK;
}

void *mlpc_net_output(const mlpc_net *net, size_t layer)
{
    return (char *)net->outputs->data + net->out_off[layer] * net->elsize;
}

void *mlpc_net_grad_output(const mlpc_net *net, size_t layer)
{
    return (char *)net->doutputs->data + net->grad_off[layer + 1] * net->elsize;
}

void *mlpc_net_input_grad(const mlpc_net *net) { return net->doutputs->data; }

void *mlpc_net_cache(const mlpc_net *net, size_t layer)
{
    return (char *)net->cache->data + net->cache_off[layer] * net->elsize;
}
