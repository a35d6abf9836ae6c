/* mlpc core: the public C API.
 *
 * Pure C over raw buffers: no Python, no hidden global state. Every buffer argument carries its
 * shape in a comment, sizes are size_t, matrices are row-major. Kernels never allocate; the network
 * (net.c) owns all memory and says so beside each function.
 *
 * Each kernel exists for float (suffix _f32) and double (suffix _f64), compiled from one source:
 * see instantiate.h and kernels.inc.
 */
#ifndef MLPC_H
#define MLPC_H

#include <stddef.h>
#include <stdint.h>

/* ---- status codes: 0 ok, negative on failure ---- */
enum {
    MLPC_OK = 0,
    MLPC_ENOMEM = -1,   /* an allocation failed */
    MLPC_EINVAL = -2,   /* an argument is out of range */
    MLPC_ELABEL = -3,   /* a class label is outside [0, K) */
    MLPC_ESTATE = -4,   /* the call does not fit the object's state (e.g. backward before forward) */
    MLPC_EBATCH = -5,   /* batch normalization in training mode needs more than one example */
};
const char *mlpc_strerror(int code);

typedef enum { MLPC_FLOAT32 = 0, MLPC_FLOAT64 = 1 } mlpc_dtype;

/* ---- random numbers: xoshiro256**, seeded through splitmix64 ----
 * The state is a value the caller owns and passes in; the same seed gives the same stream on every
 * machine and thread count. */
typedef struct { uint64_t s[4]; } mlpc_rng;
void mlpc_rng_seed(mlpc_rng *rng, uint64_t seed);
uint64_t mlpc_rng_next(mlpc_rng *rng);
double mlpc_rng_uniform(mlpc_rng *rng);   /* in [0, 1), 53 random bits */
double mlpc_rng_normal(mlpc_rng *rng);    /* N(0, 1) by the Box-Muller transform (one draw per call) */

/* ---- activations: elementwise on any buffer of n values ---- */
typedef enum {
    MLPC_IDENTITY, MLPC_STEP, MLPC_SIGMOID, MLPC_TANH, MLPC_RELU, MLPC_LEAKY_RELU, MLPC_ELU,
    MLPC_SELU, MLPC_GELU, MLPC_GELU_TANH, MLPC_SOFTPLUS, MLPC_SILU, MLPC_SWISH, MLPC_SOFTSIGN,
    MLPC_NUM_ACTIVATIONS
} mlpc_activation;

/* ---- weight initializers: fill a (rows, cols) double matrix; fan_in = cols, fan_out = rows ---- */
typedef enum {
    MLPC_INIT_ZEROS, MLPC_INIT_CONSTANT, MLPC_INIT_NORMAL, MLPC_INIT_UNIFORM,
    MLPC_INIT_XAVIER_NORMAL, MLPC_INIT_XAVIER_UNIFORM, MLPC_INIT_HE_NORMAL, MLPC_INIT_HE_UNIFORM,
    MLPC_INIT_LECUN_NORMAL, MLPC_INIT_LECUN_UNIFORM, MLPC_INIT_ORTHOGONAL, MLPC_NUM_INITS
} mlpc_init;
/* value: CONSTANT's value, NORMAL's std, UNIFORM's bound a, ORTHOGONAL's gain; unused otherwise.
 * w: (rows, cols), written. */
int mlpc_init_fill(double *w, size_t rows, size_t cols, mlpc_init kind, double value, mlpc_rng *rng);

/* ---- losses ---- */
typedef enum { MLPC_SOFTMAX_CROSS_ENTROPY, MLPC_BINARY_CROSS_ENTROPY, MLPC_MSE } mlpc_loss;

/* ---- optimizers ---- */
typedef enum { MLPC_SGD, MLPC_ADAGRAD, MLPC_RMSPROP, MLPC_ADAM, MLPC_ADAMW } mlpc_optimizer;

/* Everything an update rule needs besides the buffers; the caller owns it and step counts in it. */
typedef struct {
    mlpc_optimizer kind;
    double lr, momentum, alpha, beta1, beta2, eps, weight_decay;
    int nesterov, amsgrad;
    int decay_all;          /* weight decay on every tensor, not only weight matrices */
    double clip_norm;       /* > 0: rescale the gradient to this global L2 norm before the update */
    double clip_value;      /* > 0: clamp every gradient entry to [-clip_value, clip_value] */
    uint64_t step;          /* updates done so far */
    double last_grad_norm;  /* global L2 norm of the gradient at the last step, before clipping */
    double bias1, bias2;    /* Adam's 1 − β₁ᵗ, 1 − β₂ᵗ for the current step (mlpc_optim_begin) */
} mlpc_optim_config;
/* Starts an update: counts the step and sets the step's bias corrections. */
void mlpc_optim_begin(mlpc_optim_config *cfg);
/* The optimizer's chunk: gradient norms and updates are summed in chunks of this many values,
 * so the split of the parameter block among threads does not change the result. */
#define MLPC_CHUNK ((size_t)4096)

/* Whether a dense layer's forward pass over N rows takes mlpc_linear_forward_rows instead of
 * GEMM (blas.c: up to 8 rows, by the OpenBLAS kernels in use and the product's size). */
int mlpc_forward_by_rows(size_t N, size_t n_in, size_t n_out);
/* A dense layer's backward pass over at most this many rows takes dx by one GEMV per row (and at
 * 1 row dW by mlpc's own outer product); larger ones GEMM (blas.c: 1 or 3, by the OpenBLAS
 * kernels). */
size_t mlpc_gemv_rows(void);

/* One parameter tensor inside a network's flat parameter block. */
typedef struct mlpc_tensor {
    size_t offset, size;   /* in elements, into the parameter (and gradient) block */
    size_t rows, cols;     /* a vector has rows == 1 */
    size_t layer;          /* index of the layer that owns it */
    int is_weight;         /* a weight matrix: the L2 penalty and default weight decay apply */
} mlpc_tensor;

/* ---- CRC-32C (Castagnoli) of n bytes, as TFRecord frames use it (crc32c.c) ---- */
uint32_t mlpc_crc32c(const unsigned char *data /* (n) */, size_t n);

/* The number of statistics mlpc_moments writes per buffer. */
enum { MLPC_STATS = 7 };

/* The typed kernels: mlpc_linear_forward_f32, ..._f64 and so on. */
#define MLPC_TEMPLATE "kernels.inc"
#include "instantiate.h"
#undef MLPC_TEMPLATE

#endif
