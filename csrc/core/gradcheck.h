/* Gradient checks: the cost of one batch at many perturbed points, in one call. */
#ifndef MLPC_GRADCHECK_H
#define MLPC_GRADCHECK_H
#include "net.h"

/* J = loss + penalty of the batch (x, targets) at θ + t·v, for directions v in one tensor
 * (tensor == ntensors: the input x itself) and steps t. Direction d is sparse over distinct
 * indices of the tensor: v[index[j]] = value[j] for j in [start[d], start[d + 1]);
 * start (ndirs + 1) runs from 0 to the number of entries. steps (ndirs, nsteps): the t of each
 * evaluation; costs (ndirs, nsteps) receives J there, *base J at θ.
 *
 * Kinks: the inputs of the layers that are not smooth at 0 (ReLU, leaky ReLU, PReLU, step, ELU,
 * SELU, softsign, the ReGLU gate) are compared with those of the unperturbed pass: crossed[d, k]
 * has bit 0 set when one of them changed side of 0 (x > 0 against x <= 0) and bit 1 when one
 * that was exactly 0 moved where f' jumps (not softsign, nor ELU with α = 1: the point itself
 * is on a kink), and radius[d, k] is the
 * linear estimate |t|·|x₀|/|x − x₀| of the step at which the nearest one approaching 0 would
 * reach it (infinity when none approaches).
 *
 * Every evaluation starts from the state at entry (dropout generators, running statistics), so
 * dropout layers draw the same masks in all of them; x and the tensor are restored bit for bit,
 * and the call ends with a pass at θ: the network is left as one cost of the batch leaves it.
 * x must be a private copy (it is written); needs mlpc_net_reserve(net, N). Allocates scratch
 * memory (the kinked inputs, one direction's values), freed before it returns. */
int mlpc_net_line_costs(mlpc_net *net, void *x /* (N, in) */, size_t N, mlpc_loss loss,
                        const int64_t *labels /* (N) or NULL */, const void *targets /* (N, K) or NULL */,
                        size_t tensor, const size_t *start /* (ndirs + 1) */, size_t ndirs,
                        const size_t *index, const double *value /* (start[ndirs]) each */,
                        const double *steps /* (ndirs, nsteps) */, size_t nsteps,
                        double *base, double *costs /* (ndirs, nsteps) */,
                        double *radius /* (ndirs, nsteps) */, uint8_t *crossed /* (ndirs, nsteps) */);
#endif
