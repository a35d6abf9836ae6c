/* The network: an ordered list of layers and the memory they work in.
 *
 * Ownership: the network owns every buffer below. Parameters, their gradients and the buffers
 * (running statistics) are one block each, allocated once, so zero_grad is one memset and an
 * optimizer step is one flat loop. Layer outputs, their gradients and layer caches are one
 * reference-counted block each, sized for `capacity` examples; they grow (never shrink) when a
 * larger batch arrives, so a steady-state training step allocates nothing. The wrapper keeps a
 * reference on a block for as long as an array views it, so a grown network never frees memory an
 * array still shows. The input batch is the caller's: it must stay valid and unchanged from
 * forward to backward; train_step reads it during the call only. */
#ifndef MLPC_NET_H
#define MLPC_NET_H
#include "mlpc.h"

typedef enum {
    MLPC_LAYER_LINEAR, MLPC_LAYER_ACTIVATION, MLPC_LAYER_PRELU, MLPC_LAYER_GATED,
    MLPC_LAYER_BATCHNORM, MLPC_LAYER_LAYERNORM, MLPC_LAYER_DROPOUT, MLPC_LAYER_RESIDUAL,
    MLPC_NUM_LAYER_KINDS
} mlpc_layer_kind;

typedef struct {
    /* described by the caller */
    mlpc_layer_kind kind;
    size_t in, out;          /* widths of the layer's input and output rows */
    int option;              /* LINEAR: has a bias; PRELU: one shared slope; norms: affine γ, β;
                                ACTIVATION: learnable swish β */
    mlpc_activation act;     /* ACTIVATION, GATED */
    double alpha;            /* ACTIVATION: slope / alpha / beta; PRELU: initial slope;
                                norms: eps; DROPOUT: p */
    double momentum;         /* BATCHNORM: weight of the new batch in the running averages */
    size_t skip;             /* RESIDUAL: output = input + input of layer `skip` (skip < this) */
    uint64_t seed;           /* DROPOUT */
    /* set by mlpc_net_create */
    size_t tensor, ntensors; /* this layer's tensors: tensors[tensor .. tensor + ntensors) */
    size_t buffer;           /* BATCHNORM: offset of running mean, then running var, in buffers */
    mlpc_rng rng;            /* DROPOUT: the mask stream */
} mlpc_layer;

typedef struct { size_t refs; void *data; size_t bytes; } mlpc_block;
mlpc_block *mlpc_block_new(size_t bytes);            /* one reference, zeroed; NULL if out of memory */
void mlpc_block_retain(mlpc_block *b);
void mlpc_block_release(mlpc_block *b);              /* frees on the last release */

typedef struct mlpc_net {
    mlpc_dtype dtype;
    size_t elsize;
    size_t nlayers;
    mlpc_layer *layers;                  /* (nlayers) */
    size_t ntensors;
    mlpc_tensor *tensors;                /* (ntensors) */
    size_t nparams, nbuffers;
    void *params, *grads;                /* (nparams) each */
    double *chunk_sums;                  /* (nparams / MLPC_CHUNK, rounded up) the optimizer's
                                            per-chunk Σ g² (split.inc) */
    void *buffers;                       /* (nbuffers) */
    double l2;                           /* J = loss + l2 Σ‖W‖²_F over weight matrices */
    int training;
    size_t N, capacity;                  /* examples in the current batch, room for */
    const void *input;                   /* (N, layers[0].in), the caller's; NULL after train_step */
    mlpc_block *outputs, *doutputs, *cache;
    size_t *out_off;                     /* (nlayers) output of layer l in `outputs` */
    size_t *grad_off;                    /* (nlayers + 1) ∂J/∂(input of layer l) in `doutputs`;
                                            grad_off[nlayers] is ∂J/∂(network output) */
    size_t *cache_off;                   /* (nlayers) layer caches in `cache` */
    size_t scratch_off;                  /* in `cache`: room for one pass's per-block partial sums
                                            or partial products (split.inc) */
    int forward_done;                    /* outputs hold a forward pass of the current batch */
    int backward_done;                   /* output gradients hold its backward pass */
    int loss_done;                       /* ∂J/∂(network output) holds its loss gradient */
    size_t mask_N;                       /* rows of the dropout masks in `cache`: the batch of
                                            the last training-mode forward; 0 when there is none
                                            (an eval pass leaves them, a grown cache loses them) */
} mlpc_net;

/* Checks the layer list (widths chain, options in range) and allocates. Weights start at zero,
 * biases at zero, γ at one, PReLU slopes and learnable β at alpha: the caller initializes. */
int mlpc_net_create(mlpc_net **net, mlpc_dtype dtype, const mlpc_layer *layers, size_t nlayers);
void mlpc_net_free(mlpc_net *net);
/* Room for N examples; may replace the output blocks (the old ones are released). */
int mlpc_net_reserve(mlpc_net *net, size_t N);
/* x: (N, in) of the net's dtype; needs mlpc_net_reserve(net, N) first. */
int mlpc_net_forward(mlpc_net *net, const void *x, size_t N);
/* dy: (N, out), or NULL to use what mlpc_net_loss left in the output gradient (MLPC_ESTATE when
 * no loss was computed for the current batch, or the batch came from train_step). Fills every parameter gradient (+=, plus 2λW)
 * and, when need_dx, ∂J/∂x at mlpc_net_input_grad(). */
int mlpc_net_backward(mlpc_net *net, const void *dy, int need_dx);
/* The loss of the last forward pass against the targets (int labels or rows); writes its gradient
 * as the starting point of backward. *cost is the loss alone, without the penalty. */
int mlpc_net_loss(mlpc_net *net, mlpc_loss loss, const int64_t *labels, const void *targets,
                  double *cost);
double mlpc_net_penalty(const mlpc_net *net);        /* l2 Σ‖W‖²_F */
void mlpc_net_zero_grad(mlpc_net *net);
/* Zero the gradients, forward, loss, backward, update: one call per mini-batch. *cost includes
 * the penalty. state: the optimizer's buffers (kernels.inc, optimizers). A batch the step cannot
 * take (a label out of range, one example into batch normalization) is refused before anything
 * changes. x is read during the call only: afterwards the network holds no pointer to it. */
int mlpc_net_train_step(mlpc_net *net, const void *x, size_t N, mlpc_loss loss,
                        const int64_t *labels, const void *targets, void *state,
                        mlpc_optim_config *cfg, double *cost);
/* One optimizer update from the gradients as they are. */
void mlpc_net_optim_step(mlpc_net *net, void *state, mlpc_optim_config *cfg);
double mlpc_net_grad_norm(const mlpc_net *net);

/* What the recorder reads: a layer's output or ∂J/∂output for the current batch, or a parameter
 * tensor, its gradient, or its update W − W_before (the step just taken). lo < hi asks for a
 * histogram over [lo, hi] besides the moments (not for an update: moments only). */
typedef enum {
    MLPC_SOURCE_OUTPUT, MLPC_SOURCE_GRAD_OUTPUT, MLPC_SOURCE_PARAM, MLPC_SOURCE_GRAD,
    MLPC_SOURCE_UPDATE
} mlpc_source_kind;
typedef struct {
    mlpc_source_kind kind;
    size_t index;            /* a layer (OUTPUT, GRAD_OUTPUT) or a tensor (PARAM, GRAD, UPDATE) */
    double lo, hi;
} mlpc_source;
/* One snapshot in one call: stats[MLPC_STATS·s ...] = mlpc_moments of source s (|x| > saturation
 * counts as saturated); the k-th source with a histogram writes counts[k·(bins + 2) ...] by
 * mlpc_histogram (under- and overflow first and last). UPDATE sources read `before`, a copy of
 * the flat parameter block taken before the step (the caller's, not the network's). A layer's
 * output before a forward pass, its output gradient before the backward pass of the current
 * batch, and an update without `before` have NaN stats and zero counts. Every source is checked
 * before anything is written. */
int mlpc_net_snapshot(const mlpc_net *net, const mlpc_source *sources /* (nsources) */,
                      size_t nsources, size_t bins, double saturation,
                      const void *before /* (nparams) or NULL */,
                      double *stats /* (nsources, MLPC_STATS) */,
                      int64_t *counts /* (sources with a histogram, bins + 2) */);

/* Addresses inside the blocks, valid until the next mlpc_net_reserve. */
void *mlpc_net_output(const mlpc_net *net, size_t layer);       /* (N, layers[layer].out) */
void *mlpc_net_grad_output(const mlpc_net *net, size_t layer);  /* (N, layers[layer].out) */
void *mlpc_net_input_grad(const mlpc_net *net);                 /* (N, layers[0].in) */
void *mlpc_net_cache(const mlpc_net *net, size_t layer);        /* DROPOUT: the mask (N, out) */
size_t mlpc_optim_state_count(mlpc_optimizer kind);             /* buffers of P values it needs */
#endif
